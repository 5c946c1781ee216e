"""The HTTP basics a client relies on: the operational routes, error bodies, request ids,
keep-alive, pipelining, HTTP/1.0, and the JSON logs on stderr."""

import re
import subprocess
import threading
import time

import requests

from conftest import build_request

PROMTOOL = "/usr/bin/promtool"
HEX32 = re.compile(r"^[0-9a-f]{32}$")


def test_health_answers_ok(server):
    r = server.get("/health")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {"status": "ok"}


def test_ready_answers_ready(server):
    r = server.get("/ready")
    assert r.status_code == 200
    assert r.json()["status"] == "ready"


def test_metrics_pass_promtool_and_cover_http_and_process(server):
    assert server.get("/health").status_code == 200
    r = server.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=r.content,
                           capture_output=True, timeout=30)
    assert check.returncode == 0, (
        f"promtool rejected /metrics:\n{check.stdout.decode()}{check.stderr.decode()}\n"
        f"--- body ---\n{r.text}")

    text = r.text
    health = [ln for ln in text.splitlines()
              if ln.startswith("reactor_http_requests_total{") and 'route="/health"' in ln]
    assert health, f"no reactor_http_requests_total for /health:\n{text}"
    ok = [ln for ln in health if 'status="200"' in ln]
    assert ok and float(ok[0].rsplit(" ", 1)[1]) >= 1, health
    assert re.search(r'^reactor_http_request_duration_seconds_bucket\{[^}]*le="\+Inf"[^}]*\} \d+',
                     text, re.M), text
    assert re.search(r'^reactor_http_request_duration_seconds_bucket\{[^}]*le="0\.[0-9]+"', text,
                     re.M), text
    assert re.search(r"^reactor_http_connections \d+$", text, re.M), text
    assert re.search(r"^process_cpu_seconds_total [0-9.e+-]+$", text, re.M), text
    m = re.search(r"^process_resident_memory_bytes ([0-9.e+]+)$", text, re.M)
    assert m and float(m.group(1)) > 0, text


def test_metrics_count_requests(server):
    def health_200():
        text = server.get("/metrics").text
        m = re.search(r'^reactor_http_requests_total\{[^}]*route="/health"[^}]*status="200"[^}]*\}'
                      r" (\d+)$", text, re.M)
        return int(m.group(1)) if m else 0

    before = health_200()
    for _ in range(5):
        assert server.get("/health").status_code == 200
    assert health_200() == before + 5


def test_request_id_generated_on_every_response(server):
    seen = set()
    with server.raw() as c:
        for method, path, status in [("GET", "/health", 200), ("GET", "/nope", 404),
                                     ("POST", "/health", 405), ("GET", "/ready", 200),
                                     ("HEAD", "/health", 200), ("GET", "/metrics", 200)]:
            r = c.request(method, path)
            assert r.status == status, r
            rid = r.header("x-request-id")
            assert rid and HEX32.match(rid), r
            seen.add(rid)
    with server.raw() as c:
        c.send(b"BROKEN\r\n\r\n")
        r = c.read_response()
        assert r.status == 400
        assert HEX32.match(r.header("x-request-id") or ""), r
        seen.add(r.header("x-request-id"))
    assert len(seen) == 7, "request ids repeat"


def test_request_id_echoed_when_given(server):
    r = server.get("/health", headers={"X-Request-Id": "client-abc_123.4:5"})
    assert r.headers["x-request-id"] == "client-abc_123.4:5"
    longest = "a" * 128
    r = server.get("/nope", headers={"x-request-id": longest})
    assert r.status_code == 404
    assert r.headers["x-request-id"] == longest


def test_request_id_replaced_when_unusable(server):
    for bad in ["has space", "a" * 129, "semi;colon", "quote\"d"]:
        r = server.get("/health", headers={"X-Request-Id": bad})
        assert r.status_code == 200
        assert HEX32.match(r.headers["x-request-id"]), (bad, r.headers)


def test_unknown_route_is_json_404(server):
    r = server.get("/no/such/route")
    assert r.status_code == 404
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert body["code"] == "not_found"
    assert isinstance(body["error"], str) and body["error"]


def test_wrong_method_is_405_with_allow(server):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = requests.request(method, server.url("/health"), timeout=5)
        assert r.status_code == 405, method
        assert r.headers["Allow"] == "GET, HEAD"
        assert r.json()["code"] == "method_not_allowed"


def test_head_has_length_and_no_body(server):
    with server.raw() as c:
        # HEAD then GET in one write: if HEAD sent a body, it would sit where the GET's status
        # line should be.
        c.send(build_request("HEAD", "/health") + build_request("GET", "/health"))
        head = c.read_response(head=True)
        assert head.status == 200
        assert head.header("content-length") == "15"
        assert head.header("content-type") == "application/json"
        assert c.buf == b"" or c.buf.startswith(b"HTTP/1.1 "), c.buf
        get = c.read_response()
        assert get.status == 200
        assert get.body == b'{"status":"ok"}'


