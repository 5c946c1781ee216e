"""Shared helpers for the integration tests: start the real reactor binary on 127.0.0.1 with a
free port and a fresh data directory, talk to it over raw sockets, stop it and check that it
exited cleanly.

REACTOR_BIN names the binary (default: ../../build/reactor relative to this file). The suite
also runs against an AddressSanitizer build, where LeakSanitizer turns leaks into a non-zero
exit code; that is why every server stop asserts exit code 0 and prints stderr when it is not.
"""

import json
import os
import signal
import socket
import subprocess
import time

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REACTOR_BIN = os.path.abspath(
    os.environ.get("REACTOR_BIN") or os.path.join(HERE, "..", "..", "build", "reactor")
)
HOST = "127.0.0.1"

START_TIMEOUT = 10.0      # until GET /health answers
SHUTDOWN_TIMEOUT = 3      # --shutdown-timeout given to servers unless a test sets its own
EXIT_MARGIN = 3.0         # allowed on top of the shutdown timeout for the process to exit
IO_TIMEOUT = 5.0          # default for one socket operation

# Variables that would change the server's configuration if inherited from the caller.
_CONFIG_ENV = (
    "PORT",
    "DATABASE_URL",
)


def clean_env(extra=None):
    """The caller's environment without any reactor configuration, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REACTOR_") and k not in _CONFIG_ENV
    }
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    if extra:
        env.update(extra)
    return env


def free_port():
    """A port nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def listens_on(pid, port):
    """True when process `pid` holds a TCP socket listening on 127.0.0.1:`port` (read from
    /proc): so that a start-up check answered by another process on a reused port does not
    count as ours being up."""
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:["):-1])
    with open(f"/proc/{pid}/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.split(":")[1], 16) == port and inode in inodes:
                return True
    return False


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")


def sanitizer_findings(text):
    """The sanitizer report lines in a process's stderr (empty for a clean run). Exit codes
    alone cannot tell a leak from an ordinary failure exit, so stderr is checked too."""
    return [ln for ln in text.splitlines() if any(m in ln for m in SANITIZER_MARKERS)]


def run_reactor(args, env=None, timeout=15.0, cwd=None):
    """Runs a short-lived reactor command; returns the CompletedProcess (text output). Fails
    on any sanitizer report."""
    p = subprocess.run(
        [REACTOR_BIN] + list(args),
        env=clean_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    found = sanitizer_findings(p.stderr)
    assert not found, f"sanitizer report from reactor {' '.join(args)}:\n{p.stderr}"
    return p


def parse_log_lines(text):
    """Every non-empty line of `text` as a JSON object; fails naming the first bad line."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            pytest.fail(f"stderr line {n} is not JSON ({e}): {line!r}")
        assert isinstance(obj, dict), f"stderr line {n} is not a JSON object: {line!r}"
        out.append(obj)
    return out


# ---- raw HTTP --------------------------------------------------------------------------------


class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version = version
        self.status = status
        self.reason = reason
        self.header_list = headers          # [(name, value)] as received
        self.headers = {}                   # lower-case name -> last value
        for k, v in headers:
            self.headers[k.lower()] = v
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.header_list!r} {self.body[:200]!r}>"


class ConnectionClosed(Exception):
    """The server closed the connection before a complete response arrived."""


class RawConn:
    """A client socket that sends bytes as given and parses responses itself, so malformed
    requests, pipelining and partial sends can be tested. Every read has a deadline."""

    def __init__(self, port, timeout=IO_TIMEOUT, rcvbuf=None):
        if rcvbuf is None:
            self.sock = socket.create_connection((HOST, port), timeout=timeout)
        else:
            # A small receive buffer, set before connecting so the window stays small.
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
                self.sock.settimeout(timeout)
                self.sock.connect((HOST, port))
            except OSError:
                self.sock.close()
                raise
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Reads more bytes into buf. Returns False at EOF (or reset); raises socket.timeout
        when the deadline passes."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_response(self, timeout=None, head=False):
        """One complete response (status line, headers, Content-Length body). `head`: the
        request was HEAD, so no body follows whatever Content-Length says."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise AssertionError("response head larger than 1 MiB")
            if not self._fill(deadline):
                raise ConnectionClosed(f"closed before a full response head; got {self.buf!r}")
        head_bytes, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head_bytes.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        assert len(parts) >= 2 and parts[0].startswith("HTTP/"), f"bad status line {lines[0]!r}"
        version, status = parts[0], int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            assert sep, f"bad header line {line!r}"
            headers.append((name.strip(), value.strip()))
        resp = Response(version, status, reason, headers, b"")
        if head or status in (204, 304) or 100 <= status < 200:
            return resp
        cl = resp.header("content-length")
        assert cl is not None, f"response without Content-Length: {resp!r}"
        n = int(cl)
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ConnectionClosed(f"closed inside a body; got {self.buf!r}")
        resp.body, self.buf = self.buf[:n], self.buf[n:]
        return resp

    def request(self, method="GET", path="/health", headers=None, body=b"", version="HTTP/1.1",
                timeout=None):
        """Sends one request (Host added unless given) and reads its response."""
        self.send(build_request(method, path, headers, body, version))
        return self.read_response(timeout=timeout, head=(method == "HEAD"))

    def wait_closed(self, timeout=IO_TIMEOUT):
        """True once the server has closed the connection (recv returns b"" or reset) within
        `timeout`; False if it is still open then. Bytes received meanwhile are kept in buf."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
        except socket.timeout:
            return False
        return True

    def nothing_received(self, wait):
        """True if nothing arrives (no bytes, no close) within `wait` seconds."""
        if self.buf or self.eof:
            return False
        try:
            self._fill(time.monotonic() + wait)
        except socket.timeout:
            return True
        return False


def build_request(method="GET", path="/health", headers=None, body=b"", version="HTTP/1.1"):
    if isinstance(body, str):
        body = body.encode()
    hdrs = list((headers or {}).items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in hdrs}
    if "host" not in names and version == "HTTP/1.1":
        hdrs.insert(0, ("Host", "localhost"))
    if body and "content-length" not in names and "transfer-encoding" not in names:
        hdrs.append(("Content-Length", str(len(body))))
    head = f"{method} {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs) + "\r\n"
    return head.encode("latin-1") + body


# ---- the server process ----------------------------------------------------------------------


class Server:
    """One reactor `serve` process. Use the `reactor` fixture to make these: it stops any that
    are still running at teardown and asserts they exited with code 0."""

    def __init__(self, tmp_path, flags=(), env=None, data_dir=None, port=None, threads=2,
                 shutdown_timeout=SHUTDOWN_TIMEOUT, port_flag=True, name="server"):
        self.dir = tmp_path / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = str(data_dir) if data_dir is not None else str(self.dir / "data")
        self.extra_flags = [str(f) for f in flags]
        self.extra_env = dict(env or {})
        self.fixed_port = port
        self.threads = threads
        self.shutdown_timeout = shutdown_timeout
        self.port_flag = port_flag
        self.proc = None
        self.port = None
        self.returncode = None
        self.stdout_path = self.dir / "stdout.txt"
        self.stderr_path = self.dir / "stderr.txt"

    # -- starting --

    def command(self):
        cmd = [REACTOR_BIN, "serve", "--listen", HOST, "--data-dir", self.data_dir]
        if self.port_flag:
            cmd += ["--port", str(self.port)]
        if self.threads is not None:
            cmd += ["--threads", str(self.threads)]
        if self.shutdown_timeout is not None:
            cmd += ["--shutdown-timeout", str(self.shutdown_timeout)]
        return cmd + self.extra_flags

    def spawn(self):
        """Starts the process without waiting for it to answer."""
        assert self.proc is None, "already started"
        self.port = self.fixed_port or free_port()
        env = dict(self.extra_env)
        if not self.port_flag:
            env.setdefault("PORT", str(self.port))
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=clean_env(env), cwd=str(self.dir),
            )
        return self

    def start(self):
        """Starts the process and waits until GET /health answers 200. A free port can be
        taken by someone else between picking and binding; that case is retried."""
        for attempt in range(3):
            self.spawn()
            try:
                self.wait_healthy()
                return self
            except ServerExited:
                if (self.fixed_port is None and attempt < 2
                        and "Address already in use" in self.stderr()):
                    self.proc = None
                    self.returncode = None
                    continue
                raise
        return self

    def wait_healthy(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                raise ServerExited(f"reactor exited with {rc} while starting\n{self.report()}")
            try:
                r = requests.get(self.url("/health"), timeout=1)
                if r.status_code == 200 and listens_on(self.proc.pid, self.port):
                    return
                last = (f"status {r.status_code}" if r.status_code != 200 else
                        f"another process answered on port {self.port}")
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.02)
        pytest.fail(f"reactor did not answer /health within {timeout} s ({last})\n{self.report()}")

    # -- talking --

    def url(self, path="/"):
        return f"http://{HOST}:{self.port}{path}"

    def get(self, path, **kw):
        kw.setdefault("timeout", IO_TIMEOUT)
        return requests.get(self.url(path), **kw)

    def raw(self, timeout=IO_TIMEOUT, rcvbuf=None):
        return RawConn(self.port, timeout=timeout, rcvbuf=rcvbuf)

    def health_ok(self):
        """GET /health on a fresh connection answers 200 {"status":"ok"}."""
        r = self.get("/health")
        return r.status_code == 200 and r.json() == {"status": "ok"}

    # -- output --

    def stdout(self):
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def stderr(self):
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def logs(self):
        return parse_log_lines(self.stderr())

    def wait_log(self, pred, timeout=IO_TIMEOUT):
        """Polls stderr until a JSON log line satisfies pred; returns it. (I/O threads write
        their lines just before their loop blocks, so lines appear shortly after the event.)"""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.stderr().splitlines():
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict) and pred(obj):
                    return obj
            if time.monotonic() >= deadline:
                pytest.fail(f"no matching log line within {timeout} s\n{self.report()}")
            time.sleep(0.02)

    def report(self):
        return (f"command: {' '.join(self.command())}\n"
                f"--- stdout ---\n{self.stdout()}\n--- stderr ---\n{self.stderr()}")

    # -- stopping --

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """Waits for the process to exit; returns (returncode, seconds waited). Kills it (and
        fails) if it does not exit in time."""
        t0 = time.monotonic()
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.returncode = self.proc.returncode
            pytest.fail(f"reactor did not exit within {timeout} s; killed\n{self.report()}")
        self.returncode = rc
        return rc, time.monotonic() - t0

    def stop(self, sig=signal.SIGTERM, timeout=None, expect_code=0):
        """Sends `sig` (None: sends nothing, the test already did) and asserts the process
        exits with `expect_code` within the shutdown bound. Returns the seconds it took."""
        if timeout is None:
            timeout = (self.shutdown_timeout if self.shutdown_timeout is not None else 10) \
                + EXIT_MARGIN
        if sig is not None and self.proc.poll() is None:
            self.send_signal(sig)
        rc, took = self.wait_exit(timeout)
        assert rc == expect_code, (
            f"reactor exited with {rc} (expected {expect_code}; under AddressSanitizer a "
            f"non-zero code can mean leaks)\n{self.report()}")
        return took

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class ServerExited(Exception):
    pass


@pytest.fixture
def reactor(tmp_path):
    """A factory: reactor(flags=[...], env={...}, ...) returns a started Server. Servers still
    running at teardown get SIGTERM and must exit 0 within the shutdown bound; servers that
    were stopped by the test must have exited 0 too unless the test checked otherwise."""
    servers = []
    counter = [0]

    def make(*, start=True, **kw):
        counter[0] += 1
        kw.setdefault("name", f"server{counter[0]}")
        s = Server(tmp_path, **kw)
        servers.append(s)
        if start:
            s.start()
        return s

    yield make

    failures = []
    for s in servers:
        if s.proc is None:
            continue
        if s.proc.poll() is None:
            try:
                s.stop()
            except BaseException as e:  # pytest.fail raises a BaseException subclass
                s.kill()
                failures.append(str(e))
        elif s.returncode is None:
            # Exited on its own (crashed?) without the test looking at it.
            s.returncode = s.proc.returncode
            if s.returncode != 0:
                failures.append(f"reactor exited on its own with {s.returncode}\n{s.report()}")
        if sanitizer_findings(s.stderr()):
            failures.append(f"sanitizer report\n{s.report()}")
    if failures:
        pytest.fail("\n\n".join(failures))


@pytest.fixture
def server(reactor):
    """One started server with the default test settings."""
    return reactor()
