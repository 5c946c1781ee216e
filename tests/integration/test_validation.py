"""Request validation: every field rule of POST /apps, PATCH /apps/:id, POST /keys and
POST /users answers 400 {"error":"Validation failed","code":"validation_failed","details":{field:
message}} naming the field; malformed bodies get a clear 400 of their own; nothing invalid is
stored."""

import json

import pytest

from tenants import OPERATOR_TOKEN, api, error_of, unique  # noqa: F401

RATE_MSG = "rateLimit"


@pytest.fixture(scope="module")
def t(api):
    return api.tenant(name="Validation")


def assert_invalid(r, field, fragment):
    status, j = error_of(r)
    assert status == 400, r.text
    assert j["error"] == "Validation failed" and j["code"] == "validation_failed", j
    assert set(j["details"]) == {field}, j
    assert fragment in j["details"][field], j


# ---- POST /apps --------------------------------------------------------------------------------

APP_BAD = [
    # (field, value or _MISSING, message fragment)
    ("id", "MISSING", "is required"),
    ("id", None, "is required"),
    ("id", 123, "must be a string"),
    ("id", "a", "at least 2 characters"),
    ("id", "x" * 65, "at most 64 characters"),
    ("id", "has space", "letters, digits"),
    ("id", "a/b", "letters, digits"),
    ("id", "caf\u00e9", "letters, digits"),
    ("name", "MISSING", "is required"),
    ("name", "x", "at least 2 characters"),
    ("name", "x" * 201, "at most 200 characters"),
    ("name", ["list"], "must be a string"),
    ("settings", "text", "must be an object"),
    ("settings", [], "must be an object"),
    ("settings", None, "must not be null"),
    ("settings", {"blob": "x" * (65536 - 10)}, "64 KiB"),  # one byte over
    ("settings", {"rateLimit": 5}, RATE_MSG),
    ("settings", {"rateLimit": {"points": 0, "windowSeconds": 60}}, RATE_MSG),
    ("settings", {"rateLimit": {"points": 5}}, RATE_MSG),
    ("settings", {"rateLimit": {"windowSeconds": 60}}, RATE_MSG),
    ("settings", {"rateLimit": {"points": 5, "windowSeconds": 0}}, RATE_MSG),
    ("settings", {"rateLimit": {"points": "5", "windowSeconds": 60}}, RATE_MSG),
    ("settings", {"rateLimit": {"points": 1.5, "windowSeconds": 60}}, RATE_MSG),
    ("settings", {"rateLimit": {"points": -1, "windowSeconds": 60}}, RATE_MSG),
    ("defaultTimezone", "Mars/Base", "time zone"),
    ("defaultTimezone", "../etc/passwd", "time zone"),
    ("defaultTimezone", "/etc/localtime", "time zone"),
    ("defaultTimezone", "", "time zone"),
    ("defaultTimezone", "localtime", "time zone"),  # the host's setting, not a zone
    ("defaultTimezone", 1, "must be a string"),
    ("webhookUrl", "ftp://example.com/", "http"),
    ("webhookUrl", "example.com/hook", "http"),
    ("webhookUrl", "https://", "http"),
    ("webhookUrl", 42, "must be a string"),
    ("webhookSecret", "7-chars", "at least 8 characters"),
    ("webhookSecret", "s" * 257, "at most 256 characters"),
    ("webhookSecret", "\u00e9" * 129, "at most 256 bytes"),  # 129 characters, 258 bytes
    ("webhookSecret", 12345678, "must be a string"),
]


@pytest.mark.parametrize("field,value,fragment", APP_BAD,
                         ids=[f"{f}={str(v)[:24]}" for f, v, _ in APP_BAD])
def test_create_app_field_rules(api, field, value, fragment):
    app_id = unique()
    body = {"id": app_id, "name": "Valid name"}
    if value == "MISSING":
        del body[field]
    else:
        body[field] = value
    r = api.post("/apps", body=body, operator=OPERATOR_TOKEN)
    assert_invalid(r, field, fragment)
    if field != "id":
        # Nothing was stored: the id is still free.
        api.create_app(app_id)


