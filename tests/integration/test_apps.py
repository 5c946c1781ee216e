"""Apps: POST /apps with the operator token, GET and PATCH /apps/:id with the app's ADMIN key.
The webhook secret never comes back in any answer."""

import json
import time
from datetime import datetime, timezone

from tenants import ISO_RE, KEY_RE, OPERATOR_TOKEN, Api, api, error_of, start, unique  # noqa: F401

APP_FIELDS = {"id", "name", "settings", "defaultTimezone", "webhookUrl", "webhookEvents",
              "hasWebhookSecret", "createdAt", "updatedAt"}


def iso_ms(s):
    assert ISO_RE.match(s), s
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp() * 1000


# ---- POST /apps ----------------------------------------------------------------------------


def test_create_app_returns_app_and_bootstrap_key(api):
    app_id = unique()
    before = time.time() * 1000
    r = api.post("/apps", body={"id": app_id, "name": "My Game"}, operator=OPERATOR_TOKEN)
    after = time.time() * 1000
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    j = r.json()
    assert set(j) == {"app", "bootstrapApiKey"}
    app = j["app"]
    assert set(app) == APP_FIELDS
    assert app["id"] == app_id
    assert app["name"] == "My Game"
    assert app["settings"] == {}
    assert app["defaultTimezone"] == "UTC"
    assert app["webhookUrl"] is None
    assert app["hasWebhookSecret"] is False
    assert app["createdAt"] == app["updatedAt"]
    assert before - 1000 <= iso_ms(app["createdAt"]) <= after + 1000
    assert KEY_RE.match(j["bootstrapApiKey"]), j["bootstrapApiKey"]

    # The bootstrap key is an ADMIN key of this app, named "bootstrap".
    got = api.get(f"/apps/{app_id}", j["bootstrapApiKey"])
    assert got.status_code == 200, got.text
    assert got.json() == {"app": app}
    keys = api.get("/keys", j["bootstrapApiKey"]).json()["keys"]
    assert [(k["name"], k["role"]) for k in keys] == [("bootstrap", "ADMIN")]


def test_create_app_with_every_field(api):
    app_id = unique()
    settings = {"rateLimit": {"points": 1000, "windowSeconds": 60}, "theme": {"color": "red"},
                "flags": [1, 2.5, None, "x"]}
    app, key = api.create_app(app_id, name="Le Jeu \u00e9t\u00e9", settings=settings,
                              defaultTimezone="Europe/Paris",
                              webhookUrl="https://hooks.example.com/forge?x=1",
                              webhookSecret="whsec-very-secret-value")
    assert app["name"] == "Le Jeu \u00e9t\u00e9"
    assert app["settings"] == settings
    assert app["defaultTimezone"] == "Europe/Paris"
    assert app["webhookUrl"] == "https://hooks.example.com/forge?x=1"
    assert app["hasWebhookSecret"] is True
    assert api.get(f"/apps/{app_id}", key).json()["app"] == app


def test_webhook_secret_never_returned(api):
    secret = "whsec-do-not-echo-12345"
    app_id = unique()
    r = api.post("/apps", body={"id": app_id, "name": "Hooked", "webhookSecret": secret},
                 operator=OPERATOR_TOKEN)
    assert r.status_code == 201
    assert secret not in r.text
    assert "webhookSecret" not in r.json()["app"]
    key = r.json()["bootstrapApiKey"]
    r = api.get(f"/apps/{app_id}", key)
    assert secret not in r.text and "webhookSecret" not in r.json()["app"]
    assert r.json()["app"]["hasWebhookSecret"] is True
    new_secret = "whsec-second-secret-678"
    r = api.patch(f"/apps/{app_id}", key, {"webhookSecret": new_secret})
    assert r.status_code == 200
    assert new_secret not in r.text and secret not in r.text
    assert r.json()["app"]["hasWebhookSecret"] is True


def test_two_apps_get_different_keys(api):
    _, k1 = api.create_app()
    _, k2 = api.create_app()
    assert k1 != k2


