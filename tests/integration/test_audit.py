"""The audit trail (issue 8): every change made through the API writes one row in the same
transaction as the change (a refused change writes none, and a change whose row cannot be
written is rolled back), GET /audit pages newest first with filters and a stable cursor, an
app's key sees only its app while the operator sees every app, format=ndjson streams the whole
selection, and rows older than the retention are pruned."""

import datetime
import json
import socket
import sqlite3
import time

import pytest
import requests

from conftest import IO_TIMEOUT, build_request
from events_helpers import SECRET, EventClient
from tenants import OPERATOR_TOKEN, api, error_of, start, unique  # noqa: F401

DAY_MS = 86400 * 1000


def audit(api, key=None, operator=None, **params):
    """GET /audit with params; returns the JSON answer (asserting 200)."""
    query = "&".join(f"{k}={requests.utils.quote(str(v), safe='')}" for k, v in params.items())
    r = api.call("GET", "/audit?" + query, key, operator=operator)
    assert r.status_code == 200, r.text
    return r.json()


def entries(api, key, **params):
    return audit(api, key, **params)["entries"]


def only(api, key, action):
    rows = entries(api, key, action=action)
    assert len(rows) == 1, rows
    return rows[0]


def ids_of(api, t):
    keys = api.get("/keys", t[1]).json()["keys"]
    return [k["id"] for k in keys if k["name"] == "bootstrap"][0]


def iso(ms):
    d = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


# ---- what each route writes --------------------------------------------------------------------


def test_apps_and_keys_are_audited(api):
    app, admin = api.create_app(name="Audited", webhookSecret="a-secret-of-16-bytes")
    admin_id = ids_of(api, (app, admin))
    row = only(api, admin, "app.create")
    assert row["actor"] == "operator" and row["appId"] == app["id"]
    assert (row["resourceType"], row["resourceId"]) == ("app", app["id"])
    assert row["before"] is None and row["after"]["app"]["name"] == "Audited"
    assert row["after"]["bootstrapKey"] == {"id": admin_id, "name": "bootstrap", "role": "ADMIN"}
    assert "a-secret-of-16-bytes" not in json.dumps(row)  # secrets never reach the trail

    r = api.patch(f"/apps/{app['id']}", admin, {"name": "Renamed"},
                  headers={"x-request-id": "req-rename-1"})
    assert r.status_code == 200
    row = only(api, admin, "app.update")
    assert row["actor"] == admin_id and row["requestId"] == "req-rename-1"
    assert row["before"]["name"] == "Audited" and row["after"]["name"] == "Renamed"

    secret, info = api.create_key(admin, "INGEST", "ingest")
    row = only(api, admin, "key.create")
    assert row["resourceId"] == info["id"] and row["after"]["role"] == "INGEST"
    assert secret not in json.dumps(row)
    r = api.delete(f"/keys/{info['id']}", admin)
    assert r.status_code == 204
    row = only(api, admin, "key.revoke")
    assert row["before"]["revokedAt"] is None and row["after"]["revokedAt"]
    # The request id is the one the answer carried.
    assert row["requestId"] == r.headers["x-request-id"]


def test_definitions_are_audited(api):
    app, admin = api.create_app()
    r = api.post("/rules", admin, {"name": "r1", "eventType": "login", "xpAwards": {"XP": 5}})
    assert r.status_code == 201, r.text
    rule = r.json()["rule"]
    row = only(api, admin, "rule.create")
    assert row["before"] is None and row["after"] == rule
    r = api.patch(f"/rules/{rule['id']}", admin, {"xpAwards": {"XP": 7}})
    assert r.status_code == 200
    row = only(api, admin, "rule.update")
    assert row["before"]["xpAwards"] == {"XP": 5} and row["after"]["xpAwards"] == {"XP": 7}
    r = api.call("PUT", f"/rules/{rule['id']}", admin, {"name": "r1b", "eventType": "login"})
    assert r.status_code == 200
    assert [x["after"]["name"] for x in entries(api, admin, action="rule.update")] == ["r1b", "r1"]
    assert api.delete(f"/rules/{rule['id']}", admin).status_code == 204
    row = only(api, admin, "rule.delete")
    assert row["before"]["name"] == "r1b" and row["after"] is None

    r = api.post("/achievements", admin, {"name": "First", "code": "first",
                                          "kind": "MILESTONE", "conditions": {"target": 100}})
    assert r.status_code == 201, r.text
    assert only(api, admin, "achievement.create")["resourceId"] == r.json()["achievement"]["id"]
    r = api.post("/seasons", admin, {"name": "S1", "startsAt": "2026-01-01T00:00:00Z",
                                     "endsAt": "2026-02-01T00:00:00Z"})
    assert r.status_code == 201, r.text
    assert only(api, admin, "season.create")["after"]["name"] == "S1"
    admin_id = ids_of(api, (app, admin))
    rows = entries(api, admin, limit=1000)
    assert {x["actor"] for x in rows if x["action"] != "app.create"} == {admin_id}
    # Reads write nothing.
    before = len(entries(api, admin, limit=1000))
    api.get("/rules", admin)
    api.get(f"/apps/{app['id']}", admin)
    assert len(entries(api, admin, limit=1000)) == before


