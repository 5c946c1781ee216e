"""Season end through the real binary (issue 8): a closed season's results are recorded once
(kept across a restart), served by GET /seasons/:id/results, final (a back-dated event after
the close changes neither its board nor its results), and the close has its audit row."""

import signal
import time

from events_helpers import SECRET, EventClient, iso_ms, short_season
from tenants import Api, server_flags, unique

FLAGS = ["--schedule-season-end", "@every 1s", "--scheduler-tick-ms", "50",
         "--season-results-max", "3"]


def wait_closed(api, key, season, seconds=8):
    deadline = time.monotonic() + seconds
    while True:
        r = api.get(f"/seasons/{season}/results", key)
        if r.status_code == 200 or time.monotonic() > deadline:
            return r
        time.sleep(0.05)


def season_board(api, key, season):
    r = api.get(f"/leaderboards?metric=XP&periodKey=season:{season}", key)
    assert r.status_code == 200, r.text
    return [(x["userId"], x["score"]) for x in r.json()["rows"]]


def test_season_results_are_recorded_once_and_stay_final(reactor):
    s = reactor(flags=server_flags(FLAGS))
    api = Api(s)
    app, admin = api.create_app(unique("sres"), webhookSecret=SECRET)
    reward = {"metric": "XP", "prizes": [{"fromRank": 1, "toRank": 2,
                                          "currencyAwards": {"gems": 10}},
                                         {"fromRank": 2, "xpAwards": {"XP": 5}}]}
    season, now = short_season(api, admin, -60000, 3000, rewardConfig=reward)
    ev = EventClient(s, app["id"], admin)
    for user, n in (("a", 4), ("b", 3), ("c", 2), ("d", 1)):
        for _ in range(n):
            assert ev.post(ev.event(user, "done"), wait="true").status_code == 202
    # not closed yet
    r = api.get(f"/seasons/{season}/results", admin)
    assert r.status_code == 404 and r.json()["code"] == "not_closed", r.text
    r = wait_closed(api, admin, season)
    assert r.status_code == 200, r.text
    doc = r.json()
    # top 3 (the bound), the first two with prizes (rank 2 gets both prizes, summed)
    assert doc["seasonId"] == season and doc["metric"] == "XP" and doc["total"] == 3
    assert doc["results"] == [
        {"rank": 1, "userId": "a", "score": 40, "prize": {"currencyAwards": {"gems": 10}}},
        {"rank": 2, "userId": "b", "score": 30,
         "prize": {"currencyAwards": {"gems": 10}, "xpAwards": {"XP": 5}}},
        {"rank": 3, "userId": "c", "score": 20}]
    closed_at = doc["closedAt"]
    assert closed_at.endswith("Z")
    page = api.get(f"/seasons/{season}/results?limit=1&offset=1", admin).json()
    assert [x["userId"] for x in page["results"]] == ["b"] and page["total"] == 3
    # the prizes were granted (b's 5 XP came after the end: not on the season's board)
    assert api.get("/users/b/profile", admin).json()["currencies"] == [
        {"currency": "gems", "balance": 10}]
    board = season_board(api, admin, season)
    assert board == [("a", 40), ("b", 30), ("c", 20), ("d", 10)]
    # a back-dated event into the closed season's window counts on "all", not on the season
    back = ev.event("d", "done", occurredAt=iso_ms(now - 30000))
    assert ev.post(back, wait="true").status_code == 202
    for _ in range(5):
        assert ev.post(ev.event("d", "done", occurredAt=iso_ms(now - 20000)),
                       wait="true").status_code == 202
    assert season_board(api, admin, season) == board
    all_board = api.get("/leaderboards?metric=XP&periodKey=all", admin).json()["rows"]
    assert ("d", 70) in [(x["userId"], x["score"]) for x in all_board]
    # the audit row of the close, actor system
    entries = api.get("/audit?action=season.close", admin).json()["entries"]
    assert len(entries) == 1, entries
    e = entries[0]
    assert e["actor"] == "system" and e["resourceType"] == "season"
    assert e["resourceId"] == season and e["requestId"] is None
    assert e["after"]["results"] == 3 and e["after"]["leaguesSettled"] == []
    assert [(p["userId"], p["rank"]) for p in e["after"]["prizes"]] == [("a", 1), ("b", 2)]
    s.stop(signal.SIGTERM)
    # a restart neither closes it again nor lets the back-dated events in
    s2 = reactor(flags=server_flags(FLAGS), data_dir=s.data_dir)
    api2 = Api(s2)
    time.sleep(1.5)
    ev2 = EventClient(s2, app["id"], admin)
    assert ev2.post(ev2.event("d", "done", occurredAt=iso_ms(now - 10000)),
                    wait="true").status_code == 202
    r = api2.get(f"/seasons/{season}/results", admin)
    assert r.status_code == 200 and r.json()["results"] == doc["results"]
    assert r.json()["closedAt"] == closed_at
    assert season_board(api2, admin, season) == board
    assert len(api2.get("/audit?action=season.close", admin).json()["entries"]) == 1
    s2.stop(signal.SIGTERM)
    closed = [ln for ln in s.logs() + s2.logs() if ln.get("msg") == "season closed"]
    assert len(closed) == 1 and closed[0]["results"] == 3


def test_season_results_errors(reactor):
    s = reactor(flags=server_flags(FLAGS))
    api = Api(s)
    app, admin = api.create_app(unique("sres"))
    r = api.post("/seasons", admin, {"name": "Later", "startsAt": "2026-01-01T00:00:00Z",
                                     "endsAt": "2099-01-01T00:00:00Z"})
    season = r.json()["season"]["id"]
    assert api.get("/seasons/nope/results", admin).status_code == 404
    assert api.get(f"/seasons/{season}/results", admin).json()["code"] == "not_closed"
    for q in ("limit=0", "limit=1001", "limit=x", "offset=-1", "offset="):
        r = api.get(f"/seasons/{season}/results?{q}", admin)
        assert r.status_code == 400, (q, r.text)
        assert q.split("=")[0] in r.json()["details"]
    assert api.get(f"/seasons/{season}/results").status_code == 401
    # another app's key does not see it
    _, other = api.create_app(unique("sres"))
    assert api.get(f"/seasons/{season}/results", other).status_code == 404
    s.stop(signal.SIGTERM)