def test_duplicate_app_id_conflicts_and_keeps_the_first(api):
    app_id = unique()
    first, key = api.create_app(app_id, name="First")
    r = api.post("/apps", body={"id": app_id, "name": "Second"}, operator=OPERATOR_TOKEN)
    status, j = error_of(r)
    assert status == 409
    assert j["code"] == "conflict"
    assert "bootstrapApiKey" not in j
    # The first app and its key are untouched; no second key was added.
    got = api.get(f"/apps/{app_id}", key)
    assert got.status_code == 200
    assert got.json()["app"] == first
    assert len(api.get("/keys", key).json()["keys"]) == 1


def test_create_app_needs_operator_token(api):
    app_id = unique()
    r = api.post("/apps", body={"id": app_id, "name": "Nope"})
    assert error_of(r) == (401, {"error": "Missing operator token", "code": "unauthorized"})
    r = api.post("/apps", body={"id": app_id, "name": "Nope"}, operator="wrong-token-000000000")
    assert error_of(r) == (401, {"error": "Invalid operator token", "code": "unauthorized"})
    # Near misses of the real token.
    for bad in (OPERATOR_TOKEN[:-1], OPERATOR_TOKEN + "x", OPERATOR_TOKEN.upper()):
        r = api.post("/apps", body={"id": app_id, "name": "Nope"}, operator=bad)
        assert error_of(r) == (401, {"error": "Invalid operator token", "code": "unauthorized"})
    # Another scheme is not a bearer token.
    r = api.post("/apps", body={"id": app_id, "name": "Nope"},
                 headers={"Authorization": f"Basic {OPERATOR_TOKEN}"})
    assert error_of(r) == (401, {"error": "Missing operator token", "code": "unauthorized"})
    # An app's API key is not the operator token.
    _, key = api.create_app()
    r = api.post("/apps", key, {"id": app_id, "name": "Nope"})
    assert r.status_code == 401
    r = api.post("/apps", body={"id": app_id, "name": "Nope"}, operator=key)
    assert error_of(r) == (401, {"error": "Invalid operator token", "code": "unauthorized"})
    # None of these created the app: the id is still free.
    api.create_app(app_id)