def test_head_error_responses_have_no_body(server):
    with server.raw() as c:
        c.send(build_request("HEAD", "/nope") + build_request("HEAD", "/metrics/x")
               + build_request("GET", "/health"))
        for _ in range(2):
            r = c.read_response(head=True)
            assert r.status == 404, r
            assert int(r.header("content-length")) > 0
        assert c.buf == b"" or c.buf.startswith(b"HTTP/1.1 "), c.buf
        get = c.read_response()
        assert get.status == 200 and get.body == b'{"status":"ok"}', get


def test_keep_alive_serves_100_requests_on_one_socket(server):
    with server.raw() as c:
        for i in range(100):
            r = c.request("GET", "/health", {"X-Request-Id": f"ka-{i}"})
            assert r.status == 200, (i, r)
            assert r.header("x-request-id") == f"ka-{i}"
            assert r.header("connection") is None, r
            assert r.body == b'{"status":"ok"}'
        assert not c.wait_closed(timeout=0.05)


def test_pipelined_requests_answered_in_order(server):
    paths = ["/health", "/ready", "/missing", "/metrics"]
    expected = {"/health": 200, "/ready": 200, "/missing": 404, "/metrics": 200}
    reqs = [(f"pipe-{i}", paths[i % len(paths)]) for i in range(20)]
    with server.raw() as c:
        c.send(b"".join(build_request("GET", p, {"X-Request-Id": rid}) for rid, p in reqs))
        for rid, p in reqs:
            r = c.read_response()
            assert r.header("x-request-id") == rid, (rid, r)
            assert r.status == expected[p], (rid, r)
        # Still usable afterwards.
        assert c.request("GET", "/health").status == 200


def test_more_pipelined_requests_than_the_in_flight_limit(reactor):
    srv = reactor(flags=["--max-pipelined", 4])
    with srv.raw() as c:
        c.send(b"".join(build_request("GET", "/health", {"X-Request-Id": f"deep-{i}"})
                        for i in range(200)))
        for i in range(200):
            r = c.read_response()
            assert r.status == 200 and r.header("x-request-id") == f"deep-{i}", (i, r)


def test_client_that_reads_slowly_gets_every_response(server):
    # 2000 /metrics responses of a few KiB each (several MiB) to a client with a small
    # receive buffer: more than the socket buffers hold, so the server has to stop reading
    # while its writes wait, and resume when the client reads.
    n = 2000
    payload = b"".join(build_request("GET", "/metrics", {"X-Request-Id": f"slow-{i}"})
                       for i in range(n))
    with server.raw(timeout=20, rcvbuf=16384) as c:
        errors = []

        def sender():
            try:
                c.sock.sendall(payload)
            except OSError as e:
                errors.append(e)

        t = threading.Thread(target=sender, daemon=True)
        t.start()
        time.sleep(0.3)  # let the buffers fill before reading anything
        for i in range(n):
            r = c.read_response(timeout=20)
            assert r.status == 200 and r.header("x-request-id") == f"slow-{i}", (i, r)
            assert r.body.endswith(b"\n")
        t.join(timeout=10)
        assert not t.is_alive() and not errors, errors
    assert server.health_ok()


def test_http10_closes_by_default(server):
    with server.raw() as c:
        r = c.request("GET", "/health", version="HTTP/1.0")
        assert r.status == 200
        assert r.header("connection") == "close"
        assert r.body == b'{"status":"ok"}'
        assert c.wait_closed(timeout=5), "HTTP/1.0 connection left open"


def test_http10_keep_alive_when_asked(server):
    with server.raw() as c:
        for i in range(3):
            r = c.request("GET", "/health", {"Connection": "keep-alive"}, version="HTTP/1.0")
            assert r.status == 200, (i, r)
            assert r.header("connection") == "keep-alive", r
        r = c.request("GET", "/health", version="HTTP/1.0")
        assert r.header("connection") == "close"
        assert c.wait_closed(timeout=5)


def test_http11_connection_close_is_honoured(server):
    with server.raw() as c:
        r = c.request("GET", "/health", {"Connection": "close"})
        assert r.status == 200
        assert r.header("connection") == "close"
        assert c.wait_closed(timeout=5)


def test_logs_are_json_with_an_access_line_per_request(reactor):
    srv = reactor()
    sent = [("GET", "/health", 200), ("GET", "/nowhere", 404), ("POST", "/health", 405),
            ("HEAD", "/health", 200), ("GET", "/ready", 200)]
    with srv.raw() as c:
        for i, (method, path, status) in enumerate(sent):
            r = c.request(method, path, {"X-Request-Id": f"log-{i}"})
            assert r.status == status
    srv.stop()

    lines = srv.logs()
    assert lines, "nothing logged"
    for obj in lines:
        for key in ("time", "level", "msg"):
            assert key in obj, f"log line without {key}: {obj}"
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", obj["time"]), obj
        assert obj["level"] in ("debug", "info", "warn", "error"), obj
    access = {o["request_id"]: o for o in lines if o["msg"] == "request" and "request_id" in o}
    for i, (method, path, status) in enumerate(sent):
        line = access.get(f"log-{i}")
        assert line is not None, f"no access log line for log-{i}:\n{srv.stderr()}"
        assert line["method"] == method
        assert line["path"] == path
        assert line["status"] == status
        assert line["level"] == "info"
    msgs = [o["msg"] for o in lines]
    assert "listening" in msgs and "stopped" in msgs, msgs
