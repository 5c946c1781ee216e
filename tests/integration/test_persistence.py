"""Persistence: a server restarted on the same data directory has the same apps, keys (with
their revocations and last use), users and rate limits."""

from tenants import OPERATOR_TOKEN, Api, error_of, start

INVALID = {"error": "Invalid API key", "code": "unauthorized"}


def key_rows(a, admin):
    return {k["id"]: k for k in a.get("/keys?includeRevoked=true", admin).json()["keys"]}


def test_everything_survives_a_restart(reactor, tmp_path):
    data = tmp_path / "data"
    s1 = start(reactor, data_dir=data)
    a1 = Api(s1)
    app, admin = a1.create_app("kept-app", name="Kept",
                               settings={"rateLimit": {"points": 1000, "windowSeconds": 60},
                                         "x": [1, 2]},
                               defaultTimezone="Europe/Paris",
                               webhookUrl="https://example.com/h", webhookSecret="hook-secret")
    ingest, ingest_info = a1.create_key(admin, "INGEST", "ingest")
    ro, ro_info = a1.create_key(admin, "READONLY", "reader")
    gone, gone_info = a1.create_key(admin, "ADMIN", "to revoke")
    assert a1.get("/keys", gone).status_code == 200  # used once before revocation
    assert a1.delete(f"/keys/{gone_info['id']}", admin).status_code == 204
    alice = a1.create_user(ingest, "alice", {"plan": "pro", "n": 1})
    bob = a1.create_user(admin, "bob")
    assert a1.get("/users/alice", ro).status_code == 200  # gives the reader a last use
    app_before = a1.get("/apps/kept-app", admin).json()["app"]
    keys_before = key_rows(a1, admin)
    assert keys_before[ro_info["id"]]["lastUsedAt"] is not None
    s1.stop()

    s2 = start(reactor, data_dir=data)
    a2 = Api(s2)
    assert a2.get("/apps/kept-app", admin).json()["app"] == app_before
    keys_after = key_rows(a2, admin)
    assert set(keys_after) == set(keys_before)
    for key_id, before in keys_before.items():
        after = keys_after[key_id]
        for f in ("name", "role", "createdAt", "revokedAt"):
            assert after.get(f) == before.get(f), (f, before, after)
    # Last use times were written at shutdown.
    assert keys_after[ro_info["id"]]["lastUsedAt"] == keys_before[ro_info["id"]]["lastUsedAt"]
    assert keys_after[gone_info["id"]]["revokedAt"] is not None
    assert [k["name"] for k in a2.get("/keys", admin).json()["keys"]] == \
        ["bootstrap", "ingest", "reader"]

    # The revoked key is still refused, on fresh connections to either thread.
    for _ in range(8):
        assert error_of(a2.get("/keys", gone)) == (401, INVALID)
    # The others work with their roles.
    assert a2.get("/users/alice", ro).json() == {"user": alice}
    assert a2.get("/users/bob", ingest).json() == {"user": bob}
    assert a2.post("/users", ro, {"userId": "x"}).status_code == 403
    assert a2.get("/keys", ingest).status_code == 403
    # The app id is still taken.
    r = a2.post("/apps", body={"id": "kept-app", "name": "Again"},
                operator=OPERATOR_TOKEN)
    assert r.status_code == 409

    # Changes made after the restart persist too.
    assert a2.delete(f"/keys/{ingest_info['id']}", admin).status_code == 204
    carol = a2.create_user(admin, "carol", {"c": True})
    new_key, _ = a2.create_key(admin, "READONLY", "after restart")
    s2.stop()

    s3 = start(reactor, data_dir=data)
    a3 = Api(s3)
    assert a3.get("/users/bob", ingest).status_code == 401
    assert a3.get("/users/carol", new_key).json() == {"user": carol}
    assert a3.get("/users/alice", ro).json() == {"user": alice}
    assert [k["name"] for k in a3.get("/keys", admin).json()["keys"]] == \
        ["bootstrap", "reader", "after restart"]
    s3.stop()


def test_rate_limit_settings_survive_a_restart(reactor, tmp_path):
    data = tmp_path / "data"
    s1 = start(reactor, data_dir=data)
    a1 = Api(s1)
    _, key = a1.create_app("limited", settings={"rateLimit": {"points": 3, "windowSeconds": 600}})
    _, patched_key = a1.create_app("patched")
    r = a1.patch("/apps/patched", patched_key,
                 {"settings": {"rateLimit": {"points": 2, "windowSeconds": 600}}})
    assert r.status_code == 200
    s1.stop()

    s2 = start(reactor, data_dir=data)
    a2 = Api(s2)
    for _ in range(3):
        assert a2.get("/apps/limited", key).status_code == 200
    assert a2.get("/apps/limited", key).status_code == 429
    for _ in range(2):
        assert a2.get("/apps/patched", patched_key).status_code == 200
    assert a2.get("/apps/patched", patched_key).status_code == 429
    s2.stop()