def test_operator_token_checked_before_the_body(api):
    r = api.post("/apps", raw=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 401


def test_bearer_scheme_is_case_insensitive(api):
    r = api.post("/apps", body={"id": unique(), "name": "Lower"},
                 headers={"Authorization": f"bearer {OPERATOR_TOKEN}"})
    assert r.status_code == 201, r.text


# ---- GET /apps/:id -------------------------------------------------------------------------


def test_get_app_needs_its_admin_key(api):
    app, admin = api.create_app()
    path = f"/apps/{app['id']}"
    assert error_of(api.get(path)) == (401, {"error": "Missing API key", "code": "unauthorized"})
    r = api.get(path, "fge_" + "0" * 48)
    assert error_of(r) == (401, {"error": "Invalid API key", "code": "unauthorized"})
    r = api.get("/apps/no-such-app", admin)
    assert error_of(r) == (404, {"error": "App not found", "code": "not_found"})


# ---- PATCH /apps/:id -----------------------------------------------------------------------


def test_patch_changes_given_fields_only(api):
    app, key = api.create_app(name="Before", settings={"a": 1}, defaultTimezone="Asia/Tokyo",
                              webhookUrl="http://old.example.com/h", webhookSecret="old-secret")
    path = f"/apps/{app['id']}"
    time.sleep(0.005)
    r = api.patch(path, key, {"name": "After"})
    assert r.status_code == 200, r.text
    got = r.json()["app"]
    assert got["name"] == "After"
    assert got["settings"] == {"a": 1}
    assert got["defaultTimezone"] == "Asia/Tokyo"
    assert got["webhookUrl"] == "http://old.example.com/h"
    assert got["hasWebhookSecret"] is True
    assert got["createdAt"] == app["createdAt"]
    assert iso_ms(got["updatedAt"]) > iso_ms(app["updatedAt"])
    assert api.get(path, key).json()["app"] == got

    r = api.patch(path, key, {"settings": {"b": 2}, "defaultTimezone": "America/New_York",
                              "webhookUrl": "https://new.example.com/h"})
    got = r.json()["app"]
    assert got["settings"] == {"b": 2}  # replaced, not merged
    assert got["defaultTimezone"] == "America/New_York"
    assert got["webhookUrl"] == "https://new.example.com/h"
    assert got["name"] == "After"

    # null clears the webhook.
    r = api.patch(path, key, {"webhookUrl": None, "webhookSecret": None})
    got = r.json()["app"]
    assert got["webhookUrl"] is None
    assert got["hasWebhookSecret"] is False
    assert api.get(path, key).json()["app"] == got


def test_patch_cannot_change_the_id(api):
    app, key = api.create_app()
    r = api.patch(f"/apps/{app['id']}", key, {"id": "hijacked-id", "name": "Renamed"})
    assert r.status_code == 200
    assert r.json()["app"]["id"] == app["id"]
    assert api.get("/apps/hijacked-id", key).status_code == 404
    assert api.get(f"/apps/{app['id']}", key).json()["app"]["name"] == "Renamed"


def test_empty_patch_keeps_everything(api):
    app, key = api.create_app(settings={"k": "v"})
    r = api.patch(f"/apps/{app['id']}", key, {})
    assert r.status_code == 200
    got = r.json()["app"]
    for f in APP_FIELDS - {"updatedAt"}:
        assert got[f] == app[f], f


def test_invalid_patch_changes_nothing(api):
    app, key = api.create_app(name="Stable")
    r = api.patch(f"/apps/{app['id']}", key, {"name": "Good name", "defaultTimezone": "Mars/Base"})
    status, j = error_of(r)
    assert status == 400 and set(j["details"]) == {"defaultTimezone"}
    assert api.get(f"/apps/{app['id']}", key).json()["app"] == app


def test_patch_other_app_is_not_found(api):
    app_a, key_a = api.create_app()
    r = api.patch("/apps/no-such-app", key_a, {"name": "x y"})
    assert error_of(r) == (404, {"error": "App not found", "code": "not_found"})


# ---- operator token variants -----------------------------------------------------------------


def test_generated_operator_token_creates_apps_and_survives_restart(reactor, tmp_path):
    data = tmp_path / "gen-data"
    s1 = reactor(data_dir=data)  # no --operator-token: one is generated and printed once
    lines = [ln for ln in s1.stdout().splitlines() if "Operator token" in ln]
    assert len(lines) == 1, s1.stdout()
    token = lines[0].rsplit(" ", 1)[1]
    a1 = Api(s1)
    r = a1.post("/apps", body={"id": "gen-app", "name": "Gen"}, operator=OPERATOR_TOKEN)
    assert r.status_code == 401
    a1.create_app("gen-app", token=token)
    s1.stop()

    s2 = reactor(data_dir=data)
    a2 = Api(s2)
    a2.create_app("gen-app-2", token=token)
    s2.stop()


def test_open_signup_needs_no_token(reactor):
    s = reactor(flags=["--open-signup"])
    a = Api(s)
    r = a.post("/apps", body={"id": "open-app", "name": "Open"})
    assert r.status_code == 201, r.text
    key = r.json()["bootstrapApiKey"]
    assert KEY_RE.match(key)
    # Open signup opens only POST /apps: everything else still needs a key.
    assert a.get("/apps/open-app").status_code == 401
    assert a.get("/apps/open-app", key).status_code == 200


def test_operator_token_flag_replaces_generated_one(reactor):
    s = start(reactor)
    assert "Operator token" not in s.stdout()
    a = Api(s)
    a.create_app()
    # The JSON logs never carry the operator token or an API key.
    _, key = a.create_app()
    a.get("/keys", key)
    s.stop()
    assert OPERATOR_TOKEN not in s.stderr()
    assert key not in s.stderr()
    assert all(isinstance(json.loads(ln), dict) for ln in s.stderr().splitlines() if ln.strip())
