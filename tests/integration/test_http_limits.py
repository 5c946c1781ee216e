"""Limits and hostile clients: oversized heads and bodies, malformed requests, slow clients,
the connection limit, and garbage. Each rejection must be answered (JSON, with the right
status) and close the connection; none may take the server down."""

import random
import time

import pytest

from conftest import IO_TIMEOUT, RawConn, build_request

SMALL_BODY = 1024  # --max-body-bytes where a small limit keeps the test quick


def assert_rejected(conn, status, code=None, timeout=IO_TIMEOUT):
    """The next response is `status` with a JSON error body, marked Connection: close, and the
    server then closes the connection."""
    r = conn.read_response(timeout=timeout)
    assert r.status == status, r
    assert r.header("content-type") == "application/json", r
    body = r.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    if code:
        assert body["code"] == code, body
    assert r.header("connection") == "close", r
    assert conn.wait_closed(timeout=timeout), "connection left open after a rejection"
    return r


# ---- request head ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["long_header", "long_target", "many_medium_headers"])
def test_head_over_16k_is_431_and_closes(server, shape):
    if shape == "long_header":
        req = build_request("GET", "/health", {"X-Big": "a" * 17000})
    elif shape == "long_target":
        req = build_request("GET", "/health?q=" + "a" * 17000)
    else:
        req = build_request("GET", "/health", {f"X-H{i}": "b" * 400 for i in range(45)})
    with server.raw() as c:
        c.send(req)
        assert_rejected(c, 431, "headers_too_large")
    assert server.health_ok()


def test_head_just_under_16k_is_accepted(server):
    with server.raw() as c:
        r = c.request("GET", "/health", {"X-Big": "a" * 15000})
        assert r.status == 200, r


def test_too_many_headers_is_431(server):
    with server.raw() as c:
        # Host + 99 = 100 headers: the default limit, accepted.
        r = c.request("GET", "/health", [(f"X-H{i}", "v") for i in range(99)])
        assert r.status == 200, r
        # Host + 100 = 101: one too many.
        c.send(build_request("GET", "/health", [(f"X-H{i}", "v") for i in range(100)]))
        assert_rejected(c, 431, "headers_too_large")


def test_malformed_request_line_is_400_and_closes(server):
    for bad in [b"GARBAGE\r\n\r\n", b"GET /health HTTP/9.x\r\n\r\n", b"GET\r\n\r\n",
                b"GET /health HTP/1.1\r\nHost: x\r\n\r\n"]:
        with server.raw() as c:
            c.send(bad)
            assert_rejected(c, 400, "bad_request")
    assert server.health_ok()


def test_malformed_header_line_is_400(server):
    with server.raw() as c:
        c.send(b"GET /health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n")
        assert_rejected(c, 400, "bad_request")


def test_nul_in_path_is_rejected_without_crash(server):
    with server.raw() as c:
        c.send(b"GET /hea\x00lth HTTP/1.1\r\nHost: x\r\n\r\n")
        assert_rejected(c, 400)
    assert server.health_ok()


# ---- request body ----------------------------------------------------------------------------


def test_content_length_over_1mib_is_413_before_the_body(server):
    with server.raw() as c:
        # Only the head: the answer must not wait for a body nobody will send.
        c.send(build_request("POST", "/health", {"Content-Length": str(1024 * 1024 + 1)}))
        assert_rejected(c, 413, "body_too_large")
    assert server.health_ok()


def test_rejected_client_still_sending_is_not_reset(server):
    """Lingering close: after a 413 the server sends FIN but goes on reading (and dropping)
    what the client still sends, so a client that writes its body before reading gets its
    answer instead of a connection reset. Closing at once makes these sends fail with EPIPE or
    ECONNRESET."""
    with server.raw() as c:
        c.send(build_request("POST", "/health", {"Content-Length": str(8 * 1024 * 1024)}))
        assert_rejected(c, 413, "body_too_large")  # the answer, then FIN
        chunk = b"x" * 65536
        for _ in range(32):  # 2 MiB more, well within the linger budget
            c.send(chunk)
    assert server.health_ok()


