"""API keys: POST /keys, GET /keys, DELETE /keys/:id (ADMIN), and the x-api-key rules every
route but /health, /ready and /metrics follows. A revoked key is refused at once, on every I/O
thread, including on connections opened before the revocation."""

import json
import time
import uuid

import pytest
import requests

from conftest import IO_TIMEOUT

from tenants import ISO_RE, KEY_RE, ROLES, UUID4_RE, api, error_of  # noqa: F401

KEY_FIELDS = {"id", "name", "role", "createdAt", "lastUsedAt"}
MISSING = {"error": "Missing API key", "code": "unauthorized"}
INVALID = {"error": "Invalid API key", "code": "unauthorized"}

# Every route that needs a key: (method, path template, body).
KEYED_ROUTES = [
    ("GET", "/apps/{app}", None),
    ("PATCH", "/apps/{app}", {"name": "Renamed"}),
    ("POST", "/keys", {"role": "READONLY", "name": "x"}),
    ("GET", "/keys", None),
    ("DELETE", "/keys/{key}", None),
    ("POST", "/users", {"userId": "someone"}),
    ("GET", "/users/{user}", None),
    ("GET", "/users/{user}/profile", None),
]


def test_create_key_returns_the_secret_once(api):
    app, admin = api.create_app()
    r = api.post("/keys", admin, {"role": "INGEST", "name": "Game server"})
    assert r.status_code == 201, r.text
    j = r.json()
    assert set(j) == {"key", "apiKey"}
    assert KEY_RE.match(j["key"]), j["key"]
    info = j["apiKey"]
    assert set(info) == {"id", "name", "role", "createdAt"}
    assert UUID4_RE.match(info["id"]), info["id"]
    assert info["name"] == "Game server"
    assert info["role"] == "INGEST"
    assert ISO_RE.match(info["createdAt"])
    # It works at once, with its role.
    assert api.post("/users", j["key"], {"userId": "u"}).status_code == 201
    # Listings never show it again.
    listing = api.get("/keys?includeRevoked=true", admin)
    assert j["key"] not in listing.text and admin not in listing.text


def test_each_key_is_distinct(api):
    _, admin = api.create_app()
    made = [api.create_key(admin, "READONLY", f"k{i}") for i in range(5)]
    secrets = {s for s, _ in made} | {admin}
    ids = {info["id"] for _, info in made}
    assert len(secrets) == 6 and len(ids) == 5


def test_list_keys_in_creation_order_without_secrets(api):
    _, admin = api.create_app()
    made = [api.create_key(admin, role, f"{role} key") for role in ROLES]
    r = api.get("/keys", admin)
    assert r.status_code == 200
    keys = r.json()["keys"]
    assert [k["name"] for k in keys] == ["bootstrap", "ADMIN key", "INGEST key", "READONLY key"]
    assert [k["role"] for k in keys] == ["ADMIN", "ADMIN", "INGEST", "READONLY"]
    for k in keys:
        assert set(k) == KEY_FIELDS, k
        assert UUID4_RE.match(k["id"])
        assert ISO_RE.match(k["createdAt"])
    for secret, info in made:
        assert secret not in r.text
        listed = [k for k in keys if k["id"] == info["id"]]
        assert len(listed) == 1 and listed[0]["createdAt"] == info["createdAt"]
    # Nothing that looks like a secret or its hash.
    assert "fge_" not in r.text
    assert "hash" not in r.text.lower()


def test_last_used_at_follows_use(api):
    _, admin = api.create_app()
    ro, info = api.create_key(admin, "READONLY", "reader")

    def ro_entry():
        return [k for k in api.get("/keys", admin).json()["keys"] if k["id"] == info["id"]][0]

    assert ro_entry()["lastUsedAt"] is None
    assert api.get("/users/nobody", ro).status_code == 404  # authenticated, so a use
    entry = ro_entry()
    assert ISO_RE.match(entry["lastUsedAt"]), entry
    assert entry["lastUsedAt"] >= entry["createdAt"]
    t1 = entry["lastUsedAt"]
    time.sleep(0.01)
    api.get("/users/nobody", ro)
    assert ro_entry()["lastUsedAt"] > t1
    # The admin key that lists was used too.
    boot = [k for k in api.get("/keys", admin).json()["keys"] if k["name"] == "bootstrap"][0]
    assert boot["lastUsedAt"] is not None


