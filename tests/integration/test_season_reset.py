"""resetXpOnStart through the real binary (issue 8): when a season with the flag starts, every
user's XP is set to 0 once (levels follow, a ledger row per track, an audit row), in chunks of
1000 users across batches, and never again after a restart; all-time boards keep their
scores."""

import signal
import sqlite3
import time

from events_helpers import SECRET, EventClient, iso_ms, short_season
from tenants import Api, server_flags, unique

FLAGS = ["--schedule-season-start", "@every 1s", "--scheduler-tick-ms", "50",
         "--schedule-season-end", "off", "--schedule-board-eviction", "off"]
MANY = 1100  # more than one chunk


def profile(api, key, user):
    r = api.get(f"/users/{user}/profile", key)
    assert r.status_code == 200, r.text
    return {lv["track"]: (lv["totalXp"], lv["level"]) for lv in r.json()["levels"]}


def test_reset_xp_on_start_resets_every_user_once(reactor):
    s = reactor(flags=server_flags(FLAGS))
    api = Api(s)
    app, admin = api.create_app(unique("reset"), webhookSecret=SECRET,
                                settings={"xpCurve": {"XP": 50}})
    season, now = short_season(api, admin, 2500, 600000, xp=100, resetXpOnStart=True)
    # a season without the flag resets nothing
    assert api.post("/seasons", admin, {"name": "Plain", "startsAt": iso_ms(now - 1000),
                                        "endsAt": iso_ms(now + 600000),
                                        "isActive": True}).status_code == 201
    assert api.post("/rules", admin, {"name": "g", "eventType": "gold",
                                      "xpAwards": {"Gold": 7},
                                      "currencyAwards": {"gems": 3}}).status_code == 201
    ev = EventClient(s, app["id"], admin)
    assert ev.post(ev.event("a", "done"), wait="true").status_code == 202
    assert ev.post(ev.event("a", "done"), wait="true").status_code == 202
    assert ev.post(ev.event("a", "gold"), wait="true").status_code == 202
    users = [f"u{i:05d}" for i in range(MANY)]
    for i in range(0, MANY, 100):
        r = ev.batch([ev.event(u, "done") for u in users[i:i + 100]], wait="true")
        assert r.status_code == 202, r.text
    assert ev.post(ev.event("idle", "nothing"), wait="true").status_code == 202
    assert profile(api, admin, "a") == {"XP": (200, 3), "Gold": (7, 1)}
    # not before the start
    assert profile(api, admin, "u00000")["XP"] == (100, 2)
    deadline = time.monotonic() + 15
    while profile(api, admin, users[-1])["XP"][0] != 0:
        assert time.monotonic() < deadline, "not reset"
        time.sleep(0.1)
    assert profile(api, admin, "a") == {"XP": (0, 1), "Gold": (0, 1)}
    assert profile(api, admin, users[0])["XP"] == (0, 1)
    assert api.get("/users/a/profile", admin).json()["currencies"] == [
        {"currency": "gems", "balance": 3}]
    rows = api.get("/users/a/ledger?kind=xp", admin).json()["rows"]
    reset = [r for r in rows if r["reason"] == "season-reset"]
    assert sorted((r["track"], r["amount"], r["balanceAfter"]) for r in reset) == [
        ("Gold", -7, 0), ("XP", -200, 0)], rows
    assert all(r["source"] == f"season:{season}" for r in reset)
    # all-time boards keep their scores
    top = api.get("/leaderboards?metric=XP&periodKey=all&limit=1", admin).json()["rows"]
    assert top[0]["userId"] == "a" and top[0]["score"] == 200
    entries = api.get("/audit?action=season.reset_xp", admin).json()["entries"]
    assert len(entries) == 1, entries
    assert entries[0]["actor"] == "system" and entries[0]["resourceId"] == season
    assert entries[0]["after"] == {"users": MANY + 1}
    # XP earned after the start stays, also across a restart
    assert ev.post(ev.event("a", "done"), wait="true").status_code == 202
    s.stop(signal.SIGTERM)
    s2 = reactor(flags=server_flags(FLAGS), data_dir=s.data_dir)
    api2 = Api(s2)
    time.sleep(1.5)
    assert profile(api2, admin, "a")["XP"] == (100, 2)
    assert len(api2.get("/audit?action=season.reset_xp", admin).json()["entries"]) == 1
    s2.stop(signal.SIGTERM)
    done = [ln for ln in s.logs() + s2.logs() if ln.get("msg") == "season XP reset"]
    assert len(done) == 1 and done[0]["users"] == MANY + 1
    db = sqlite3.connect(f"file:{s.data_dir}/reactor.db?mode=ro", uri=True)
    try:
        # A ledger row holds one write's entries: compact, [id, source, created_at, [kind,
        # name, amount, balance_after, reason, ...], ...], or whole, [[seq, id, kind, name,
        # amount, balance_after, reason, ...], ...].
        n = db.execute("SELECT count(*) FROM ledger_rows, json_each(entries) e "
                       "WHERE e.type = 'array' AND json_extract(entries, e.fullkey || "
                       "CASE json_type(entries, '$[0]') WHEN 'text' THEN '[4]' ELSE '[6]' END) "
                       "= 'season-reset'").fetchone()
        runs = db.execute("SELECT schedule FROM schedule_runs WHERE schedule LIKE "
                          "'season-start:%'").fetchall()
    finally:
        db.close()
    assert n[0] == MANY + 2  # a: two tracks
    assert runs == [(f"season-start:{app['id']}:{season}",)]
