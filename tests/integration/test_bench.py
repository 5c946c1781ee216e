"""reactor bench, the load generator: against the real server in health mode, and in events
and batch modes against a small Python peer that checks every request the way ForgeEngine
checks events (HMAC-SHA256 over "<ts>.<nonce>.<raw body>" with the app's secret, a nonce
never reused, the app id and key) — so the signatures the generator makes are proven right
independently of the server — and in events and batch modes against the real server too."""

import hashlib
import hmac
import json
import os
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