def test_include_revoked_query(api):
    _, admin = api.create_app()
    _, keep = api.create_key(admin, "INGEST", "keep")
    _, gone = api.create_key(admin, "READONLY", "gone")
    assert api.delete(f"/keys/{gone['id']}", admin).status_code == 204

    default = api.get("/keys", admin).json()["keys"]
    assert [k["name"] for k in default] == ["bootstrap", "keep"]
    assert all("revokedAt" not in k for k in default)
    explicit = api.get("/keys?includeRevoked=false", admin).json()["keys"]
    assert [(k["id"], k["name"]) for k in explicit] == [(k["id"], k["name"]) for k in default]

    full = api.get("/keys?includeRevoked=true", admin).json()["keys"]
    assert [k["name"] for k in full] == ["bootstrap", "keep", "gone"]
    revoked = full[2]
    assert set(revoked) == KEY_FIELDS | {"revokedAt"}
    assert revoked["id"] == gone["id"]
    assert ISO_RE.match(revoked["revokedAt"]) and revoked["revokedAt"] >= revoked["createdAt"]
    assert all("revokedAt" not in k for k in full[:2])

    r = api.get("/keys?includeRevoked=yes", admin)
    status, j = error_of(r)
    assert status == 400 and j["code"] == "validation_failed"
    assert set(j["details"]) == {"includeRevoked"}


def test_revoke_answers_204_then_404(api):
    _, admin = api.create_app()
    secret, info = api.create_key(admin, "INGEST", "short-lived")
    r = api.delete(f"/keys/{info['id']}", admin)
    assert r.status_code == 204
    assert "Content-Length" not in r.headers  # RFC 9110 8.6
    assert r.content == b""
    assert r.content == b""
    r = api.delete(f"/keys/{info['id']}", admin)
    assert error_of(r) == (404, {"error": "API key not found", "code": "not_found"})
    for missing in (str(uuid.uuid4()), "not-a-key-id", "x" * 36, "fge_" + "0" * 48):
        r = api.delete(f"/keys/{missing}", admin)
        assert error_of(r) == (404, {"error": "API key not found", "code": "not_found"}), missing
    # The admin key is unaffected.
    assert api.get("/keys", admin).status_code == 200


def _threads_that_refused(server, marker):
    """I/O threads whose access log shows a 401 for a path containing marker."""
    threads = set()
    for line in server.stderr().splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if o.get("msg") == "request" and marker in o.get("path", "") and o.get("status") == 401:
            threads.add(o.get("thread"))
    return threads


def test_revoked_key_refused_at_once_on_every_thread(api):
    _, admin = api.create_app()
    victim, info = api.create_key(admin, "INGEST", "victim")
    # Keep-alive connections opened and used before the revocation.
    conns = [api.server.raw() for _ in range(6)]
    try:
        for c in conns:
            r = c.request("GET", "/users/nobody", {"x-api-key": victim})
            assert r.status == 404, r  # accepted (no such user)
        r = api.delete(f"/keys/{info['id']}", admin)
        assert r.status_code == 204
        # No pause: the 204 means every thread already refuses it.
        for c in conns:
            r = c.request("GET", "/users/nobody", {"x-api-key": victim})
            assert r.status == 401 and r.json() == INVALID, r
    finally:
        for c in conns:
            c.close()

    # Fresh connections spread over both I/O threads (--threads 2); the access log says which
    # thread answered. Keep going until both have refused the key.
    marker = f"probe-{uuid.uuid4().hex}"
    deadline = time.monotonic() + 10
    n = 0
    while time.monotonic() < deadline:
        for _ in range(8):
            n += 1
            r = api.post("/users", victim, {"userId": "after-revoke"},
                         headers={"X-Probe": marker})
            assert error_of(r) == (401, INVALID)
            r = api.get(f"/users/{marker}-{n}", victim)
            assert error_of(r) == (401, INVALID)
        if _threads_that_refused(api.server, marker) == {0, 1}:
            break
        time.sleep(0.05)
    assert _threads_that_refused(api.server, marker) == {0, 1}, \
        f"after {n} connections only threads {_threads_that_refused(api.server, marker)} seen"
    # The refused POSTs did nothing: the admin sees no such user.
    assert api.get("/users/after-revoke", admin).status_code == 404


def test_revoking_one_key_leaves_the_others(api):
    _, admin = api.create_app()
    k1, _ = api.create_key(admin, "READONLY", "one")
    k2, info2 = api.create_key(admin, "READONLY", "two")
    assert api.delete(f"/keys/{info2['id']}", admin).status_code == 204
    assert api.get("/users/x", k2).status_code == 401
    assert api.get("/users/x", k1).status_code == 404
    assert api.get("/keys", admin).status_code == 200


