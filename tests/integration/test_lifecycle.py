"""The process as an operator sees it: signals and graceful shutdown, the command line and its
configuration errors, migrations, the operator token, port conflicts and log levels."""

import os
import re
import signal
import socket
import sqlite3
import stat
import time

import pytest

from conftest import (HOST, REACTOR_BIN, ConnectionClosed, RawConn, build_request, free_port,
                      parse_log_lines, run_reactor)

TOKEN_LINE = "Operator token"


def refused(port):
    """True if a new connection to `port` is refused, or accepted and closed unanswered."""
    try:
        c = RawConn(port, timeout=2)
    except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError):
        # A connect racing the listener's close can also fail with EPIPE (seen once in CI).
        return True
    with c:
        try:
            c.send(build_request("GET", "/health"))
            c.read_response(timeout=2)
        except (OSError, ConnectionClosed):  # closed, reset or silent: no answer
            return True
    return False


def start_partial(conn, partial):
    """Sends a complete GET /health and `partial` (the start of a next request) in one write,
    and reads the first response. Both arrive in one segment and are parsed in one go, so once
    the first answer is back the server is known to hold the partial request: a signal sent
    afterwards finds it half received, whatever the scheduling."""
    conn.send(build_request("GET", "/health", {"X-Request-Id": "first"}) + partial)
    r = conn.read_response()
    assert r.status == 200 and r.header("x-request-id") == "first", r
    assert r.header("connection") is None, r


def wait_refused(port, timeout=5):
    deadline = time.monotonic() + timeout
    while not refused(port):
        assert time.monotonic() < deadline, f"port {port} still accepts connections"
        time.sleep(0.02)


# ---- signals and draining --------------------------------------------------------------------


def test_sigterm_with_idle_keep_alive_connections_exits_quickly(reactor):
    srv = reactor(shutdown_timeout=10)  # a leftover connection would hold it for 10 s
    conns = [srv.raw() for _ in range(4)]
    for c in conns:
        assert c.request("GET", "/health").status == 200
    took = srv.stop()
    assert took < 3, f"took {took:.2f} s to exit with idle connections"
    for c in conns:
        assert c.wait_closed(timeout=1)
        c.close()
    lines = srv.logs()
    stopped = [o for o in lines if o["msg"] == "stopped"]
    assert stopped and stopped[0]["forced"] is False, lines


