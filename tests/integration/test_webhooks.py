"""Webhooks through the real binary (issue 8): an effect of a committed event is POSTed to the
app's webhookUrl, signed like incoming events, and retried by the job queue after 5xx answers
and timeouts until it succeeds or is dead; deliveries of one user arrive in order; the
attempts are listed by GET /webhooks/deliveries. The receiver is a real HTTP server in the
test that checks every signature."""

import re

import pytest

from events_helpers import SECRET, EventClient, metrics
from tenants import Api, error_of, start, unique
from webhook_receiver import Receiver, poll

FAST = ["--job-backoff-ms", "100", "--job-backoff-max-ms", "300", "--job-poll-ms", "50",
        "--job-timeout-ms", "1000", "--job-max-attempts", "3"]
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def receiver():
    r = Receiver(SECRET)
    yield r
    r.close()


@pytest.fixture
def api(reactor):
    return Api(start(reactor, FAST))


class Hooked:
    """An app whose webhook points at the receiver, with a rule giving XP per event."""

    def __init__(self, api, receiver, xp=60, **fields):
        fields.setdefault("webhookSecret", SECRET)
        fields.setdefault("webhookUrl", receiver.url)
        self.api = api
        self.app, self.admin = api.create_app(unique("hook"), **fields)
        self.events = EventClient(api.server, self.app["id"], self.admin)
        r = api.post("/rules", self.admin, {"name": "r", "eventType": "done",
                                            "xpAwards": {"XP": xp}})
        assert r.status_code == 201, r.text

    def send(self, user="u1"):
        r = self.events.post(self.events.event(user, "done"), wait="true")
        assert r.status_code == 202, r.text
        return r.json()["event"]

    def jobs(self, query=""):
        r = self.api.get(f"/jobs{query}", self.admin)
        assert r.status_code == 200, r.text
        return r.json()["jobs"]

    def deliveries(self):
        r = self.api.get("/webhooks/deliveries", self.admin)
        assert r.status_code == 200, r.text
        return r.json()["deliveries"]


def test_level_up_is_posted_signed_with_the_documented_body(api, receiver):
    h = Hooked(api, receiver)
    assert h.app["webhookEvents"] == ["level.up", "achievement.unlocked", "currency.changed",
                                      "streak.updated"]
    ev1 = h.send()
    h.send()  # 120 XP: level 2
    got = receiver.wait_for(lambda rs: any(r["json"]["type"] == "level.up" for r in rs))
    assert all(r["verified"] for r in got), got
    types = [r["json"]["type"] for r in got]
    assert "xp.awarded" not in types  # not subscribed by default
    lv = [r for r in got if r["json"]["type"] == "level.up"][0]
    body = lv["json"]
    assert set(body) == {"id", "type", "appId", "userId", "data", "occurredAt"}
    assert body["appId"] == h.app["id"] and body["userId"] == "u1"
    assert body["data"] == {"track": "XP", "from": 1, "to": 2}
    assert UUID_RE.match(body["id"])
    assert lv["headers"]["x-webhook-id"] == body["id"]
    assert UUID_RE.match(lv["headers"]["x-delivery-id"])
    assert lv["headers"]["x-webhook-attempt"] == "1"
    assert ev1["occurredAt"][:19] == [r for r in got][0]["json"]["occurredAt"][:19]
    # the job and the attempt are recorded
    def level_up_done(jobs):
        return any(j["payload"]["type"] == "level.up" and j["attempts"] == 1 for j in jobs)
    jobs = poll(lambda: h.jobs("?state=succeeded&kind=webhook"), level_up_done)
    assert level_up_done(jobs), jobs
    d = poll(h.deliveries, lambda d: len(d) >= 1)
    assert d and all(x["statusCode"] == 200 and x["succeeded"] and x["error"] is None
                     for x in d), d


def test_webhook_events_choose_what_is_sent(api, receiver):
    h = Hooked(api, receiver, webhookEvents=["xp.awarded"])
    assert h.app["webhookEvents"] == ["xp.awarded"]
    h.send()
    h.send()
    got = receiver.wait_count(2)
    assert [r["json"]["type"] for r in got] == ["xp.awarded", "xp.awarded"]
    assert [r["json"]["data"]["totalXp"] for r in got] == [60, 120]
    # PATCH back to the default set (null)
    r = api.patch(f"/apps/{h.app['id']}", h.admin, {"webhookEvents": None})
    assert r.status_code == 200 and "level.up" in r.json()["app"]["webhookEvents"]