def test_admin_can_revoke_its_own_key(api):
    _, admin = api.create_app()
    other, _ = api.create_key(admin, "ADMIN", "second admin")
    own = [k for k in api.get("/keys", admin).json()["keys"] if k["name"] == "bootstrap"][0]
    assert api.delete(f"/keys/{own['id']}", admin).status_code == 204
    assert error_of(api.get("/keys", admin)) == (401, INVALID)
    listing = api.get("/keys?includeRevoked=true", other).json()["keys"]
    assert [k["name"] for k in listing if "revokedAt" in k] == ["bootstrap"]


# ---- x-api-key on every route --------------------------------------------------------------


def _fill(template, app_id, key_id, user_id):
    return template.format(app=app_id, key=key_id, user=user_id)


@pytest.mark.parametrize("method,template,body", KEYED_ROUTES,
                         ids=[f"{m} {p}" for m, p, _ in KEYED_ROUTES])
def test_missing_and_unknown_key_refused(api, method, template, body):
    app, admin = api.create_app()
    _, info = api.create_key(admin, "READONLY", "target")
    api.create_user(admin, "known-user")
    path = _fill(template, app["id"], info["id"], "known-user")
    r = api.call(method, path, None, body)
    assert error_of(r) == (401, MISSING), r.text
    r = api.call(method, path, "", body)
    assert error_of(r) == (401, MISSING), r.text
    for bad in ("fge_" + "f" * 48, admin[:-1], admin + "0", admin.upper(), "Bearer " + admin):
        r = api.call(method, path, bad, body)
        assert error_of(r) == (401, INVALID), (bad, r.text)
    # Nothing happened: the target key still works, the app kept its name.
    keys = api.get("/keys", admin).json()["keys"]
    assert info["id"] in [k["id"] for k in keys]
    assert api.get(f"/apps/{app['id']}", admin).json()["app"]["name"] == app["name"]
    assert api.get("/users/someone", admin).status_code == 404
    assert len(keys) == 2


def test_header_name_is_case_insensitive(api):
    _, admin = api.create_app()
    for name in ("X-API-Key", "X-API-KEY", "x-Api-kEy"):
        assert api.get("/keys", headers={name: admin}).status_code == 200, name


def test_operational_routes_need_no_key(api):
    for path in ("/health", "/ready", "/metrics"):
        assert api.get(path).status_code == 200, path
        assert api.get(path, "fge_" + "0" * 48).status_code == 200, path


def test_key_checked_before_the_body(api):
    # A bad body with a bad key: the key is what is reported.
    r = api.post("/keys", "fge_" + "1" * 48, raw=b"{oops",
                 headers={"Content-Type": "application/json"})
    assert error_of(r) == (401, INVALID)
    r = api.post("/users", None, raw=b"[]", headers={"Content-Type": "application/json"})
    assert error_of(r) == (401, MISSING)


def test_active_keys_per_app_are_capped(api):
    """At most 1000 active keys per app (the bootstrap key counts); revoking makes room, and
    other apps are not affected."""
    _, admin = api.create_app()
    _, other_admin = api.create_app()
    session = requests.Session()
    headers = {"x-api-key": admin, "Content-Type": "application/json"}
    last = None
    for i in range(999):
        last = session.post(api.server.url("/keys"), headers=headers,
                            data=json.dumps({"role": "READONLY", "name": f"k{i}"}),
                            timeout=IO_TIMEOUT)
        assert last.status_code == 201, (i, last.text)
    r = session.post(api.server.url("/keys"), headers=headers,
                     data=json.dumps({"role": "READONLY", "name": "one too many"}),
                     timeout=IO_TIMEOUT)
    assert r.status_code == 409
    assert r.json()["code"] == "too_many_keys"
    listed = api.get("/keys", admin).json()["keys"]
    assert len(listed) == 1000
    assert api.delete(f"/keys/{last.json()['apiKey']['id']}", admin).status_code == 204
    r = session.post(api.server.url("/keys"), headers=headers,
                     data=json.dumps({"role": "READONLY", "name": "room again"}),
                     timeout=IO_TIMEOUT)
    assert r.status_code == 201
    assert api.post("/keys", other_admin, {"role": "READONLY", "name": "x"}).status_code == 201
