"""Rate limits: a token bucket per API key, sized by the server defaults (--rate-limit-points,
--rate-limit-window) or the app's settings.rateLimit. Over the limit: 429 with Retry-After, and
the request does nothing."""

import time

from tenants import Api, api, error_of, start  # noqa: F401

LIMITED = {"error": "Rate limit exceeded", "code": "rate_limited"}


def retry_after(r):
    value = r.headers.get("Retry-After")
    assert value is not None and value.isdigit(), r.headers
    return int(value)


def test_app_limit_gives_429_with_retry_after(api):
    app, admin = api.create_app(settings={"rateLimit": {"points": 5, "windowSeconds": 60}})
    other_app, other_admin = api.create_app()
    path = f"/apps/{app['id']}"
    for i in range(5):
        assert api.get(path, admin).status_code == 200, i
    r = api.get(path, admin)
    assert error_of(r) == (429, LIMITED)
    # One point comes back every 60 s / 5 = 12 s.
    assert 12 <= retry_after(r) <= 13, r.headers
    # Every route is limited, and a refused request has no effect.
    r = api.post("/users", admin, {"userId": "while-limited"})
    assert r.status_code == 429
    # Another app is not affected.
    for _ in range(20):
        assert api.get(f"/apps/{other_app['id']}", other_admin).status_code == 200
    assert api.get("/users/while-limited", other_admin).status_code == 404


def test_each_key_has_its_own_bucket(api):
    app, admin = api.create_app(settings={"rateLimit": {"points": 3, "windowSeconds": 60}})
    ro, _ = api.create_key(admin, "READONLY", "reader")  # admin: 1 point used
    api.create_user(admin, "member")                     # 2
    assert api.get("/users/member", admin).status_code == 200  # 3
    assert api.get("/users/member", admin).status_code == 429
    # The other key of the same app still has its own three.
    for _ in range(3):
        assert api.get("/users/member", ro).status_code == 200
    assert api.get("/users/member", ro).status_code == 429
    # Unknown keys are refused as such, not rate limited.
    assert api.get("/users/member", "fge_" + "0" * 48).status_code == 401


def test_patching_the_limit_applies_at_once(api):
    app, admin = api.create_app()  # server default: 600000 per 60 s
    path = f"/apps/{app['id']}"
    for _ in range(10):
        assert api.get(path, admin).status_code == 200
    r = api.patch(path, admin, {"settings": {"rateLimit": {"points": 2, "windowSeconds": 3600}}})
    assert r.status_code == 200, r.text
    assert api.get(path, admin).status_code == 200
    assert api.get(path, admin).status_code == 200
    r = api.get(path, admin)
    assert r.status_code == 429
    assert 1700 <= retry_after(r) <= 1801  # 3600 s / 2 points


def test_limit_recovers_after_retry_after(api):
    # 10 points per 10 s: one comes back every second.
    _, admin = api.create_app(settings={"rateLimit": {"points": 10, "windowSeconds": 10}})
    with api.server.raw() as c:
        statuses = [c.request("GET", "/users/u", {"x-api-key": admin}).status
                    for _ in range(11)]
        assert statuses[:10] == [404] * 10  # authenticated, no such user
        assert statuses[10] == 429
        r = c.request("GET", "/users/u", {"x-api-key": admin})
        assert r.status == 429
        wait = int(r.header("retry-after"))
        assert 1 <= wait <= 2
        time.sleep(wait)
        assert c.request("GET", "/users/u", {"x-api-key": admin}).status == 404


def test_default_limit_not_hit_by_normal_use(api):
    app, admin = api.create_app()
    api.create_user(admin, "busy")
    with api.server.raw() as c:
        for i in range(500):
            r = c.request("GET", "/users/busy", {"x-api-key": admin})
            assert r.status == 200, (i, r)


def test_server_default_limit_flags(reactor):
    s = start(reactor, ["--rate-limit-points", "3", "--rate-limit-window", "30"])
    a = Api(s)
    plain, k_plain = a.create_app("plain-app")
    roomy, k_roomy = a.create_app("roomy-app",
                                  settings={"rateLimit": {"points": 10, "windowSeconds": 30}})
    for _ in range(3):
        assert a.get("/apps/plain-app", k_plain).status_code == 200
    r = a.get("/apps/plain-app", k_plain)
    assert r.status_code == 429
    assert 10 <= retry_after(r) <= 11  # 30 s / 3 points
    for _ in range(10):
        assert a.get("/apps/roomy-app", k_roomy).status_code == 200
    assert a.get("/apps/roomy-app", k_roomy).status_code == 429
