#!/usr/bin/env python3
"""Webhook delivery throughput: starts the server and a local receiver (a threading HTTP
server on 127.0.0.1 that answers 204), sends N events that each give one subscribed effect
(xp.awarded), spread over U users, and reports how long until the receiver had all N
webhooks. Bounded: N events, 127.0.0.1 only, ports below 32768; then everything stops.
The receiver is Python, so it is the likely bottleneck: the number is a floor.
    bench/webhooks.py [reactor binary] [N] [users] [reactor flags...]"""
import hashlib
import hmac
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

binary = sys.argv[1] if len(sys.argv) > 1 else "build/reactor"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
users = int(sys.argv[3]) if len(sys.argv) > 3 else 100
port = int(os.environ.get("BENCH_PORT", "18085"))  # below the ephemeral range (32768-)
hook_port = port + 1
TOKEN = "bench-operator-token-0123456789"
SECRET = "bench-webhook-secret"

got = []
lock = threading.Lock()
done = threading.Event()


class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()
        with lock:
            got.append(time.monotonic())
            if len(got) >= n:
                done.set()


def call(method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=h,
                                 method=method)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


receiver = http.server.ThreadingHTTPServer(("127.0.0.1", hook_port), Hook)
receiver.daemon_threads = True
threading.Thread(target=receiver.serve_forever, daemon=True).start()
with tempfile.TemporaryDirectory() as data:
    server = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1", "--port", str(port), "--threads", "2",
         "--data-dir", data, "--log-level", "warn", "--operator-token", TOKEN]
        + sys.argv[4:],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        j = call("POST", "/apps", {"id": "bench", "name": "bench", "webhookSecret": SECRET,
                                   "webhookUrl": f"http://127.0.0.1:{hook_port}/h",
                                   "webhookEvents": ["xp.awarded"]},
                 {"Authorization": f"Bearer {TOKEN}"})
        key = j["bootstrapApiKey"]
        call("POST", "/rules", {"name": "r", "eventType": "e", "xpAwards": {"XP": 1}},
             {"x-api-key": key})
        t0 = time.monotonic()
        for start in range(0, n, 100):
            events = [{"appId": "bench", "userId": f"u{i % users}", "eventType": "e"}
                      for i in range(start, min(n, start + 100))]
            body = json.dumps({"events": events}).encode()
            ts, nonce = str(int(time.time())), os.urandom(8).hex()
            sig = hmac.new(SECRET.encode(), f"{ts}.{nonce}.".encode() + body,
                           hashlib.sha256).hexdigest()
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/events/batch", data=body, method="POST",
                headers={"Content-Type": "application/json", "x-api-key": key,
                         "x-signature-timestamp": ts, "x-signature-nonce": nonce,
                         "x-signature": sig})
            urllib.request.urlopen(req, timeout=30).read()
        t_sent = time.monotonic()
        ok = done.wait(120)
        t1 = time.monotonic()
        print(f"{n} events over {users} users: sent in {t_sent - t0:.2f} s; "
              f"{len(got)} webhooks received {'' if ok else '(timed out) '}"
              f"in {t1 - t0:.2f} s: {len(got) / (t1 - t0):.0f} webhooks/s")
    finally:
        server.terminate()
        server.wait(timeout=30)
        receiver.shutdown()
