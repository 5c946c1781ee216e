#!/usr/bin/env python3
"""Memory per idle connection: starts the server, opens N keep-alive connections that each
made one request, and reports the server's RSS growth per connection. Bounded: N sockets on
127.0.0.1, then everything is closed and the server stopped.
    bench/idle_connections.py [reactor binary] [N]"""
import os
import socket
import subprocess
import sys
import tempfile
import time
import resource

binary = sys.argv[1] if len(sys.argv) > 1 else "build/reactor"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
# Below the ephemeral range (32768-60999 on Linux): the N client sockets of a run before stay in
# TIME_WAIT on ports of that range for a minute, and a listener cannot bind one of them.
port = int(os.environ.get("BENCH_PORT", "18084"))

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = min(hard, n + 1024)
resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


with tempfile.TemporaryDirectory() as data:
    server = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1", "--port", str(port), "--threads", "2",
         "--data-dir", data, "--log-level", "warn"],
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
        time.sleep(0.3)
        before = rss_kib(server.pid)
        conns = []
        request = b"GET /health HTTP/1.1\r\nHost: bench\r\n\r\n"
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(request)
            conns.append(s)
        for s in conns:  # every connection has been served once and is now idle
            got = b""
            while b"\r\n\r\n" not in got or not got.endswith(b"}"):
                got += s.recv(4096)
        time.sleep(0.5)
        after = rss_kib(server.pid)
        print(f"connections: {n}")
        print(f"server RSS: {before} KiB before, {after} KiB with {n} idle connections")
        print(f"per idle connection: {(after - before) * 1024 / n:.0f} bytes")
        for s in conns:
            s.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