APP_GOOD = [
    {"id": "ab"},
    {"id": "x" * 64},
    {"id": "My.App_2:prod-1"},
    {"name": "ab"},
    {"name": "\u00e9" * 200},  # 200 characters, 400 bytes
    {"settings": {}},
    {"settings": {"rateLimit": {"points": 1, "windowSeconds": 1}}},
    {"settings": {"blob": "x" * (65536 - 11)}},  # serialises to exactly 64 KiB
    {"defaultTimezone": "America/Argentina/Buenos_Aires"},
    {"webhookUrl": None, "webhookSecret": None},
    {"webhookUrl": "http://localhost:8080/hook"},
    {"webhookSecret": "s" * 8},
    {"webhookSecret": "s" * 256},
]


@pytest.mark.parametrize("fields", APP_GOOD, ids=[str(f)[:40] for f in APP_GOOD])
def test_create_app_accepts_boundaries(api, fields):
    # Each module has its own server and data directory: the fixed ids are free.
    body = {"id": unique(), "name": "Valid name"}
    body.update(fields)
    r = api.post("/apps", body=body, operator=OPERATOR_TOKEN)
    assert r.status_code == 201, r.text
    app = r.json()["app"]
    for k, v in body.items():
        if k == "webhookSecret":
            assert app["hasWebhookSecret"] is (v is not None)
        else:
            assert app[k] == v, k


def test_every_invalid_field_reported_at_once(api):
    r = api.post("/apps", body={"id": "x", "name": "", "settings": [], "defaultTimezone": "Nope/No",
                                "webhookUrl": "gopher://x", "webhookSecret": "short"},
                 operator=OPERATOR_TOKEN)
    status, j = error_of(r)
    assert status == 400
    assert set(j["details"]) == {"id", "name", "settings", "defaultTimezone", "webhookUrl",
                                 "webhookSecret"}


def test_unknown_fields_are_ignored(api):
    app_id = unique()
    r = api.post("/apps", body={"id": app_id, "name": "Extra", "colour": "blue",
                                "hasWebhookSecret": True}, operator=OPERATOR_TOKEN)
    assert r.status_code == 201
    assert r.json()["app"]["hasWebhookSecret"] is False
    assert "colour" not in r.json()["app"]


# ---- PATCH /apps/:id -----------------------------------------------------------------------

PATCH_BAD = [
    ("name", None, "must not be null"),
    ("name", "x", "at least 2 characters"),
    ("settings", {"rateLimit": {"points": 0, "windowSeconds": 1}}, RATE_MSG),
    ("defaultTimezone", "Mars/Base", "time zone"),
    ("webhookUrl", "mailto:x@example.com", "http"),
    ("webhookSecret", "short", "at least 8 characters"),
]


@pytest.mark.parametrize("field,value,fragment", PATCH_BAD, ids=[f for f, _, _ in PATCH_BAD])
def test_patch_app_field_rules(api, t, field, value, fragment):
    path = f"/apps/{t['app']['id']}"
    before = api.get(path, t["ADMIN"]).json()["app"]
    assert_invalid(api.patch(path, t["ADMIN"], {field: value}), field, fragment)
    assert api.get(path, t["ADMIN"]).json()["app"] == before


# ---- POST /keys --------------------------------------------------------------------------------

KEY_BAD = [
    ("role", "MISSING", "is required"),
    ("role", "admin", "one of ADMIN, INGEST, READONLY"),
    ("role", "OWNER", "one of ADMIN, INGEST, READONLY"),
    ("role", 1, "must be a string"),
    ("name", "MISSING", "is required"),
    ("name", "", "at least 1 characters"),
    ("name", "n" * 201, "at most 200 characters"),
]


@pytest.mark.parametrize("field,value,fragment", KEY_BAD,
                         ids=[f"{f}={str(v)[:16]}" for f, v, _ in KEY_BAD])
def test_create_key_field_rules(api, t, field, value, fragment):
    body = {"role": "READONLY", "name": "valid"}
    if value == "MISSING":
        del body[field]
    else:
        body[field] = value
    n_before = len(api.get("/keys?includeRevoked=true", t["ADMIN"]).json()["keys"])
    assert_invalid(api.post("/keys", t["ADMIN"], body), field, fragment)
    assert len(api.get("/keys?includeRevoked=true", t["ADMIN"]).json()["keys"]) == n_before


def test_create_key_name_boundaries(api, t):
    for name in ("n", "n" * 200, "\u00e9" * 200):
        _, info = api.create_key(t["ADMIN"], "READONLY", name)
        assert info["name"] == name


# ---- POST /users -------------------------------------------------------------------------------