def test_users_and_spends_are_audited(api):
    app, admin = api.create_app(webhookSecret=SECRET)
    api.create_user(admin, "alice", {"tier": "gold"})
    row = only(api, admin, "user.upsert")
    assert row["before"] is None and row["after"]["attributes"] == {"tier": "gold"}
    api.create_user(admin, "alice", {"tier": "platinum"})
    rows = entries(api, admin, action="user.upsert")
    assert rows[0]["before"]["attributes"] == {"tier": "gold"}
    assert rows[0]["after"]["attributes"] == {"tier": "platinum"}
    assert rows[0]["resourceId"] == "alice"

    api.post("/rules", admin, {"name": "pay", "eventType": "task",
                               "currencyAwards": {"coins": 50}})
    ev = EventClient(api.server, app["id"], admin)
    assert ev.post(ev.event("alice", "task"), wait="true").status_code == 202
    r = api.post("/currency/spend", admin, {"userId": "alice", "currency": "coins",
                                            "amount": 20, "reason": "shop",
                                            "idempotencyKey": "spend-key-0001"})
    assert r.status_code == 201, r.text
    row = only(api, admin, "currency.spend")
    assert (row["resourceType"], row["resourceId"]) == ("user", "alice")
    assert row["before"] == {"currency": "coins", "balance": 50}
    assert row["after"] == r.json()["transaction"]
    # A replay changes nothing and writes nothing; neither do events (they have their log).
    again = api.post("/currency/spend", admin, {"userId": "alice", "currency": "coins",
                                                "amount": 20, "reason": "shop",
                                                "idempotencyKey": "spend-key-0001"})
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert len(entries(api, admin, action="currency.spend")) == 1
    assert entries(api, admin, resource="event") == []
    assert {x["actor"] for x in entries(api, admin, resource="user")} == {ids_of(api, (app, admin))}


def test_leagues_are_audited(api):
    app, admin = api.create_app()
    for u in ("m1", "m2", "m3"):
        api.create_user(admin, u)
    r = api.post("/leagues", admin, {"name": "Bronze", "tier": 2, "maxMembers": 3,
                                     "promotionSlots": 1, "demotionSlots": 1})
    assert r.status_code == 201, r.text
    lg = r.json()["league"]
    path = f"/leagues/{lg['id']}"
    assert only(api, admin, "league.create")["after"] == lg
    assert api.patch(path, admin, {"name": "Silver"}).status_code == 200
    row = only(api, admin, "league.update")
    assert row["before"]["name"] == "Bronze" and row["after"]["name"] == "Silver"
    assert api.post(path + "/members", admin, {"userId": "m1"}).status_code == 201
    row = only(api, admin, "league.join")
    assert row["after"]["joinedUserId"] == "m1" and row["after"]["memberCount"] == 1
    assert api.post(path + "/members", admin, {"userId": "m2"}).status_code == 201
    assert api.delete(path + "/members/m2", admin).status_code == 204
    assert only(api, admin, "league.leave")["after"]["leftUserId"] == "m2"
    r = api.post("/leagues/assign", admin, {"userId": "m3", "tier": 2})
    assert r.status_code == 201, r.text
    row = only(api, admin, "league.assign")
    assert row["after"]["assignedUserId"] == "m3" and row["resourceId"] == r.json()["league"]["id"]
    r = api.post(path + "/settle", admin)
    assert r.status_code == 200, r.text
    row = only(api, admin, "league.settle")
    assert row["before"]["settledAt"] is None and row["after"]["settledAt"]
    assert row["after"]["results"] == r.json()["results"]  # the moves: outcome, tier after
    # Settling again changes nothing and writes nothing.
    assert api.post(path + "/settle", admin).status_code == 200
    assert len(entries(api, admin, action="league.settle")) == 1
    assert api.delete(path, admin).status_code == 204
    row = only(api, admin, "league.delete")
    assert row["before"]["name"] == "Silver" and row["after"] is None
    prefix = entries(api, admin, action="league.*")
    assert [x["action"] for x in prefix] == ["league.delete", "league.settle", "league.assign",
                                             "league.leave", "league.join", "league.join",
                                             "league.update", "league.create"]