def test_a_spend_is_posted_as_currency_changed(api, receiver):
    """POST /currency/spend goes through the engine like an event: its currency.changed is a
    webhook too, committed with the spend (a refused spend sends nothing)."""
    h = Hooked(api, receiver, webhookEvents=["currency.changed"])
    r = api.post("/rules", h.admin, {"name": "coins", "eventType": "paid",
                                     "currencyAwards": {"coins": 50}})
    assert r.status_code == 201, r.text
    assert h.events.post(h.events.event("u1", "paid"), wait="true").status_code == 202
    r = api.post("/currency/spend", h.admin, {"userId": "u1", "currency": "coins", "amount": 20,
                                              "reason": "hat"})
    assert r.status_code == 201, r.text
    tx = r.json()["transaction"]
    r = api.post("/currency/spend", h.admin, {"userId": "u1", "currency": "coins",
                                              "amount": 1000, "reason": "castle"})
    assert r.status_code == 409
    got = receiver.wait_count(2)
    assert all(x["verified"] for x in got)
    assert [x["json"]["data"]["amount"] for x in got] == [50, -20]
    spent = got[1]["json"]
    assert spent["type"] == "currency.changed" and spent["userId"] == "u1"
    assert spent["data"] == {"currency": "coins", "amount": -20, "balance": 30,
                             "reason": "hat", "transactionId": tx["id"]}


@pytest.mark.parametrize("events", [["nope"], ["level.up", "level.up"], "level.up", [1]])
def test_bad_webhook_events_are_refused(api, events):
    r = api.post("/apps", body={"id": unique(), "name": "x", "webhookEvents": events},
                 operator="operator-token-for-tests-0123456789")
    status, j = error_of(r)
    assert status == 400 and "webhookEvents" in j["details"], j


def test_webhook_url_must_be_http(api):
    r = api.post("/apps", body={"id": unique(), "name": "x", "webhookUrl": "ftp://x/y"},
                 operator="operator-token-for-tests-0123456789")
    status, j = error_of(r)
    assert status == 400 and "webhookUrl" in j["details"]


def test_5xx_answers_are_retried_until_accepted(api, receiver):
    receiver.plan = [500, 503]
    h = Hooked(api, receiver, webhookEvents=["xp.awarded"])
    h.send()
    receiver.wait_for(lambda rs: len(rs) == 3)
    ok = receiver.ok()
    assert len(ok) == 1 and ok[0]["headers"]["x-webhook-attempt"] == "3"
    ids = {r["headers"]["x-webhook-id"] for r in receiver.requests}
    assert len(ids) == 1  # the same webhook each time
    deliveries = {r["headers"]["x-delivery-id"] for r in receiver.requests}
    assert len(deliveries) == 3  # a new delivery id per attempt
    d = poll(h.deliveries, lambda d: len(d) >= 3)
    assert [x["statusCode"] for x in d] == [200, 503, 500]
    assert [x["attempt"] for x in d] == [3, 2, 1]
    assert d[1]["error"] == "HTTP 503" and all(x["latencyMs"] >= 0 for x in d)
    job = h.jobs()[0]
    assert job["state"] == "succeeded" and job["attempts"] == 3 and job["lastError"] is None


def test_a_timeout_is_retried(api, receiver):
    receiver.plan = [("sleep", 1.6, 200)]
    h = Hooked(api, receiver, webhookEvents=["xp.awarded"])
    h.send()
    receiver.wait_for(lambda rs: any(r["status"] == 200 and
                                     r["headers"]["x-webhook-attempt"] == "2" for r in rs))
    d = poll(h.deliveries, lambda d: len(d) == 2)
    assert d[-1]["statusCode"] is None and "timed out" in d[-1]["error"], d
    assert d[0]["statusCode"] == 200


