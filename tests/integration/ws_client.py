"""A small WebSocket client (RFC 6455) over a plain socket, for driving GET /ws: the opening
handshake, masked client frames, and reading text, ping and close frames. Standard library
only."""

import base64
import hashlib
import json
import os
import socket
import struct
import time

from conftest import HOST, IO_TIMEOUT

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_of(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


# RFC 6455 section 1.3's example.
assert accept_of("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


class HandshakeRefused(Exception):
    def __init__(self, status, body):
        super().__init__(f"upgrade refused: {status} {body!r}")
        self.status = status
        self.body = body

    def json(self):
        return json.loads(self.body)


class Closed(Exception):
    def __init__(self, code, reason):
        super().__init__(f"closed {code} {reason!r}")
        self.code = code
        self.reason = reason


def frame(opcode, payload, fin=True, mask=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class WS:
    """One connection. `token` goes in the query, `headers` are added to the request."""

    def __init__(self, port, path="/ws", token=None, headers=None, timeout=IO_TIMEOUT,
                 rcvbuf=None):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.buf = b""
        self.next_id = 1
        self.pushes = []          # pushes received while waiting for replies
        key = base64.b64encode(os.urandom(16)).decode()
        if token is not None:
            path += ("&" if "?" in path else "?") + "token=" + token
        h = {"Host": f"{HOST}:{port}", "Upgrade": "websocket", "Connection": "Upgrade",
             "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"}
        h.update(headers or {})
        req = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items() if v
                                                     is not None) + "\r\n"
        self.sock.sendall(req.encode())
        head = self._read_until(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers_in = {ln.split(":", 1)[0].lower(): ln.split(":", 1)[1].strip()
                      for ln in lines[1:] if ":" in ln}
        if status != 101:
            n = int(headers_in.get("content-length", "0"))
            body = self._read_exact(n)
            self.sock.close()
            raise HandshakeRefused(status, body.decode())
        assert headers_in["sec-websocket-accept"] == accept_of(key)
        assert "content-length" not in headers_in

    # -- bytes --
    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed by the server")
        self.buf += data

    def _read_until(self, sep):
        while sep not in self.buf:
            self._fill()
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    # -- frames --
    def send_frame(self, opcode, payload, **kw):
        self.sock.sendall(frame(opcode, payload, **kw))

    def recv_frame_raw(self):
        """(opcode, payload) of the next frame, whatever it is."""
        b0, b1 = self._read_exact(2)
        assert b1 & 0x80 == 0, "server frames are not masked"
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_exact(8))[0]
        return b0 & 0x0F, self._read_exact(n)

    def recv_frame(self):
        """(opcode, payload) of the next frame; answers pings."""
        while True:
            op, payload = self.recv_frame_raw()
            if op == 0x9:
                self.send_frame(0xA, payload)
                continue
            return op, payload

    def recv(self, timeout=IO_TIMEOUT):
        """The next JSON message; raises Closed on a close frame."""
        self.sock.settimeout(timeout)
        op, payload = self.recv_frame()
        if op == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            raise Closed(code, payload[2:].decode(errors="replace"))
        assert op == 0x1, op
        return json.loads(payload)

    def send_json(self, obj):
        self.send_frame(0x1, json.dumps(obj).encode())

    def call(self, op, timeout=IO_TIMEOUT, **fields):
        """Sends a command and returns its reply; pushes seen meanwhile go to self.pushes."""
        cid = self.next_id
        self.next_id += 1
        self.send_json(dict(id=cid, op=op, **fields))
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(max(0.01, deadline - time.monotonic()))
            if m.get("id") == cid and ("ok" in m or "error" in m):
                return m
            self.pushes.append(m)

    def push(self, timeout=IO_TIMEOUT):
        """The next push (from those already seen first)."""
        if self.pushes:
            return self.pushes.pop(0)
        return self.recv(timeout)

    def wait_push(self, pred, timeout=IO_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            m = self.push(max(0.01, deadline - time.monotonic()))
            if pred(m):
                return m

    def no_push(self, wait=0.3):
        """True when nothing arrives within `wait` seconds."""
        if self.pushes:
            return False
        try:
            self.recv(wait)
        except (socket.timeout, TimeoutError):
            return True
        return False

    def expect_close(self, timeout=IO_TIMEOUT):
        """Reads until the close frame; returns (code, reason)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.recv(max(0.01, deadline - time.monotonic()))
            except Closed as c:
                return c.code, c.reason

    def close(self):
        try:
            self.send_frame(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()