def test_refused_changes_write_nothing(api):
    app, admin = api.create_app()
    count = len(entries(api, admin, limit=1000))
    assert api.delete("/keys/00000000-0000-4000-8000-000000000000", admin).status_code == 404
    assert api.post("/rules", admin, {"name": ""}).status_code == 400
    assert api.patch("/rules/nope", admin, {"name": "x"}).status_code == 404
    assert api.post("/currency/spend", admin, {"userId": "ghost", "currency": "c", "amount": 1,
                                               "reason": "x"}).status_code == 404
    api.create_user(admin, "poor")
    count += 1
    assert api.post("/currency/spend", admin, {"userId": "poor", "currency": "c", "amount": 1,
                                               "reason": "x"}).status_code == 409
    r = api.post("/leagues", admin, {"name": "Full", "tier": 1, "maxMembers": 1})
    count += 1
    lg = r.json()["league"]
    api.create_user(admin, "other")
    count += 1
    assert api.post(f"/leagues/{lg['id']}/members", admin, {"userId": "poor"}).status_code == 201
    count += 1
    assert api.post(f"/leagues/{lg['id']}/members", admin, {"userId": "other"}).status_code == 409
    assert api.patch(f"/apps/{app['id']}", admin, {"name": ""}).status_code == 400
    assert len(entries(api, admin, limit=1000)) == count


# ---- who sees what -----------------------------------------------------------------------------


def test_tenants_never_see_each_others_rows(api):
    a_app, a = api.create_app()
    b_app, b = api.create_app()
    api.create_user(a, "only-in-a")
    api.create_user(b, "only-in-b")
    rows_a = entries(api, a, limit=1000)
    assert rows_a and {x["appId"] for x in rows_a} == {a_app["id"]}
    assert "only-in-b" not in json.dumps(rows_a)
    assert entries(api, a, resource="user/only-in-b") == []
    status, j = error_of(api.get(f"/audit?appId={b_app['id']}", a))
    assert status == 403
    assert entries(api, a, appId=a_app["id"]) == rows_a
    # Other roles may not read it; the operator reads every app, or one.
    readonly, _ = api.create_key(a, "READONLY")
    assert api.get("/audit", readonly).status_code == 403
    assert api.get("/audit").status_code == 401
    assert api.get("/audit", operator="wrong-token-0123456789").status_code == 401
    both = audit(api, operator=OPERATOR_TOKEN, limit=1000)["entries"]
    assert {a_app["id"], b_app["id"]} <= {x["appId"] for x in both}
    just_b = audit(api, operator=OPERATOR_TOKEN, appId=b_app["id"])["entries"]
    assert {x["appId"] for x in just_b} == {b_app["id"]}


# ---- filters and paging ------------------------------------------------------------------------