def test_dead_after_max_attempts_then_retried_by_hand(api, receiver):
    receiver.default = 500
    h = Hooked(api, receiver, webhookEvents=["xp.awarded"])
    h.send()
    receiver.wait_count(3)
    dead = poll(lambda: h.jobs("?state=dead"), bool)
    assert len(dead) == 1 and dead[0]["attempts"] == 3 and dead[0]["lastError"] == "HTTP 500"
    assert len(receiver.requests) == 3  # no fourth attempt
    jid = dead[0]["id"]
    receiver.default = 200
    r = api.post(f"/jobs/{jid}/retry", h.admin)
    assert r.status_code == 200, r.text
    assert r.json()["job"]["state"] == "queued" and r.json()["job"]["attempts"] == 0
    # The retry is in the audit trail, by the key that asked for it.
    rows = api.get("/audit?action=job.retry", h.admin).json()["entries"]
    assert len(rows) == 1 and rows[0]["resourceId"] == str(jid)
    assert rows[0]["before"]["state"] == "dead" and rows[0]["after"]["state"] == "queued"
    assert rows[0]["actor"] != "system"
    receiver.wait_for(lambda rs: len(rs) == 4 and rs[3]["status"] == 200)
    assert poll(lambda: h.jobs("?state=succeeded"), bool)[0]["id"] == jid
    r = api.post(f"/jobs/{jid}/retry", h.admin)
    assert error_of(r)[0] == 409
    assert error_of(api.post("/jobs/999999999/retry", h.admin))[0] == 404
    assert error_of(api.post("/jobs/abc/retry", h.admin))[0] == 404


def test_jobs_of_another_app_are_invisible(api, receiver):
    h = Hooked(api, receiver, webhookEvents=["xp.awarded"])
    h.send()
    receiver.wait_count(1)
    other = Hooked(api, receiver)
    assert other.jobs() == [] and other.deliveries() == []
    jid = h.jobs()[0]["id"]
    assert error_of(api.post(f"/jobs/{jid}/retry", other.admin))[0] == 404


def test_job_routes_need_an_admin_key_and_valid_queries(api, receiver):
    h = Hooked(api, receiver)
    ingest, _ = api.create_key(h.admin, "INGEST")
    assert api.get("/jobs", ingest).status_code == 403
    assert api.get("/webhooks/deliveries", ingest).status_code == 403
    assert api.get("/jobs").status_code == 401
    for q, field in [("?state=nope", "state"), ("?limit=0", "limit"), ("?cursor=x", "cursor"),
                     ("?limit=201", "limit")]:
        status, j = error_of(api.get(f"/jobs{q}", h.admin))
        assert status == 400 and field in j["details"], (q, j)


def test_deliveries_of_one_user_keep_their_order(api, receiver):
    receiver.plan = [500]  # the first one fails once: the others must wait for it
    h = Hooked(api, receiver, xp=10, webhookEvents=["xp.awarded"])
    for _ in range(5):
        h.send("u1")
    got = receiver.wait_for(lambda rs: len([r for r in rs if r["status"] == 200]) == 5)
    ok = [r["json"]["data"]["totalXp"] for r in got if r["status"] == 200]
    assert ok == [10, 20, 30, 40, 50]
    # and nothing of u1 arrived before the failed first one was retried
    assert [r["json"]["data"]["totalXp"] for r in got][:2] == [10, 10]


def test_paging_jobs(api, receiver):
    h = Hooked(api, receiver, xp=10, webhookEvents=["xp.awarded"])
    for i in range(5):
        h.send(f"user{i}")
    receiver.wait_count(5)
    r = api.get("/jobs?limit=2", h.admin).json()
    assert len(r["jobs"]) == 2 and r["nextCursor"]
    ids = [j["id"] for j in r["jobs"]]
    r2 = api.get(f"/jobs?limit=2&cursor={r['nextCursor']}", h.admin).json()
    assert all(j["id"] < min(ids) for j in r2["jobs"]) and len(r2["jobs"]) == 2


def test_private_addresses_are_refused_when_asked(reactor, receiver):
    api = Api(start(reactor, FAST + ["--webhook-deny-private"]))
    h = Hooked(api, receiver, webhookEvents=["xp.awarded"])
    h.send()
    d = poll(h.deliveries, bool)
    assert d and d[0]["statusCode"] is None and "private" in d[0]["error"], d
    assert receiver.started == 0


def test_job_metrics(api, receiver):
    h = Hooked(api, receiver, webhookEvents=["xp.awarded"])
    h.send()
    receiver.wait_count(1)
    m = poll(lambda: metrics(api.server),
             lambda m: m.get('reactor_job_attempts_total{kind="webhook",outcome="succeeded"}',
                             0) >= 1)
    assert m['reactor_job_attempts_total{kind="webhook",outcome="succeeded"}'] >= 1
    assert 'reactor_jobs{kind="webhook",state="dead"}' in m
