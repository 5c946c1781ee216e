"""reactor bench, the load generator: against the real server in health mode, and in events
and batch modes against a small Python peer that checks every request the way ForgeEngine
checks events (HMAC-SHA256 over "<ts>.<nonce>.<raw body>" with the app's secret, a nonce
never reused, the app id and key) — so the signatures the generator makes are proven right
independently of the server — and in events and batch modes against the real server too.
Get mode (GET of given paths, {USER} filled in per request) runs against the real server on
public and keyed routes, and against a recording peer that shows what was sent."""

import hashlib
import hmac
import json
import os
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import REACTOR_BIN as BIN

SECRET = "bench-secret-0123"
APP = "bench-app"
KEY = "fge_" + "ab" * 24


def run_bench(*args, timeout=60):
    p = subprocess.run([BIN, "bench", *args], capture_output=True, text=True, timeout=timeout)
    return p


def last_json(p):
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    assert lines, p.stdout + p.stderr
    return json.loads(lines[-1])


def test_health_mode_against_the_server(server):
    p = run_bench("--url", f"http://127.0.0.1:{server.port}", "--mode", "health",
                  "--connections", "4", "--duration", "1", "--json")
    assert p.returncode == 0, p.stderr
    r = last_json(p)
    for field in ("events_per_sec", "requests_per_sec", "p50_ms", "p99_ms", "errors",
                  "connections", "duration_s"):
        assert field in r, r
    assert r["mode"] == "health"
    assert r["connections"] == 4
    assert r["errors"] == 0, r
    assert r["requests"] > 100, r
    assert r["requests_per_sec"] == r["events_per_sec"]
    assert 0.9 <= r["duration_s"] <= 2.0, r
    assert 0 < r["p50_ms"] <= r["p99_ms"] <= r["max_ms"], r
    assert "requests:" in p.stdout and "latency:" in p.stdout


@pytest.mark.parametrize("mode,extra", [("events", []), ("events", ["--pipeline", "4"]),
                                        ("batch", ["--batch-size", "50"])])
def test_signed_modes_against_the_server(reactor, mode, extra):
    """Every event the generator counts was accepted, and the server applied at least that
    many (answers still in flight when the run ends are applied but not counted)."""
    from events_helpers import metrics
    from tenants import Api, server_flags, unique

    s = reactor(flags=server_flags())
    app, key = Api(s).create_app(unique("bench"), webhookSecret=SECRET,
                                 settings={"rateLimit": {"points": 10**9, "windowSeconds": 1}})
    p = run_bench("--url", f"http://127.0.0.1:{s.port}", "--mode", mode, "--app", app["id"],
                  "--key", key, "--secret", SECRET, "--connections", "4", "--duration", "1",
                  "--users", "50", "--json", *extra)
    assert p.returncode == 0, p.stderr
    r = last_json(p)
    assert r["errors"] == 0, r
    assert r["events_per_sec"] > 0, r
    assert r["pipeline"] == (4 if "--pipeline" in extra else 1)
    processed = metrics(s).get('reactor_events_processed_total{status="processed"}', 0)
    assert processed >= r["events_per_sec"] * r["duration_s"] * 0.99, (processed, r)


class Verifier(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    nonces = set()
    problems = []
    events = 0
    users = set()

    def log_message(self, *args):
        pass

    def fail(self, why):
        with Verifier.lock:
            Verifier.problems.append(why)
        self.answer(401, {"error": why})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        ts, nonce = self.headers["x-signature-timestamp"], self.headers["x-signature-nonce"]
        sig = self.headers["x-signature"]
        if self.headers["x-api-key"] != KEY:
            return self.fail("wrong key")
        if abs(int(ts) - time.time()) > 300:
            return self.fail("stale timestamp")
        want = hmac.new(SECRET.encode(), f"{ts}.{nonce}.".encode() + raw,
                        hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig):
            return self.fail("bad signature")
        with Verifier.lock:
            if nonce in Verifier.nonces:
                return self.fail("nonce reused")
            Verifier.nonces.add(nonce)
        body = json.loads(raw)
        events = body["events"] if self.path == "/events/batch" else [body]
        if self.path == "/events/batch" and len(events) != int(os.environ.get("BATCH", "0")):
            return self.fail("batch size")
        for e in events:
            if e["appId"] != APP or not e["userId"] or e["eventType"] != "bench_event":
                return self.fail("event body")
        with Verifier.lock:
            Verifier.events += len(events)
            Verifier.users.update(e["userId"] for e in events)
        self.answer(202, {"status": "accepted"})


@pytest.fixture
def verifier():
    Verifier.nonces, Verifier.problems, Verifier.events, Verifier.users = set(), [], 0, set()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Verifier)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("mode,batch", [("events", 1), ("batch", 25)])