def test_filters_and_stable_paging(api):
    app, admin = api.create_app()
    second, info = api.create_key(admin, "ADMIN", "second admin")
    for i in range(7):
        api.create_user(admin if i % 2 == 0 else second, f"u{i}")
    everything = entries(api, admin, limit=1000)
    assert [x["id"] for x in everything] == sorted((x["id"] for x in everything), reverse=True)
    assert len(everything) == 9  # app, key, 7 users

    by_second = entries(api, admin, actor=info["id"])
    assert [x["resourceId"] for x in by_second] == ["u5", "u3", "u1"]
    assert [x["resourceId"] for x in entries(api, admin, resource="user/u4")] == ["u4"]
    assert len(entries(api, admin, resource="user")) == 7
    assert len(entries(api, admin, action="user.*")) == 7
    assert entries(api, admin, action="user.create") == []
    assert [x["action"] for x in entries(api, admin, action="key.*")] == ["key.create"]

    # from (inclusive) and to (exclusive), as ISO times.
    t = [int(datetime.datetime.strptime(x["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp() * 1000 + 0.5) for x in everything]
    mid = t[4]
    newer = entries(api, admin, **{"from": iso(mid)}, limit=1000)
    assert newer == [x for x, at in zip(everything, t) if at >= mid]
    older = entries(api, admin, to=iso(mid), limit=1000)
    assert older == [x for x, at in zip(everything, t) if at < mid]

    # Pages of 2, newest first; a cursor stays valid while newer rows arrive.
    page = audit(api, admin, limit=2)
    got = page["entries"]
    api.create_user(admin, "late")
    while page["nextCursor"]:
        page = audit(api, admin, limit=2, cursor=page["nextCursor"])
        got += page["entries"]
    assert got == everything
    # The last page says there is no next one, also when it is exactly full.
    page = audit(api, admin, limit=5, cursor=audit(api, admin, limit=5)["nextCursor"])
    assert len(page["entries"]) == 5 and page["nextCursor"] is None


@pytest.mark.parametrize("query,field", [
    ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=ten", "limit"), ("limit=-1", "limit"),
    ("cursor=123", "cursor"), ("cursor=a000000000000000g", "cursor"),
    ("cursor=a0000000000000000", "cursor"),
    ("from=yesterday", "from"), ("to=2026-13-01T00:00:00Z", "to"),
    ("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to"),
    ("action=League", "action"), ("action=.*", "action"), ("action=a%20b", "action"),
    ("resource=User", "resource"), ("resource=user/", "resource"), ("resource=/x", "resource"),
    ("resource=user/a%01b", "resource"), ("actor=", "actor"), ("actor=%ff%fe", "actor"),
    ("format=csv", "format"), ("actor=%zz", "query"),
])
def test_bad_parameters_answer_400(api, query, field):
    _, admin = api.create_app()
    with api.server.raw() as conn:  # the query exactly as written (no client re-quoting)
        r = conn.request("GET", "/audit?" + query, {"x-api-key": admin})
    j = r.json()
    assert r.status == 400 and j["code"] == "validation_failed", j
    assert field in j["details"], j


# ---- the same transaction ------------------------------------------------------------------------


def test_a_change_whose_row_cannot_be_written_is_rolled_back(reactor, tmp_path):
    """A trigger in the database refuses audit rows of one action: the change they record must
    be gone too (store and memory), and the request answered 503."""
    from tenants import Api
    s = start(reactor)
    a = Api(s)
    app, admin = a.create_app()
    s.stop()
    db = sqlite3.connect(f"{s.data_dir}/reactor.db")
    db.execute("CREATE TRIGGER refuse_rules BEFORE INSERT ON audit WHEN NEW.action = "
               "'rule.create' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    db.commit()
    db.close()
    s.proc = None
    s.start()
    r = a.post("/rules", admin, {"name": "lost", "eventType": "login"})
    assert r.status_code == 503, r.text
    assert a.get("/rules", admin).json()["rules"] == []
    assert entries(a, admin, action="rule.create") == []
    # Other changes still go through, with their rows.
    assert a.post("/achievements", admin, {"name": "A", "code": "a",
                                           "kind": "MILESTONE", "conditions": {"target": 1}}).status_code == 201
    assert len(entries(a, admin, action="achievement.create")) == 1
    s.stop()
    s.proc = None
    s.start()
    assert a.get("/rules", admin).json()["rules"] == []


# ---- NDJSON export and retention ---------------------------------------------------------------


def insert_rows(data_dir, app_id, n, at_ms, action="bulk.write"):
    db = sqlite3.connect(f"{data_dir}/reactor.db")
    db.executemany(
        "INSERT INTO audit (app_id, at, actor, action, resource_type, resource_id, before, "
        "after, request_id) VALUES (?, ?, 'system', ?, 'thing', ?, NULL, ?, NULL)",
        [(app_id, at_ms + i, action, f"t{i}", json.dumps({"n": i, "pad": "x" * 100}))
         for i in range(n)])
    db.commit()
    db.close()


def stream_ndjson(server, key, query="", rcvbuf=None, pause=0.0):
    """GET /audit?format=ndjson over a raw socket, decoding the chunked body by hand."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=IO_TIMEOUT)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.sendall(build_request("GET", "/audit?format=ndjson" + query,
                               {"x-api-key": key, "Connection": "close"}))
    parts = []
    while True:
        part = sock.recv(4096)
        if not part:
            break
        parts.append(part)
        if pause:
            time.sleep(pause)
    sock.close()
    data = b"".join(parts)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK", head
    headers = {k.lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
    assert headers["transfer-encoding"] == "chunked"
    assert headers["content-type"] == "application/x-ndjson"
    out, pos = [], 0
    while True:
        eol = body.index(b"\r\n", pos)
        size = int(body[pos:eol], 16)
        pos = eol + 2
        if size == 0:
            assert body[pos:] == b"\r\n", "the final chunk ends the body"
            break
        out.append(body[pos:pos + size])
        assert body[pos + size:pos + size + 2] == b"\r\n"
        pos += size + 2
    return [json.loads(x) for x in b"".join(out).decode().splitlines()]


def test_ndjson_export_streams_every_row(reactor):
    from tenants import Api
    s = start(reactor)
    a = Api(s)
    app, admin = a.create_app()
    other, other_admin = a.create_app()
    s.stop()
    now = int(time.time() * 1000)
    insert_rows(s.data_dir, app["id"], 5000, now - 60_000)
    insert_rows(s.data_dir, other["id"], 50, now - 60_000)
    s.proc = None
    s.start()
    rows = stream_ndjson(s, admin)
    assert len(rows) == 5001  # app.create and 5,000 rows, none of the other app's
    assert {r["appId"] for r in rows} == {app["id"]}
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    assert rows[-1]["action"] == "app.create" and rows[0]["after"]["n"] == 4999
    # The same selection as the JSON pages, filters included.
    page = audit(a, admin, action="bulk.write", limit=1000)["entries"]
    assert stream_ndjson(s, admin, "&action=bulk.write")[:1000] == page
    assert stream_ndjson(s, admin, "&resource=thing/t7") == [r for r in rows
                                                              if r["resourceId"] == "t7"]
    assert stream_ndjson(s, admin, "&actor=nobody") == []
    # A slow reader gets everything too (the server waits for it, page by page).
    slow = stream_ndjson(s, admin, "&limit=5", rcvbuf=16384, pause=0.001)
    assert len(slow) == 5001
    # A client that goes away mid-export costs nothing: the server stays healthy.
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=IO_TIMEOUT)
        sock.sendall(build_request("GET", "/audit?format=ndjson", {"x-api-key": admin}))
        sock.recv(1000)
        sock.close()
    assert s.health_ok()
    assert a.get("/audit?format=ndjson&limit=0", admin).status_code == 400
    r = a.get("/audit?format=ndjson&resource=thing/t1", admin)
    assert r.status_code == 200 and len(r.text.splitlines()) == 1


def test_retention_prunes_old_rows(reactor):
    from tenants import Api
    s = start(reactor, env={"REACTOR_AUDIT_RETENTION_DAYS": "30"})
    a = Api(s)
    app, admin = a.create_app()
    s.stop()
    now = int(time.time() * 1000)
    insert_rows(s.data_dir, app["id"], 20, now - 40 * DAY_MS, action="old.write")
    insert_rows(s.data_dir, app["id"], 5, now - 20 * DAY_MS, action="recent.write")

    # 0 keeps everything.
    s.proc = None
    s.extra_env = {"REACTOR_AUDIT_RETENTION_DAYS": "0"}
    s.start()
    a.create_user(admin, "someone")  # a batch runs
    assert len(entries(a, admin, action="old.write")) == 20
    s.stop()

    s.proc = None
    s.extra_env = {"REACTOR_AUDIT_RETENTION_DAYS": "30"}
    s.start()
    a.create_user(admin, "someone-else")  # the first batch after start prunes
    deadline = time.monotonic() + 5
    while entries(a, admin, action="old.write") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert entries(a, admin, action="old.write") == []
    assert len(entries(a, admin, action="recent.write")) == 5
    assert len(entries(a, admin, action="user.upsert")) == 2
    s.wait_log(lambda o: o.get("msg") == "audit trail pruned" and o.get("rows") == 20)


def test_open_signup_apps_name_their_actor(reactor):
    """With open signup, an app made without the operator token is the signup's, not the
    operator's; the token still counts as the operator's."""
    from tenants import Api
    s = start(reactor, env={"REACTOR_OPEN_SIGNUP": "1"})
    a = Api(s)
    r = a.call("POST", "/apps", None, body={"id": unique("signup"), "name": "Self-served"})
    assert r.status_code == 201, r.text
    admin = r.json()["bootstrapApiKey"]
    assert only(a, admin, "app.create")["actor"] == "signup"
    _, admin2 = a.create_app()
    assert only(a, admin2, "app.create")["actor"] == "operator"
