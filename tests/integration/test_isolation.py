"""Tenant isolation: a key of app B can neither see nor change anything of app A, and every
answer it gets about A's things is exactly the answer for something that does not exist, so B
cannot even learn that A's ids exist."""

import pytest

from tenants import ROLES, api, error_of  # noqa: F401


@pytest.fixture(scope="module")
def two(api):
    """Apps A and B, each with a key per role, a user "shared-name" in both (with different
    attributes) and a user only A has."""
    a = api.tenant()
    b = api.tenant()
    api.create_user(a["ADMIN"], "shared-name", {"owner": "A"})
    api.create_user(b["ADMIN"], "shared-name", {"owner": "B"})
    api.create_user(a["ADMIN"], "only-in-a", {"secret": "A's data"})
    return a, b


def same_answer(r1, r2):
    """Status, content type and body byte for byte."""
    assert r1.status_code == r2.status_code, (r1.text, r2.text)
    assert r1.headers.get("Content-Type") == r2.headers.get("Content-Type")
    assert r1.content == r2.content, (r1.text, r2.text)


# (method, path for A's thing, path for a missing thing of the same shape, body)
def foreign_requests(a):
    app_a = a["app"]["id"]
    key_a = a["ids"]["INGEST"]
    return [
        ("GET", f"/apps/{app_a}", "/apps/no-such-app-xyz", None),
        ("PATCH", f"/apps/{app_a}", "/apps/no-such-app-xyz", {"name": "Taken over"}),
        ("DELETE", f"/keys/{key_a}", "/keys/00000000-0000-4000-8000-000000000000", None),
        ("GET", "/users/only-in-a", "/users/nobody-anywhere", None),
        ("GET", "/users/only-in-a/profile", "/users/nobody-anywhere/profile", None),
    ]


@pytest.mark.parametrize("index", range(5), ids=["GET app", "PATCH app", "DELETE key",
                                                 "GET user", "GET profile"])
def test_foreign_ids_answer_exactly_like_missing_ones(api, two, index):
    a, b = two
    method, foreign, missing, body = foreign_requests(a)[index]
    r_foreign = api.call(method, foreign, b["ADMIN"], body)
    r_missing = api.call(method, missing, b["ADMIN"], body)
    assert r_foreign.status_code == 404, r_foreign.text
    same_answer(r_foreign, r_missing)
    assert error_of(r_foreign)[1]["code"] == "not_found"


def test_foreign_user_lookups_for_every_role(api, two):
    a, b = two
    for role in ROLES:
        for path in ("/users/only-in-a", "/users/only-in-a/profile"):
            r = api.get(path, b[role])
            same_answer(r, api.get(path.replace("only-in-a", "nobody-anywhere"), b[role]))
            assert "A's data" not in r.text


def test_nothing_of_a_changed(api, two):
    a, b = two
    # Run every foreign request first (the order of tests is not to be relied on).
    for method, foreign, _, body in foreign_requests(a):
        assert api.call(method, foreign, b["ADMIN"], body).status_code == 404
    app = api.get(f"/apps/{a['app']['id']}", a["ADMIN"]).json()["app"]
    assert app["name"] == a["app"]["name"]
    assert app["updatedAt"] == a["app"]["updatedAt"]
    # A's INGEST key was not revoked by B.
    assert api.post("/users", a["INGEST"], {"userId": "still-works"}).status_code == 201
    listed = api.get("/keys", a["ADMIN"]).json()["keys"]
    assert a["ids"]["INGEST"] in [k["id"] for k in listed]


def test_same_user_id_is_two_users(api, two):
    a, b = two
    ua = api.get("/users/shared-name", a["READONLY"]).json()["user"]
    ub = api.get("/users/shared-name", b["READONLY"]).json()["user"]
    assert ua["attributes"] == {"owner": "A"} and ua["appId"] == a["app"]["id"]
    assert ub["attributes"] == {"owner": "B"} and ub["appId"] == b["app"]["id"]
    # B upserting its own "shared-name" leaves A's alone.
    api.create_user(b["INGEST"], "shared-name", {"owner": "B", "v": 2})
    assert api.get("/users/shared-name", a["ADMIN"]).json()["user"]["attributes"] == \
        {"owner": "A"}


def test_key_listing_shows_only_own_keys(api, two):
    a, b = two
    ids_a = set(a["ids"].values())
    ids_b = set(b["ids"].values())
    listed_b = {k["id"] for k in api.get("/keys?includeRevoked=true", b["ADMIN"]).json()["keys"]}
    assert ids_b <= listed_b
    assert not (ids_a & listed_b)


def test_new_key_belongs_to_the_callers_app(api, two):
    a, b = two
    r = api.post("/keys", b["ADMIN"], {"role": "ADMIN", "name": "x", "appId": a["app"]["id"]})
    assert r.status_code == 201
    new = r.json()["key"]
    assert api.get(f"/apps/{b['app']['id']}", new).status_code == 200
    assert api.get(f"/apps/{a['app']['id']}", new).status_code == 404
    assert api.get("/users/only-in-a", new).status_code == 404
