"""Users: POST /users upserts a user of the key's app; GET /users/:id and /users/:id/profile
read it back."""

import time
import urllib.parse

from tenants import ISO_RE, api, error_of  # noqa: F401

USER_FIELDS = {"userId", "appId", "attributes", "createdAt", "updatedAt"}
NOT_FOUND = {"error": "User not found", "code": "not_found"}


def test_create_then_get_user(api):
    app, admin = api.create_app()
    attrs = {"plan": "pro", "age": 31, "score": 1.5, "tags": ["a", "b"], "nested": {"x": None},
             "emoji": "\U0001f600", "flag": False}
    r = api.post("/users", admin, {"userId": "alice", "attributes": attrs})
    assert r.status_code == 201, r.text
    user = r.json()["user"]
    assert set(r.json()) == {"user"}
    assert set(user) == USER_FIELDS
    assert user["userId"] == "alice"
    assert user["appId"] == app["id"]
    assert user["attributes"] == attrs
    assert ISO_RE.match(user["createdAt"])
    assert user["createdAt"] == user["updatedAt"]

    r = api.get("/users/alice", admin)
    assert r.status_code == 200
    assert r.json() == {"user": user}


def test_user_without_attributes_gets_empty_object(api):
    _, admin = api.create_app()
    user = api.create_user(admin, "bare")
    assert user["attributes"] == {}
    assert api.get("/users/bare", admin).json()["user"]["attributes"] == {}


def test_upsert_replaces_attributes_and_keeps_created_at(api):
    _, admin = api.create_app()
    first = api.create_user(admin, "bob", {"level": 1, "old": True})
    time.sleep(0.005)
    second = api.create_user(admin, "bob", {"level": 2})
    assert second["attributes"] == {"level": 2}  # replaced whole, not merged
    assert second["createdAt"] == first["createdAt"]
    assert second["updatedAt"] > first["updatedAt"]
    time.sleep(0.005)
    # attributes omitted: the old ones stay.
    third = api.create_user(admin, "bob")
    assert third["attributes"] == {"level": 2}
    assert third["createdAt"] == first["createdAt"]
    assert third["updatedAt"] > second["updatedAt"]
    # An empty object is a value, not an omission.
    fourth = api.create_user(admin, "bob", {})
    assert fourth["attributes"] == {}
    assert api.get("/users/bob", admin).json()["user"] == fourth


def test_profile_has_user_and_empty_collections(api):
    _, admin = api.create_app()
    user = api.create_user(admin, "carol", {"k": "v"})
    r = api.get("/users/carol/profile", admin)
    assert r.status_code == 200
    assert r.json() == {"user": user, "levels": [], "streaks": [], "currencies": [],
                        "achievements": []}


def test_missing_user_is_404(api):
    _, admin = api.create_app()
    api.create_user(admin, "present")
    for path in ("/users/absent", "/users/absent/profile", "/users/PRESENT",
                 "/users/present%20", "/users/" + "x" * 129, "/users/" + "x" * 129 + "/profile"):
        assert error_of(api.get(path, admin)) == (404, NOT_FOUND), path


def test_unusual_user_ids_round_trip(api):
    _, admin = api.create_app()
    ids = ["user 1/with?odd#chars&more=%", "\u00fcber-\u7528\u6237", "alice@example.com",
           "x" * 128, "\u00e9" * 128, "'; DROP TABLE users; --"]
    for uid in ids:
        created = api.create_user(admin, uid, {"id": uid})
        assert created["userId"] == uid
        path = "/users/" + urllib.parse.quote(uid, safe="")
        r = api.get(path, admin)
        assert r.status_code == 200, (uid, r.text)
        assert r.json()["user"] == created
        r = api.get(path + "/profile", admin)
        assert r.status_code == 200 and r.json()["user"] == created


def test_ingest_and_readonly_keys_see_the_same_users(api):
    app, admin = api.create_app()
    ingest, _ = api.create_key(admin, "INGEST")
    ro, _ = api.create_key(admin, "READONLY")
    user = api.create_user(ingest, "from-ingest", {"src": "ingest"})
    assert user["appId"] == app["id"]
    for key in (admin, ingest, ro):
        assert api.get("/users/from-ingest", key).json() == {"user": user}


def test_app_id_in_body_is_ignored(api):
    app_a, key_a = api.create_app()
    app_b, key_b = api.create_app()
    r = api.post("/users", key_b, {"userId": "sneaky", "appId": app_a["id"]})
    assert r.status_code == 201
    assert r.json()["user"]["appId"] == app_b["id"]
    assert api.get("/users/sneaky", key_a).status_code == 404
    assert api.get("/users/sneaky", key_b).status_code == 200


def test_concurrent_upserts_of_one_user(api):
    """Many parallel upserts of one user: one row, all answered 201, the final state is one of
    the writes."""
    import concurrent.futures

    _, admin = api.create_app()

    def upsert(i):
        return api.post("/users", admin, {"userId": "racer", "attributes": {"n": i}})

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(upsert, range(32)))
    assert all(r.status_code == 201 for r in results), [r.status_code for r in results]
    created = {r.json()["user"]["createdAt"] for r in results}
    assert len(created) == 1
    final = api.get("/users/racer", admin).json()["user"]
    assert final["attributes"]["n"] in range(32)
    assert final["createdAt"] in created


def test_full_store_queue_answers_503_and_writes_nothing(reactor):
    """With a store queue of one, a burst of writes overflows it: the overflow is answered 503
    with Retry-After at once (not queued without bound), and only the 201s were stored."""
    import concurrent.futures

    from tenants import Api, start

    s = start(reactor, ["--engine-queue", "1"])
    a = Api(s)
    _, admin = a.create_app()

    def upsert(i):
        return i, a.post("/users", admin, {"userId": f"burst-{i}"})

    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(upsert, range(200)))
    busy = [(i, r) for i, r in results if r.status_code == 503]
    done = [i for i, r in results if r.status_code == 201]
    assert len(busy) + len(done) == 200, [r.status_code for _, r in results]
    assert busy, "no request overflowed a store queue of 1"
    assert done
    for i, r in busy:
        assert r.headers.get("Retry-After") == "1"
        assert error_of(r)[1]["code"] == "overloaded"

    def status_of(i):
        # The readiness probe also uses the one-slot queue: retry a read that meets it.
        for _ in range(50):
            r = a.get(f"/users/burst-{i}", admin)
            if r.status_code != 503:
                return r.status_code
        return 503

    for i, _ in busy[:20]:
        assert status_of(i) == 404
    for i in done[:20]:
        assert status_of(i) == 200
