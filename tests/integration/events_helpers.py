"""Helpers for the event tests: ForgeEngine's request signature, a client that posts signed
events for one app, and a reader for GET /metrics.

The signature is hex HMAC-SHA256(app webhookSecret, "<timestamp>.<nonce>.<raw body bytes>")
carried in x-signature, with x-signature-timestamp (Unix seconds) and x-signature-nonce."""

import hashlib
import hmac
import json
import re
import time
import uuid

import requests

from conftest import IO_TIMEOUT
from tenants import unique

SECRET = "whsec-test-secret-0123456789"
EVENT_FIELDS = {"idempotencyKey", "userId", "eventType", "status", "metadata", "occurredAt",
                "receivedAt", "processedAt", "effects"}
UUID_LIKE_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def sign(secret, timestamp, nonce, body):
    """Lower-case hex HMAC-SHA256 over "<timestamp>.<nonce>.<body>"."""
    if isinstance(body, str):
        body = body.encode()
    msg = f"{timestamp}.{nonce}.".encode() + body
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def new_nonce():
    return uuid.uuid4().hex


def new_key(prefix="evt"):
    """A client idempotency key (8..128 characters) no other call of this run uses."""
    return f"{prefix}-{uuid.uuid4().hex}"


def signature_headers(secret, body, timestamp=None, nonce=None):
    ts = str(int(time.time())) if timestamp is None else str(timestamp)
    nonce = new_nonce() if nonce is None else nonce
    return {
        "x-signature-timestamp": ts,
        "x-signature-nonce": nonce,
        "x-signature": sign(secret, ts, nonce, body),
    }


def encode(body):
    """The raw bytes of a JSON body (bytes and str pass through)."""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


class EventClient:
    """Signed event requests for one app with one API key. `session`: a requests.Session to
    reuse connections (keep-alive); without one every call opens a fresh connection."""

    def __init__(self, server, app_id, key, secret=SECRET, session=None):
        self.server = server
        self.app_id = app_id
        self.key = key
        self.secret = secret
        self.session = session

    def with_key(self, key):
        return EventClient(self.server, self.app_id, key, self.secret, self.session)

    def event(self, user_id="user-1", event_type="login", **fields):
        """An event body for this app."""
        body = {"appId": self.app_id, "userId": user_id, "eventType": event_type}
        body.update(fields)
        return body

    def _send(self, method, path, data=None, headers=None, timeout=IO_TIMEOUT):
        h = {"x-api-key": self.key} if self.key is not None else {}
        h.update(headers or {})
        send = self.session.request if self.session is not None else requests.request
        return send(method, self.server.url(path), data=data, headers=h, timeout=timeout)

    def post_raw(self, path, body, *, secret=None, timestamp=None, nonce=None, headers=None,
                 sig_headers=None, content_type="application/json", timeout=IO_TIMEOUT):
        """POSTs `body` (dict, str or bytes) signed with this app's secret unless `sig_headers`
        replaces the three signature headers. `headers` are added last (and may override)."""
        data = encode(body)
        h = {}
        if content_type is not None:
            h["Content-Type"] = content_type
        if sig_headers is None:
            sig_headers = signature_headers(secret or self.secret, data, timestamp, nonce)
        h.update(sig_headers)
        h.update(headers or {})
        return self._send("POST", path, data, h, timeout)

    def post(self, body=None, wait=None, **kw):
        """POST /events; `body` defaults to a fresh event of user-1."""
        path = "/events" if wait is None else f"/events?wait={wait}"
        return self.post_raw(path, self.event() if body is None else body, **kw)

    def batch(self, events, wait=None, **kw):
        """POST /events/batch with {"events": events} (or `events` as given if not a list)."""
        body = {"events": events} if isinstance(events, list) else events
        path = "/events/batch" if wait is None else f"/events/batch?wait={wait}"
        return self.post_raw(path, body, **kw)

    def get(self, idempotency_key, key=None):
        h = {} if key is None else {"x-api-key": key}
        return self._send("GET", f"/events/{idempotency_key}", headers=h)

    def accepted(self, body=None, wait=None, **kw):
        """post() that must answer 202; returns the JSON answer."""
        r = self.post(body, wait=wait, **kw)
        assert r.status_code == 202, r.text
        return r.json()


def ingest_app(api, secret=SECRET, role="ADMIN", **fields):
    """A new app with a webhook secret on the `api` server; returns (EventClient, admin key).
    role="INGEST": the client uses a fresh INGEST key instead of the bootstrap ADMIN key."""
    fields.setdefault("webhookSecret", secret)
    app, admin = api.create_app(unique("evapp"), **fields)
    key = admin if role == "ADMIN" else api.create_key(admin, role)[0]
    return EventClient(api.server, app["id"], key, secret), admin


# ---- metrics -----------------------------------------------------------------------------

_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)$")


def metrics(server):
    """GET /metrics as {'name{labels}': float} (labels exactly as the server prints them)."""
    r = requests.get(server.url("/metrics"), timeout=IO_TIMEOUT)
    assert r.status_code == 200, r.text
    out = {}
    for line in r.text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE_RE.match(line)
        assert m, f"bad metrics line {line!r}"
        out[m.group(1)] = float(m.group(2))
    return out


def delta(before, after, name):
    return after.get(name, 0.0) - before.get(name, 0.0)


def rejected(reason):
    return f'reactor_events_rejected_total{{reason="{reason}"}}'


def iso_ms(ms):
    """Unix ms as the ISO 8601 UTC time the API takes."""
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{ms % 1000:03d}Z"


def short_season(api, admin, starts_in_ms, ends_in_ms, xp=10, **fields):
    """An active season from now + starts_in_ms to now + ends_in_ms and a rule giving `xp` XP
    for each "done" event; returns (season id, now in Unix ms)."""
    now = int(time.time() * 1000)
    body = {"name": "Short", "startsAt": iso_ms(now + starts_in_ms),
            "endsAt": iso_ms(now + ends_in_ms), "isActive": True}
    body.update(fields)
    r = api.post("/seasons", admin, body)
    assert r.status_code == 201, r.text
    assert api.post("/rules", admin, {"name": "r", "eventType": "done",
                                      "xpAwards": {"XP": xp}}).status_code == 201
    return r.json()["season"]["id"], now