def test_content_length_at_the_limit_is_read(reactor):
    srv = reactor(flags=["--max-body-bytes", SMALL_BODY])
    with srv.raw() as c:
        r = c.request("POST", "/health", body=b"x" * SMALL_BODY)
        assert r.status == 405, r  # the whole body was read; the route just has no POST
        assert c.request("GET", "/health").status == 200
        c.send(build_request("POST", "/health", {"Content-Length": str(SMALL_BODY + 1)}))
        assert_rejected(c, 413, "body_too_large")


def test_expect_100_continue(server):
    with server.raw() as c:
        c.send(build_request("POST", "/health", {"Content-Length": "5",
                                                 "Expect": "100-continue"}))
        r = c.read_response()
        assert r.status == 100, r
        c.send(b"hello")
        r = c.read_response()
        assert r.status == 405, r
        assert c.request("GET", "/health").status == 200


def chunked(*parts):
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_chunked_body_growing_past_limit_is_413(reactor):
    srv = reactor(flags=["--max-body-bytes", SMALL_BODY])
    with srv.raw() as c:
        c.send(build_request("POST", "/health", {"Transfer-Encoding": "chunked"}))
        c.send(b"%x\r\n%s\r\n" % (600, b"a" * 600))
        assert c.nothing_received(0.2), "answered before the body passed the limit"
        c.send(b"%x\r\n%s\r\n" % (600, b"b" * 600))
        assert_rejected(c, 413, "body_too_large")
    assert srv.health_ok()


def test_chunked_body_is_read_and_connection_stays_usable(server):
    with server.raw() as c:
        c.send(build_request("POST", "/health", {"Transfer-Encoding": "chunked",
                                                 "X-Request-Id": "chunky"}))
        c.send(b"5\r\nhello\r\n")
        assert c.nothing_received(0.3), "answered before the chunked body was complete"
        c.send(b"6\r\n world\r\n0\r\n\r\n")
        r = c.read_response()
        assert r.status == 405, r
        assert r.header("x-request-id") == "chunky"
        assert r.header("connection") is None, r
        r = c.request("GET", "/health")
        assert r.status == 200, r
        assert r.body == b'{"status":"ok"}'


def test_chunked_trailers_are_accepted(server):
    with server.raw() as c:
        c.send(build_request("POST", "/health", {"Transfer-Encoding": "chunked",
                                                 "X-Request-Id": "trailing"})
               + b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other: " + b"t" * 2000
               + b"\r\n\r\n")
        r = c.read_response()
        assert r.status == 405, r
        assert r.header("x-request-id") == "trailing"
        r = c.request("GET", "/health", {"X-Request-Id": "after"})
        assert r.status == 200 and r.header("x-request-id") == "after", r
    assert server.health_ok()


@pytest.mark.parametrize("body", [b"zz\r\nhello\r\n0\r\n\r\n", b"-1\r\nx\r\n0\r\n\r\n",
                                  b"\r\nhello\r\n0\r\n\r\n", b"5\r\nhello\r\n0\r\nX\r\n"])
def test_invalid_chunk_encoding_is_400(server, body):
    with server.raw() as c:
        c.send(build_request("POST", "/health", {"Transfer-Encoding": "chunked"}) + body)
        assert_rejected(c, 400, "bad_request")
    assert server.health_ok()


# ---- slow clients ----------------------------------------------------------------------------


