"""Helpers for the tests of apps, API keys and users: a server started with a known operator
token, a small client that sends JSON with an API key, and app creation.

Most test modules share one server per module (the `api` fixture): every test creates its own
apps with fresh ids, so tests stay independent while the suite starts few processes."""

import itertools
import json
import re
import time

import pytest
import requests

from conftest import IO_TIMEOUT, Server

OPERATOR_TOKEN = "operator-token-for-tests-0123456789"
KEY_RE = re.compile(r"^fge_[0-9a-f]{48}$")
UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ROLES = ("ADMIN", "INGEST", "READONLY")

_ids = itertools.count(1)


def unique(prefix="app"):
    """An id no other test of this run uses."""
    return f"{prefix}-{next(_ids)}-{int(time.time() * 1000) % 100000}"


def server_flags(extra=()):
    return ["--operator-token", OPERATOR_TOKEN] + [str(f) for f in extra]


class Api:
    """Requests to one server. Every call opens a fresh connection (no session), so successive
    calls land on either I/O thread."""

    def __init__(self, server):
        self.server = server

    def call(self, method, path, key=None, body=None, *, raw=None, headers=None, operator=None):
        h = dict(headers or {})
        if key is not None:
            h["x-api-key"] = key
        if operator is not None:
            h["Authorization"] = f"Bearer {operator}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        return requests.request(method, self.server.url(path), data=data, headers=h,
                                timeout=IO_TIMEOUT)

    def get(self, path, key=None, **kw):
        return self.call("GET", path, key, **kw)

    def post(self, path, key=None, body=None, **kw):
        return self.call("POST", path, key, body, **kw)

    def patch(self, path, key=None, body=None, **kw):
        return self.call("PATCH", path, key, body, **kw)

    def delete(self, path, key=None, **kw):
        return self.call("DELETE", path, key, **kw)

    # -- shortcuts that assert success --

    def create_app(self, app_id=None, name="Test app", token=OPERATOR_TOKEN, **fields):
        """POST /apps; returns (app JSON, bootstrap ADMIN key)."""
        body = {"id": app_id or unique(), "name": name}
        body.update(fields)
        r = self.post("/apps", body=body, operator=token)
        assert r.status_code == 201, r.text
        j = r.json()
        return j["app"], j["bootstrapApiKey"]

    def create_key(self, admin_key, role, name=None):
        """POST /keys; returns (secret, apiKey JSON)."""
        r = self.post("/keys", admin_key, {"role": role, "name": name or f"{role.lower()} key"})
        assert r.status_code == 201, r.text
        j = r.json()
        return j["key"], j["apiKey"]

    def create_user(self, key, user_id, attributes=None):
        body = {"userId": user_id}
        if attributes is not None:
            body["attributes"] = attributes
        r = self.post("/users", key, body)
        assert r.status_code == 201, r.text
        return r.json()["user"]

    def tenant(self, **app_fields):
        """A new app with one key of each role: {"app": ..., "ADMIN": key, "INGEST": key,
        "READONLY": key, "ids": {role: key id}}."""
        app, admin = self.create_app(**app_fields)
        t = {"app": app, "ADMIN": admin, "ids": {}}
        for role in ("INGEST", "READONLY"):
            t[role], info = self.create_key(admin, role)
            t["ids"][role] = info["id"]
        keys = self.get("/keys", admin).json()["keys"]
        t["ids"]["ADMIN"] = [k["id"] for k in keys if k["name"] == "bootstrap"][0]
        return t


def start(reactor, flags=(), **kw):
    """A server from conftest's `reactor` factory with the test operator token."""
    return reactor(flags=server_flags(flags), **kw)


def error_of(r):
    """(status, JSON body) of an error answer, checking its shape."""
    j = r.json()
    assert isinstance(j.get("error"), str) and isinstance(j.get("code"), str), r.text
    return r.status_code, j


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """One server shared by the tests of a module (--threads 2, test operator token). It must
    still exit 0 on SIGTERM at the end (under AddressSanitizer: no leaks)."""
    s = Server(tmp_path_factory.mktemp("tenants"), flags=server_flags(), name="shared")
    s.start()
    yield Api(s)
    if s.running:
        s.stop()
    elif s.proc.returncode != 0:
        pytest.fail(f"shared reactor exited on its own with {s.proc.returncode}\n{s.report()}")
