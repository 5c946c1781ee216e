"""The role matrix: ADMIN may do everything, INGEST may also upsert users, READONLY may only
read users. Every (role, route) pair is checked for its exact status, and a refused request
must have had no effect."""

import uuid

import pytest

from tenants import ROLES, api, error_of  # noqa: F401

# route name -> expected status per role
MATRIX = {
    "GET /apps/:id":             {"ADMIN": 200, "INGEST": 403, "READONLY": 403},
    "PATCH /apps/:id":           {"ADMIN": 200, "INGEST": 403, "READONLY": 403},
    "POST /keys":                {"ADMIN": 201, "INGEST": 403, "READONLY": 403},
    "GET /keys":                 {"ADMIN": 200, "INGEST": 403, "READONLY": 403},
    "DELETE /keys/:id":          {"ADMIN": 204, "INGEST": 403, "READONLY": 403},
    "POST /users":               {"ADMIN": 201, "INGEST": 201, "READONLY": 403},
    "GET /users/:id":            {"ADMIN": 200, "INGEST": 200, "READONLY": 200},
    "GET /users/:id/profile":    {"ADMIN": 200, "INGEST": 200, "READONLY": 200},
}

CASES = [(route, role) for route in MATRIX for role in ROLES]


@pytest.fixture(scope="module")
def tenant(api):
    t = api.tenant(name="Roles")
    api.create_user(t["ADMIN"], "member", {"v": 0})
    return t


def request_for(api, t, route, tag):
    """(method, path, body) for one route; DELETE gets a fresh victim key each time."""
    app_id = t["app"]["id"]
    if route == "GET /apps/:id":
        return "GET", f"/apps/{app_id}", None
    if route == "PATCH /apps/:id":
        return "PATCH", f"/apps/{app_id}", {"name": f"Renamed by {tag}"}
    if route == "POST /keys":
        return "POST", "/keys", {"role": "READONLY", "name": f"made by {tag}"}
    if route == "GET /keys":
        return "GET", "/keys", None
    if route == "DELETE /keys/:id":
        _, info = api.create_key(t["ADMIN"], "READONLY", f"victim of {tag}")
        return "DELETE", f"/keys/{info['id']}", None
    if route == "POST /users":
        return "POST", "/users", {"userId": f"made-by-{tag}", "attributes": {"by": tag}}
    if route == "GET /users/:id":
        return "GET", "/users/member", None
    if route == "GET /users/:id/profile":
        return "GET", "/users/member/profile", None
    raise AssertionError(route)


def effect_visible(api, t, route, tag, path):
    """Whether the request tagged `tag` left a trace (checked with the ADMIN key)."""
    admin = t["ADMIN"]
    if route == "PATCH /apps/:id":
        return api.get(f"/apps/{t['app']['id']}", admin).json()["app"]["name"] == \
            f"Renamed by {tag}"
    if route == "POST /keys":
        keys = api.get("/keys", admin).json()["keys"]
        return any(k["name"] == f"made by {tag}" for k in keys)
    if route == "DELETE /keys/:id":
        key_id = path.rsplit("/", 1)[1]
        keys = api.get("/keys", admin).json()["keys"]
        return key_id not in [k["id"] for k in keys]
    if route == "POST /users":
        return api.get(f"/users/made-by-{tag}", admin).status_code == 200
    return None  # reads have no effect to look for


@pytest.mark.parametrize("route,role", CASES, ids=[f"{role} {route}" for route, role in CASES])
def test_role_matrix(api, tenant, route, role):
    expected = MATRIX[route][role]
    tag = f"{role.lower()}-{uuid.uuid4().hex[:8]}"
    method, path, body = request_for(api, tenant, route, tag)
    r = api.call(method, path, tenant[role], body)
    assert r.status_code == expected, r.text
    if expected == 403:
        assert error_of(r) == (403, {"error": f"This key's role ({role}) may not do this",
                                     "code": "forbidden"})
    effect = effect_visible(api, tenant, route, tag, path)
    if effect is not None:
        assert effect == (expected != 403), f"{role} {route}: effect {effect}"


@pytest.mark.parametrize("role", ["INGEST", "READONLY"])
def test_role_checked_before_the_body(api, tenant, role):
    # An invalid body from a key whose role may not call the route: 403, not 400.
    r = api.post("/keys", tenant[role], {"role": "NOPE"})
    assert r.status_code == 403
    if role == "READONLY":
        r = api.post("/users", tenant[role], raw=b"{broken",
                     headers={"Content-Type": "application/json"})
        assert r.status_code == 403


def test_keys_created_with_a_role_get_that_role(api, tenant):
    for role in ROLES:
        secret, info = api.create_key(tenant["ADMIN"], role, f"fresh {role}")
        assert info["role"] == role
        can_list = api.get("/keys", secret).status_code
        can_upsert = api.post("/users", secret, {"userId": "fresh"}).status_code
        assert (can_list, can_upsert) == (
            {"ADMIN": (200, 201), "INGEST": (403, 201), "READONLY": (403, 403)}[role])