USER_BAD = [
    ("userId", "MISSING", "is required"),
    ("userId", "", "at least 1 characters"),
    ("userId", "u" * 129, "at most 128 characters"),
    ("userId", "\u00e9" * 129, "at most 128 characters"),
    ("userId", "tab\there", "control characters"),
    ("userId", "nl\n", "control characters"),
    ("userId", "nul-free\u0001", "control characters"),
    ("userId", 42, "must be a string"),
    ("attributes", [], "must be an object"),
    ("attributes", "x", "must be an object"),
    ("attributes", None, "must not be null"),
    ("attributes", {"blob": "x" * (16 * 1024 - 10)}, "16 KiB"),  # one byte over
]


@pytest.mark.parametrize("field,value,fragment", USER_BAD,
                         ids=[f"{f}={str(v)[:16]!r}" for f, v, _ in USER_BAD])
def test_upsert_user_field_rules(api, t, field, value, fragment):
    user_id = unique("user")
    body = {"userId": user_id, "attributes": {"ok": True}}
    if value == "MISSING":
        del body[field]
    else:
        body[field] = value
    assert_invalid(api.post("/users", t["INGEST"], body), field, fragment)
    if field != "userId":
        assert api.get(f"/users/{user_id}", t["ADMIN"]).status_code == 404


def test_upsert_user_boundaries(api, t):
    for uid in ("u", "u" * 128, "\u00e9" * 128):
        assert api.create_user(t["INGEST"], uid)["userId"] == uid
    attrs = {"blob": "x" * (16 * 1024 - 11)}  # serialises to exactly 16 KiB
    assert len(json.dumps(attrs, separators=(",", ":"))) == 16 * 1024
    assert api.create_user(t["INGEST"], "big", attrs)["attributes"] == attrs


def test_invalid_upsert_keeps_the_existing_user(api, t):
    api.create_user(t["ADMIN"], "steady", {"v": 1})
    r = api.post("/users", t["ADMIN"], {"userId": "steady", "attributes": {"b": "x" * 20000}})
    assert r.status_code == 400
    assert api.get("/users/steady", t["ADMIN"]).json()["user"]["attributes"] == {"v": 1}


# ---- malformed bodies, on every route that takes one -------------------------------------------

def body_routes(t):
    return [
        ("POST", "/apps", None, OPERATOR_TOKEN),
        ("PATCH", f"/apps/{t['app']['id']}", t["ADMIN"], None),
        ("POST", "/keys", t["ADMIN"], None),
        ("POST", "/users", t["ADMIN"], None),
    ]


ROUTE_IDS = ["POST /apps", "PATCH /apps/:id", "POST /keys", "POST /users"]


@pytest.mark.parametrize("index", range(4), ids=ROUTE_IDS)
def test_malformed_bodies(api, t, index):
    method, path, key, operator = body_routes(t)[index]

    def send(raw, content_type="application/json"):
        headers = {"Content-Type": content_type} if content_type else {}
        return api.call(method, path, key, raw=raw, headers=headers, operator=operator)

    ct = {"error": "Content-Type must be application/json", "code": "bad_content_type"}
    assert error_of(send(b'{"a":1}', "text/plain")) == (400, ct)
    assert error_of(send(b'{"a":1}', "application/x-www-form-urlencoded")) == (400, ct)
    assert error_of(send(b'{"a":1}', None)) == (400, ct)
    assert error_of(send(b'{"a":1}', "application/jsonx")) == (400, ct)

    status, j = error_of(send(b'{"userId": "x",'))
    assert status == 400 and j["code"] == "invalid_json"
    assert j["error"].startswith("invalid JSON"), j
    status, j = error_of(send(b"{'single': 'quotes'}"))
    assert status == 400 and j["code"] == "invalid_json"
    status, j = error_of(send(b'{"a":1,"a":2}'))  # duplicate keys
    assert status == 400 and j["code"] == "invalid_json"
    status, j = error_of(send(b""))
    assert status == 400 and j["code"] == "invalid_json" and "empty" in j["error"], j

    for not_object in (b"[]", b'"text"', b"42", b"null"):
        status, j = error_of(send(not_object))
        assert status == 400, not_object
        assert j["code"] == "validation_failed"
        assert j["details"] == {"body": "must be a JSON object"}, j

    # A charset parameter is fine.
    r = send(b"{}", "application/json; charset=utf-8")
    assert r.json().get("code") not in ("bad_content_type", "invalid_json"), r.text
    assert "body" not in r.json().get("details", {})