def test_stalled_headers_get_408_after_header_timeout(reactor):
    srv = reactor(flags=["--header-timeout", 1])
    with srv.raw() as c:
        t0 = time.monotonic()
        c.send(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        r = assert_rejected(c, 408, "request_timeout", timeout=5)
        took = time.monotonic() - t0
        assert 0.8 <= took < 4, f"408 after {took:.2f} s with --header-timeout 1"
        assert r.header("x-request-id")
    assert srv.health_ok()


def test_stalled_body_gets_408_after_body_timeout(reactor):
    srv = reactor(flags=["--body-timeout", 1])
    with srv.raw() as c:
        t0 = time.monotonic()
        c.send(build_request("POST", "/health", {"Content-Length": "100"}) + b"x" * 10)
        assert_rejected(c, 408, "request_timeout", timeout=5)
        took = time.monotonic() - t0
        assert 0.8 <= took < 4, f"408 after {took:.2f} s with --body-timeout 1"
    assert srv.health_ok()


def test_idle_keep_alive_connection_is_closed_after_idle_timeout(reactor):
    srv = reactor(flags=["--idle-timeout", 1])
    with srv.raw() as c:
        assert c.request("GET", "/health").status == 200
        t0 = time.monotonic()
        assert c.wait_closed(timeout=5), "idle connection still open"
        took = time.monotonic() - t0
        assert c.buf == b"", "the server wrote something on an idle connection"
        assert 0.8 <= took < 4, f"closed after {took:.2f} s with --idle-timeout 1"
    assert srv.health_ok()


def test_activity_restarts_the_idle_timer(reactor):
    srv = reactor(flags=["--idle-timeout", 1])
    with srv.raw() as c:
        # Requests every 0.4 s for 2 s: never idle for a whole second.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            assert c.request("GET", "/health").status == 200
            time.sleep(0.4)


# ---- connection limit ------------------------------------------------------------------------


def accepted_conn(srv, timeout=5):
    """A connection the server has accepted and answered 200 on, retrying while it is full."""
    deadline = time.monotonic() + timeout
    while True:
        c = srv.raw()
        r = c.request("GET", "/health")
        if r.status == 200:
            return c
        c.close()
        assert r.status == 503, r
        assert time.monotonic() < deadline, "the server stayed full"
        time.sleep(0.05)


def test_connection_limit_answers_503_and_keeps_the_others(reactor):
    srv = reactor(flags=["--max-connections", 2])
    # A 200 on each proves both were accepted before the third connects. (The startup probe's
    # connection may still count for a moment after it closed, hence the retries.)
    c1 = accepted_conn(srv)
    c2 = accepted_conn(srv)
    with c1, c2:
        with srv.raw() as c3:
            assert_rejected(c3, 503, "too_many_connections")
        assert c1.request("GET", "/health").status == 200
        assert c2.request("GET", "/health").status == 200
        c1.close()
        # Once the server has seen c1 go, there is room again.
        accepted_conn(srv).close()
        assert c2.request("GET", "/health").status == 200
    r = srv.get("/metrics")
    assert "reactor_http_connections_rejected_total 0\n" not in r.text, r.text


# ---- garbage ---------------------------------------------------------------------------------


def test_random_garbage_does_not_crash(server):
    rng = random.Random(1234)  # fixed seed: the same bytes every run
    for i in range(30):
        data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4096)))
        with server.raw(timeout=5) as c:
            try:
                c.send(data)
                c.sock.shutdown(1)  # SHUT_WR: the server sees EOF after the garbage
            except OSError:
                pass
            # Answered (400) and closed, or closed without an answer: either way closed.
            assert c.wait_closed(timeout=5), f"connection {i} left open"
        if i % 10 == 9:
            assert server.health_ok()
    # Garbage after a valid request on the same connection.
    with server.raw() as c:
        c.send(build_request("GET", "/health") + b"\x00\xff\x13\x37garbage\r\n\r\n")
        assert c.read_response().status == 200
        assert_rejected(c, 400, "bad_request")
    assert server.health_ok()


def test_many_abrupt_disconnects_do_not_crash(server):
    for i in range(20):
        c = RawConn(server.port)
        # Half a request, then gone.
        c.send(build_request("POST", "/health", {"Content-Length": "50"}) + b"x" * (i % 7))
        c.close()
    assert server.health_ok()
