"""A real HTTP server on 127.0.0.1 that receives the reactor's webhooks in a thread, checks
each request's signature, and answers as a test scripts it (status codes, delays)."""

import hashlib
import hmac
import http.server
import json
import threading
import time


def poll(fn, pred, timeout=10.0):
    """fn() until pred(value) holds (every 20 ms) or the timeout passes; the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if pred(v) or time.monotonic() >= deadline:
            return v
        time.sleep(0.02)


class Receiver:
    """Records every POST as a dict {body, json, headers, verified, at}. `plan` is a list of
    actions taken in order by successive requests, each a status code or ("sleep", seconds,
    status); when it runs out every request gets `default`."""

    def __init__(self, secret, default=200):
        self.secret = secret.encode()
        self.default = default
        self.plan = []
        self.requests = []
        self.started = 0        # requests whose body was read (answered or not)
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                ts = self.headers.get("x-signature-timestamp", "")
                nonce = self.headers.get("x-signature-nonce", "")
                want = hmac.new(receiver.secret, f"{ts}.{nonce}.".encode() + body,
                                hashlib.sha256).hexdigest()
                verified = hmac.compare_digest(want, self.headers.get("x-signature", ""))
                with receiver.cond:
                    action = receiver.plan.pop(0) if receiver.plan else receiver.default
                    receiver.started += 1
                    arrival = receiver.started
                    receiver.cond.notify_all()
                if isinstance(action, tuple):
                    time.sleep(action[1])
                    action = action[2]
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                rec = {"body": body, "json": parsed, "headers": dict(self.headers),
                       "verified": verified, "status": action, "at": time.monotonic(),
                       "arrival": arrival}
                try:
                    self.send_response(action)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass
                # Recorded once answered, in the order the requests arrived: the server may
                # send the next delivery as soon as it has this answer, and that delivery's
                # thread may record before this one gets to.
                with receiver.cond:
                    at = len(receiver.requests)
                    while at > 0 and receiver.requests[at - 1]["arrival"] > arrival:
                        at -= 1
                    receiver.requests.insert(at, rec)
                    receiver.cond.notify_all()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, pred, timeout=10.0):
        """Waits until pred(requests) is true; returns a copy of the requests."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self.requests):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"receiver: condition not met within {timeout} s; got "
                        f"{[r['json'] for r in self.requests]}")
                self.cond.wait(left)
            return list(self.requests)

    def wait_started(self, n, timeout=10.0):
        """Waits until n requests have arrived (before they are answered)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.started < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver: {self.started} requests, wanted {n}")
                self.cond.wait(left)

    def wait_count(self, n, timeout=10.0):
        return self.wait_for(lambda rs: len(rs) >= n, timeout)

    def ok(self):
        """The requests answered 2xx."""
        with self.lock:
            return [r for r in self.requests if 200 <= r["status"] < 300]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