def test_sigterm_lets_a_half_sent_request_finish(reactor):
    # One I/O thread: once its listener refuses connections, its drain has run.
    srv = reactor(threads=1, shutdown_timeout=10)
    with srv.raw() as c:
        start_partial(c, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: late\r\n")
        srv.send_signal(signal.SIGTERM)
        wait_refused(srv.port)
        assert srv.running, "exited while a request was still being received"
        c.send(b"\r\n")
        r = c.read_response()
        assert r.status == 200, r
        assert r.header("x-request-id") == "late"
        assert r.header("connection") == "close", r
        assert r.body == b'{"status":"ok"}'
        assert c.wait_closed(timeout=3)
    took = srv.stop(sig=None)  # SIGTERM was sent above; a second one would force the exit
    assert took < 3
    stopped = [o for o in srv.logs() if o["msg"] == "stopped"]
    assert stopped and stopped[0]["forced"] is False


def test_sigterm_request_finished_while_draining_sees_draining_ready(reactor):
    srv = reactor(threads=1, shutdown_timeout=10)
    with srv.raw() as c:
        start_partial(c, b"GET /ready HTTP/1.1\r\nX-Request-Id: three\r\n")
        srv.send_signal(signal.SIGTERM)
        wait_refused(srv.port)
        c.send(b"Host: x\r\n\r\n")
        r = c.read_response()
        assert r.header("x-request-id") == "three"
        assert r.status == 503, r  # /ready reports draining
        assert r.json()["status"] == "draining"
        assert r.header("connection") == "close"
        assert c.wait_closed(timeout=3)
    srv.stop(sig=None)


def test_shutdown_timeout_bounds_a_client_that_never_finishes(reactor):
    srv = reactor(shutdown_timeout=1)
    with srv.raw() as c:
        start_partial(c, b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never the blank line
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        rc, _ = srv.wait_exit(timeout=10)
        took = time.monotonic() - t0
        assert rc == 0, srv.report()
        assert 0.8 <= took < 3.0, f"exit after {took:.2f} s with --shutdown-timeout 1"
        assert c.wait_closed(timeout=1)
    lines = srv.logs()
    assert any(o["msg"] == "shutdown timeout: closing remaining connections" for o in lines)
    stopped = [o for o in lines if o["msg"] == "stopped"]
    assert stopped and stopped[0]["forced"] is True, lines


def test_second_signal_stops_at_once(reactor):
    srv = reactor(shutdown_timeout=30)
    with srv.raw() as c:
        start_partial(c, b"GET /health HTTP/1.1\r\n")
        srv.send_signal(signal.SIGTERM)
        srv.wait_log(lambda o: o["msg"] == "shutting down")
        t0 = time.monotonic()
        srv.send_signal(signal.SIGINT)
        rc, _ = srv.wait_exit(timeout=10)
        assert rc == 0, srv.report()
        assert time.monotonic() - t0 < 3


def test_sigint_works_like_sigterm(reactor):
    srv = reactor(shutdown_timeout=10)
    with srv.raw() as c:
        assert c.request("GET", "/health").status == 200
        took = srv.stop(signal.SIGINT)
        assert took < 3
    lines = srv.logs()
    down = [o for o in lines if o["msg"] == "shutting down"]
    assert down and down[0]["signal"] == "SIGINT", lines
    assert any(o["msg"] == "stopped" for o in lines)


def test_new_connections_refused_after_sigterm(reactor):
    srv = reactor(threads=2, shutdown_timeout=10)
    with srv.raw() as held:
        start_partial(held, b"GET /health HTTP/1.1\r\nHost: x\r\n")  # keeps it draining
        srv.send_signal(signal.SIGTERM)
        wait_refused(srv.port)
        # Refused from now on: every I/O thread has stopped listening.
        for _ in range(10):
            assert refused(srv.port), "a connection was served after SIGTERM"
        assert srv.running
        held.send(b"\r\n")
        assert held.read_response().status == 200
    srv.stop(sig=None)


# ---- the command line ------------------------------------------------------------------------


def test_version_prints_the_version():
    for args in (["version"], ["--version"]):
        p = run_reactor(args)
        assert p.returncode == 0, p.stderr
        first = p.stdout.splitlines()[0]
        assert first.startswith("reactor "), p.stdout
        version = first.split()[1]
        assert version[0].isdigit() and version.count(".") >= 2, p.stdout
        assert "sqlite" in p.stdout and "libuv" in p.stdout
        assert any(a in p.stdout for a in ("jemalloc", "libc malloc", "sanitizer allocator")), \
            p.stdout


def test_the_default_build_runs_on_jemalloc():
    """A build without the sanitizers links jemalloc (CMake's REACTOR_JEMALLOC, on by default),
    and says so; one with them runs on the sanitizers' allocator, and says that."""
    cache = os.path.join(os.path.dirname(REACTOR_BIN), "CMakeCache.txt")
    if not os.path.exists(cache):
        pytest.skip("the binary's build directory is unknown")
    with open(cache) as f:
        opts = dict(line.strip().split("=", 1) for line in f
                    if line.startswith(("REACTOR_SANITIZE:", "REACTOR_FUZZ:", "REACTOR_JEMALLOC:")))

    def on(key):
        return opts.get(key + ":BOOL", "OFF").upper() in ("ON", "1", "TRUE", "YES")

    sanitized = on("REACTOR_SANITIZE") or on("REACTOR_FUZZ")
    p = run_reactor(["version"])
    assert p.returncode == 0, p.stderr
    if sanitized:
        assert "sanitizer allocator" in p.stdout, p.stdout
    elif on("REACTOR_JEMALLOC"):
        assert re.search(r"jemalloc \d+\.\d+", p.stdout), p.stdout
    else:
        assert "libc malloc" in p.stdout, p.stdout


def test_help_lists_the_options():
    for args in (["help"], ["--help"], ["-h"]):
        p = run_reactor(args)
        assert p.returncode == 0, p.stderr
        for name in ("PORT", "REACTOR_LISTEN", "REACTOR_THREADS", "REACTOR_DATA_DIR",
                     "DATABASE_URL", "REACTOR_OPERATOR_TOKEN", "REACTOR_LOG_LEVEL",
                     "--port", "--data-dir", "--shutdown-timeout", "serve", "migrate"):
            assert name in p.stdout, f"{name} missing from `reactor {args[0]}`"


@pytest.mark.parametrize("env,args,names", [
    ({"REACTOR_THREADS": "abc"}, [], ["REACTOR_THREADS"]),
    ({"PORT": "70000"}, [], ["PORT"]),
    ({"PORT": "0"}, [], ["PORT"]),
    ({}, ["--log-level=loud"], ["--log-level"]),
    ({}, ["--log-level", "loud"], ["--log-level"]),
    ({"REACTOR_LOG_LEVEL": "loud"}, [], ["REACTOR_LOG_LEVEL"]),
    ({}, ["--threads", "65"], ["--threads"]),
    ({}, ["--listen", "localhost"], ["--listen"]),
    ({}, ["--port"], ["--port"]),
    ({"REACTOR_OPERATOR_TOKEN": "short"}, [], ["REACTOR_OPERATOR_TOKEN"]),
])
def test_bad_value_exits_2_naming_the_option(tmp_path, env, args, names):
    p = run_reactor(["serve", "--data-dir", str(tmp_path / "d")] + args, env=env)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    for n in names:
        assert n in p.stderr, p.stderr
    assert not (tmp_path / "d").exists(), "the data directory was touched before validation"


def test_unknown_flag_exits_2(tmp_path):
    p = run_reactor(["serve", "--data-dir", str(tmp_path), "--no-such-flag"])
    assert p.returncode == 2
    assert "--no-such-flag" in p.stderr
    p = run_reactor(["frobnicate"])
    assert p.returncode == 2
    assert "frobnicate" in p.stderr


def test_database_url_postgres_exits_2_clearly(tmp_path):
    p = run_reactor(["serve", "--data-dir", str(tmp_path / "d")],
                    env={"DATABASE_URL": "postgres://user:s3cretpw@db.invalid/reactor"})
    assert p.returncode == 2, p.stderr
    assert "DATABASE_URL" in p.stderr
    assert "PostgreSQL" in p.stderr
    assert "s3cretpw" not in p.stderr, "the database password was printed"


def test_database_url_unsupported_scheme_does_not_print_the_url(tmp_path):
    p = run_reactor(["serve", "--data-dir", str(tmp_path / "d")],
                    env={"DATABASE_URL": "mysql://user:s3cretpw@db.invalid/reactor"})
    assert p.returncode == 2, p.stderr
    assert "DATABASE_URL" in p.stderr and "mysql" in p.stderr, p.stderr
    assert "s3cretpw" not in p.stderr, "the database password was printed"


def test_migrate_creates_the_database_and_is_idempotent(tmp_path):
    data = tmp_path / "nested" / "data"
    p = run_reactor(["migrate", "--data-dir", str(data)])
    assert p.returncode == 0, p.stderr
    db = data / "reactor.db"
    assert db.is_file()
    first = [o for o in parse_log_lines(p.stderr) if o["msg"] == "store ready"]
    assert first and first[0]["migrations_applied"] >= 1, p.stderr
    with sqlite3.connect(str(db)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "meta" in tables, tables

    p = run_reactor(["migrate", "--data-dir", str(data)])
    assert p.returncode == 0, p.stderr
    second = [o for o in parse_log_lines(p.stderr) if o["msg"] == "store ready"]
    assert second and second[0]["migrations_applied"] == 0, p.stderr
    assert second[0]["schema_version"] == first[0]["schema_version"]
    assert not (data / "operator_token").exists(), "migrate should not create a token"


# ---- the operator token ----------------------------------------------------------------------


def test_operator_token_shown_once_and_kept_0600(reactor, tmp_path):
    data = tmp_path / "shared-data"
    srv = reactor(data_dir=data)
    out = srv.stdout()
    token_lines = [ln for ln in out.splitlines() if TOKEN_LINE in ln]
    assert len(token_lines) == 1, out
    token = token_lines[0].rsplit(" ", 1)[1]
    path = data / "operator_token"
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)
    assert path.read_text().strip() == token
    assert len(token) >= 32
    assert token not in srv.stderr(), "the token was logged"
    srv.stop()

    again = reactor(data_dir=data)
    assert TOKEN_LINE not in again.stdout() and token not in again.stdout(), again.stdout()
    assert path.read_text().strip() == token, "the token changed on restart"
    again.stop()


def test_operator_token_from_environment_is_used_and_not_written(reactor, tmp_path):
    token = "env-token-0123456789abcdef"
    data = tmp_path / "envtok"
    srv = reactor(data_dir=data, env={"REACTOR_OPERATOR_TOKEN": token},
                  flags=["--log-level", "debug"])
    assert TOKEN_LINE not in srv.stdout()
    assert not (data / "operator_token").exists()
    srv.stop()
    assert token not in srv.stderr(), "the configured token appeared in the logs"
    config = [o for o in srv.logs() if o["msg"] == "configuration"]
    assert config, "no configuration line at debug level"


# ---- configuration sources -------------------------------------------------------------------


def test_port_from_environment(reactor):
    srv = reactor(port_flag=False)  # PORT=<free port> in the environment only
    assert srv.health_ok()
    assert "--port" not in srv.command()


def test_flags_override_environment(reactor):
    env_port = free_port()
    srv = reactor(env={"PORT": str(env_port), "REACTOR_LOG_LEVEL": "error"},
                  flags=["--log-level", "info"])
    assert srv.port != env_port
    assert srv.health_ok()
    assert refused(env_port), "the PORT from the environment was used despite --port"
    srv.stop()
    listening = [o for o in srv.logs() if o["msg"] == "listening"]
    assert listening and listening[0]["port"] == srv.port


def test_port_in_use_fails_fast(reactor, tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((HOST, 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        srv = reactor(port=port, start=False)
        srv.spawn()
        rc, took = srv.wait_exit(timeout=10)
        assert rc == 1, f"exit code {rc} (1 expected)\n{srv.report()}"
        assert took < 5
        assert str(port) in srv.stderr(), srv.stderr()


def test_port_used_by_another_reactor_fails_fast(reactor):
    first = reactor()
    second = reactor(port=first.port, start=False)
    second.spawn()
    rc, _ = second.wait_exit(timeout=10)
    assert rc == 1, second.report()
    assert str(first.port) in second.stderr()
    # The first instance is unaffected and gets every connection.
    for _ in range(10):
        assert first.health_ok()


# ---- log levels ------------------------------------------------------------------------------


def test_log_level_warn_suppresses_access_lines(reactor):
    srv = reactor(env={"REACTOR_LOG_LEVEL": "warn"})
    for path in ("/health", "/nope", "/ready"):
        server_status = srv.get(path).status_code
        assert server_status in (200, 404)
    srv.stop()
    lines = srv.logs()
    assert not [o for o in lines if o["msg"] == "request"], lines
    assert all(o["level"] in ("warn", "error") for o in lines), lines


def test_log_level_error_keeps_stderr_quiet_on_a_clean_run(reactor):
    srv = reactor(flags=["--log-level", "error"])
    assert srv.health_ok()
    srv.stop()
    assert srv.stderr().strip() == "", srv.stderr()