def test_signed_modes_are_accepted_by_a_verifying_peer(verifier, mode, batch):
    os.environ["BATCH"] = str(batch)
    p = run_bench("--url", f"http://127.0.0.1:{verifier.server_address[1]}", "--mode", mode,
                  "--app", APP, "--key", KEY, "--secret", SECRET, "--users", "50",
                  "--batch-size", str(batch), "--connections", "3", "--duration", "1", "--json")
    assert p.returncode == 0, p.stderr
    r = last_json(p)
    assert not Verifier.problems, Verifier.problems[:5]
    assert r["errors"] == 0, r
    assert r["requests"] > 5, r
    # Every answered request carried `batch` events; what the peer counted is at least that.
    assert Verifier.events >= r["requests"] * batch
    assert r["events_per_sec"] > 0
    assert 1 < len(Verifier.users) <= 50


def test_a_wrong_secret_is_visible_as_errors(verifier):
    p = run_bench("--url", f"http://127.0.0.1:{verifier.server_address[1]}", "--mode", "events",
                  "--app", APP, "--key", KEY, "--secret", "not-the-secret", "--connections", "1",
                  "--duration", "1", "--json")
    assert p.returncode == 0, p.stderr
    r = last_json(p)
    assert r["errors"] == r["requests"] > 0, r
    assert r["events_per_sec"] == 0


# ---- get mode --------------------------------------------------------------------------------


def test_get_mode_on_health_reports_like_health_mode(server):
    p = run_bench("--url", f"http://127.0.0.1:{server.port}", "--mode", "get", "--path",
                  "/health", "--connections", "4", "--duration", "1", "--json")
    assert p.returncode == 0, p.stderr
    r = last_json(p)
    assert r["mode"] == "get"
    assert r["errors"] == 0, r
    assert r["requests"] > 100, r
    assert r["requests_per_sec"] == r["events_per_sec"]
    assert 0.9 <= r["duration_s"] <= 2.0, r
    assert 0 < r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] <= r["max_ms"], r
    assert "requests:" in p.stdout and "latency:" in p.stdout and "errors: 0" in p.stdout
    assert "events accepted" not in p.stdout


def test_get_mode_on_a_keyed_route_with_user_ids_as_events_name_them(reactor):
    """GET /users/{USER} and /users/{USER}/profile with an ADMIN key: every user id the
    generator draws exists (they were created under events mode's names), so all answer
    200; with more --users than exist, some answer 404 and are counted as errors."""
    from tenants import Api, server_flags

    s = reactor(flags=server_flags())
    api = Api(s)
    _, admin = api.create_app()
    for n in range(5):
        api.create_user(admin, f"bench-user-{n}")
    url = f"http://127.0.0.1:{s.port}"
    p = run_bench("--url", url, "--mode", "get", "--path", "/users/{USER}", "--path",
                  "/users/{USER}/profile", "--key", admin, "--users", "5", "--connections", "4",
                  "--duration", "1", "--json")
    assert p.returncode == 0, p.stderr
    r = last_json(p)
    assert r["errors"] == 0, r
    assert r["requests"] > 50, r

    p = run_bench("--url", url, "--mode", "get", "--path", "/users/{USER}", "--key", admin,
                  "--users", "10", "--connections", "2", "--duration", "1", "--json")
    assert p.returncode == 0, p.stderr
    r = last_json(p)
    # Half the ids do not exist: about half the answers are 404.
    assert r["requests"] > 50, r
    assert 0.2 * r["requests"] < r["non_2xx"] < 0.8 * r["requests"], r
    assert r["errors"] == r["non_2xx"] and r["connection_errors"] == 0, r


@pytest.mark.parametrize("path,key", [("/no-such-route", None),
                                      ("/users/bench-user-0", "fge_" + "00" * 24),
                                      ("/users/bench-user-0", None)])
def test_get_mode_counts_non_2xx_as_errors(reactor, path, key):
    from tenants import Api, server_flags

    s = reactor(flags=server_flags())
    api = Api(s)
    _, admin = api.create_app()
    api.create_user(admin, "bench-user-0")
    assert api.get("/users/bench-user-0", admin).status_code == 200
    p = run_bench("--url", f"http://127.0.0.1:{s.port}", "--mode", "get", "--path", path,
                  *(["--key", key] if key else []), "--connections", "2", "--duration", "1",
                  "--json")
    assert p.returncode == 0, p.stderr  # errors are reported, not fatal
    r = last_json(p)
    assert r["requests"] > 10, r
    assert r["errors"] == r["non_2xx"] == r["requests"], r
    assert f"errors: {r['errors']}" in p.stdout


class Recorder(BaseHTTPRequestHandler):
    """Answers 200 to every GET and records (path, x-api-key) per connection."""
    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    seen = {}  # client port -> [(path, key)]

    def log_message(self, *args):
        pass

    def do_GET(self):
        with Recorder.lock:
            Recorder.seen.setdefault(self.client_address[1], []).append(
                (self.path, self.headers.get("x-api-key"), self.headers.get("Host")))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture
def recorder():
    Recorder.seen = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_get_mode_sends_paths_in_turn_with_users_filled_in(recorder):
    paths = ["/a?x=1", "/b/{USER}", "/c/{USER}/d/{USER}?e=%20f"]
    port = recorder.server_address[1]
    p = run_bench("--url", f"http://127.0.0.1:{port}", "--mode", "get",
                  *[a for path in paths for a in ("--path", path)], "--key", KEY,
                  "--users", "7", "--connections", "2", "--duration", "1", "--json")
    assert p.returncode == 0, p.stderr
    r = last_json(p)
    assert r["errors"] == 0 and r["requests"] > 20, r
    with Recorder.lock:
        conns = {k: list(v) for k, v in Recorder.seen.items()}
    assert len(conns) == 2, conns.keys()
    users = set()
    patterns = [re.compile(r"^/a\?x=1$"), re.compile(r"^/b/(bench-user-\d+)$"),
                re.compile(r"^/c/(bench-user-\d+)/d/(bench-user-\d+)\?e=%20f$")]
    starts = set()
    for seen in conns.values():
        assert len(seen) > 6
        first = next(i for i, pat in enumerate(patterns) if pat.match(seen[0][0]))
        starts.add(first)
        for i, (path, key, host) in enumerate(seen):
            assert key == KEY and host == "127.0.0.1", (path, key, host)
            m = patterns[(first + i) % 3].match(path)  # round robin on each connection
            assert m, (i, path)
            if m.groups():
                assert len(set(m.groups())) == 1, path  # one user per request
                users.add(m.group(1))
    assert len(starts) == 2  # the connections start at different paths
    assert 1 < len(users) <= 7, users
    assert all(int(u.rsplit("-", 1)[1]) < 7 for u in users), users


def test_get_mode_without_key_sends_none(recorder):
    p = run_bench("--url", f"http://127.0.0.1:{recorder.server_address[1]}", "--mode", "get",
                  "--path", "/x", "--connections", "1", "--duration", "1", "--json")
    assert p.returncode == 0, p.stderr
    with Recorder.lock:
        seen = [e for v in Recorder.seen.values() for e in v]
    assert seen and all(e[:2] == ("/x", None) for e in seen), seen[:3]


@pytest.mark.parametrize("args,message", [
    (["--mode", "get"], "--mode get needs at least one --path"),
    (["--mode", "get", "--path", "health"], "--path must start with '/'"),
    (["--mode", "get", "--path", ""], "--path must start with '/'"),
    (["--mode", "get", "--path", "/a b"], "visible ASCII"),
    (["--mode", "get", "--path", "/a\r\nX-Injected: 1"], "visible ASCII"),
    (["--mode", "get", "--path", "/" + "x" * 5000], "longer than"),
    (["--mode", "get", "--path", "/{USER}" * 9], "{USER} at most"),
    (["--mode", "get", "--path", "/x", "--key", "a b"], "--key may hold only"),
    (["--mode", "get", *["--path", "/x"] * 65], "at most 64 times"),
    (["--mode", "health", "--path", "/x"], "--path is only for --mode get"),
    (["--path", "/x", "--mode", "events", "--app", "a", "--key", "k", "--secret", "s"],
     "--path is only for --mode get"),
    (["--mode", "get", "--path"], "--path needs a value"),
])
def test_bad_get_options_exit_2_with_a_clear_message(args, message):
    p = run_bench(*args, timeout=10)
    assert p.returncode == 2, (args, p.returncode, p.stderr)
    assert message in p.stderr, p.stderr
    assert p.stdout == "", p.stdout  # nothing was run


@pytest.mark.parametrize("args", [
    ["--mode", "events"],                       # no app, key, secret
    ["--mode", "sideways"],
    ["--connections", "0"],
    ["--duration", "abc"],
    ["--url", "ftp://127.0.0.1:1"],
    ["--url", "http://127.0.0.1:70000"],
    ["--frobnicate", "1"],
])
def test_bad_options_exit_2_with_a_message(args):
    p = run_bench(*args, timeout=10)
    assert p.returncode == 2, (args, p.returncode, p.stderr)
    assert "reactor bench:" in p.stderr


def test_nothing_listening_is_reported_not_hung():
    # A port from the ephemeral range with nothing on it: every connection fails, the run still
    # ends on time and says so.
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    start = time.monotonic()
    p = run_bench("--url", f"http://127.0.0.1:{port}", "--connections", "2", "--duration", "1",
                  "--json", timeout=20)
    assert time.monotonic() - start < 10
    assert p.returncode == 1, p.stdout + p.stderr  # nothing measured
    r = last_json(p)
    assert r["requests"] == 0 and r["connection_errors"] > 0, r
