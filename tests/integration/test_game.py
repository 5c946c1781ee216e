"""The game model through the real binary: rules, XP tracks and levels, currencies and spends,
the ledger, streaks, achievements, seasons and the profile (issue D), including seed 004's
quick-start flow with ForgeEngine's numbers, concurrent spends that never overdraw, and state
that survives a restart."""

import concurrent.futures
import datetime
import json

import pytest

from events_helpers import SECRET, EventClient, metrics, new_key
from tenants import api, error_of, start, unique  # noqa: F401

DAY_MS = 86400 * 1000


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def days_ago(n, hour=12):
    """An ISO time n days before today (UTC) at `hour`:00."""
    d = datetime.datetime.now(datetime.timezone.utc).replace(hour=hour, minute=0, second=0,
                                                             microsecond=0)
    return iso(d - datetime.timedelta(days=n))


class Game:
    """An app with a webhook secret, its ADMIN key, and a signed event client."""

    def __init__(self, api, **app_fields):
        app_fields.setdefault("webhookSecret", SECRET)
        self.api = api
        self.app, self.admin = api.create_app(unique("game"), **app_fields)
        self.events = EventClient(api.server, self.app["id"], self.admin)

    def rule(self, **body):
        body.setdefault("name", "rule")
        body.setdefault("eventType", "task_completed")
        r = self.api.post("/rules", self.admin, body)
        assert r.status_code == 201, r.text
        return r.json()["rule"]

    def achievement(self, **body):
        body.setdefault("name", body.get("code", "ach"))
        r = self.api.post("/achievements", self.admin, body)
        assert r.status_code == 201, r.text
        return r.json()["achievement"]

    def send(self, user="u1", event_type="task_completed", **fields):
        """POST /events?wait=true; returns the event's effects."""
        r = self.events.post(self.events.event(user, event_type, **fields), wait="true")
        assert r.status_code == 202, r.text
        ev = r.json()["event"]
        assert ev["status"] == "PROCESSED", ev
        return ev["effects"]

    def profile(self, user="u1"):
        r = self.api.get(f"/users/{user}/profile", self.admin)
        assert r.status_code == 200, r.text
        return r.json()

    def xp(self, user="u1", track="Builder XP"):
        for lv in self.profile(user)["levels"]:
            if lv["track"] == track:
                return lv["totalXp"]
        return 0

    def balance(self, user="u1", currency="coins"):
        for c in self.profile(user)["currencies"]:
            if c["currency"] == currency:
                return c["balance"]
        return 0

    def spend(self, user, amount, currency="coins", **extra):
        body = {"userId": user, "currency": currency, "amount": amount, "reason": "shop"}
        body.update(extra)
        return self.api.post("/currency/spend", self.admin, body)


def of_type(effects, t):
    return [e for e in effects if e["type"] == t]


# ---- seed 004's quick start ------------------------------------------------------------------


def test_quick_start_flow_gives_forgeengines_numbers(api):
    """Seed 004: a user, the "Hard Task Reward" rule, a signed task_completed event with
    difficulty hard -> 40 Builder XP (level 1, next level at 100) and 15 coins; an easy task
    gives nothing."""
    g = Game(api)
    api.create_user(g.admin, "user-1", {"plan": "pro"})
    rule = g.rule(name="Hard Task Reward", eventType="task_completed",
                  conditions={"all": [{"field": "difficulty", "op": "eq", "value": "hard"}]},
                  xpAwards={"Builder XP": 40}, currencyAwards={"coins": 15}, isActive=True)
    fx = g.send("user-1", metadata={"difficulty": "hard"})
    xp = of_type(fx, "xp.awarded")
    assert xp == [{"type": "xp.awarded", "track": "Builder XP", "amount": 40, "totalXp": 40,
                   "source": "rule", "ruleId": rule["id"]}]
    cur = of_type(fx, "currency.changed")
    assert cur == [{"type": "currency.changed", "currency": "coins", "amount": 15,
                    "balance": 15, "source": "rule", "ruleId": rule["id"]}]
    assert of_type(g.send("user-1", metadata={"difficulty": "easy"}), "xp.awarded") == []
    p = g.profile("user-1")
    assert p["user"]["userId"] == "user-1"
    assert p["levels"] == [{"track": "Builder XP", "totalXp": 40, "level": 1,
                            "nextLevelXp": 100}]
    assert p["currencies"] == [{"currency": "coins", "balance": 15}]
    assert p["achievements"] == []
    assert [s["key"] for s in p["streaks"]] == ["daily"]


def test_effects_are_stored_with_the_event(api):
    g = Game(api)
    g.rule(xpAwards={"Builder XP": 5})
    key = new_key()
    r = g.events.post(g.events.event("u1", "task_completed", idempotencyKey=key))
    assert r.status_code == 202, r.text
    ev = g.events.get(key).json()
    assert of_type(ev["effects"], "xp.awarded")[0]["amount"] == 5
    # A repeat applies nothing again.
    r = g.events.post(g.events.event("u1", "task_completed", idempotencyKey=key))
    assert r.headers.get("Idempotent-Replayed") == "true"
    assert g.xp("u1") == 5


def test_rules_read_metadata_whether_or_not_the_io_threads_parsed_it(api):
    """Events are read without a JSON tree; only apps with rules get their metadata parsed for
    them. Rules created between events, a rule removed and created again: every event that
    matches is rewarded, and events in a batch too."""
    g = Game(api)
    g.send(metadata={"difficulty": "hard"})  # no rules yet: nothing parsed for them
    rule = g.rule(conditions={"all": [{"field": "difficulty", "op": "eq", "value": "hard"}]},
                  xpAwards={"Builder XP": {"field": "points", "max": 50}})
    for points in (3, 4):  # the first one after the rule, then the next
        fx = g.send(metadata={"difficulty": "hard", "points": points})
        assert [e["amount"] for e in of_type(fx, "xp.awarded")] == [points]
    assert of_type(g.send(metadata={"difficulty": "easy", "points": 9}), "xp.awarded") == []
    r = g.api.delete(f"/rules/{rule['id']}", g.admin)
    assert r.status_code in (200, 204), r.text
    assert of_type(g.send(metadata={"difficulty": "hard", "points": 9}), "xp.awarded") == []
    g.rule(conditions={"all": [{"field": "difficulty", "op": "eq", "value": "hard"}]},
           xpAwards={"Builder XP": 1})
    events = [g.events.event("u1", "task_completed", metadata={"difficulty": d})
              for d in ("hard", "easy", "hard")]
    r = g.events.batch(events, wait="true")
    assert r.status_code == 202, r.text
    assert g.xp("u1") == 3 + 4 + 2


# ---- rules: the API --------------------------------------------------------------------------


def test_rule_crud_with_defaults(api):
    g = Game(api)
    rule = g.rule(name="Login", eventType="login", xpAwards={"XP": 1})
    assert rule["priority"] == 100 and rule["isActive"] is True
    assert rule["conditions"] == {"all": []}
    assert rule["currencyAwards"] == {} and rule["description"] is None
    assert rule["appId"] == g.app["id"] and rule["createdAt"] and rule["updatedAt"]
    rid = rule["id"]
    r = api.get(f"/rules/{rid}", g.admin)
    assert r.status_code == 200 and r.json()["rule"] == rule
    assert [x["id"] for x in api.get("/rules", g.admin).json()["rules"]] == [rid]
    r = api.patch(f"/rules/{rid}", g.admin, {"priority": 5, "isActive": False})
    assert r.status_code == 200, r.text
    assert r.json()["rule"]["priority"] == 5 and r.json()["rule"]["name"] == "Login"
    r = api.call("PUT", f"/rules/{rid}", g.admin,
                 {"name": "Login 2", "eventType": "login", "xpAwards": {"XP": 2}})
    assert r.status_code == 200, r.text
    assert r.json()["rule"]["priority"] == 100 and r.json()["rule"]["createdAt"] == rule["createdAt"]
    assert g.send("u1", "login")[-1]["amount"] == 2
    assert api.delete(f"/rules/{rid}", g.admin).status_code == 204
    assert api.get(f"/rules/{rid}", g.admin).status_code == 404
    assert api.delete(f"/rules/{rid}", g.admin).status_code == 404
    assert of_type(g.send("u1", "login"), "xp.awarded") == []


def test_rules_are_scoped_to_the_app_and_role(api):
    g, other = Game(api), Game(api)
    rid = g.rule(xpAwards={"XP": 1})["id"]
    assert api.get(f"/rules/{rid}", other.admin).status_code == 404
    assert api.delete(f"/rules/{rid}", other.admin).status_code == 404
    ro, _ = api.create_key(g.admin, "READONLY")
    assert api.get(f"/rules/{rid}", ro).status_code == 200
    assert api.post("/rules", ro, {"name": "x", "eventType": "e"}).status_code == 403
    assert api.delete(f"/rules/{rid}", ro).status_code == 403


@pytest.mark.parametrize("body,field", [
    ({"eventType": "e"}, "name"),
    ({"name": "r"}, "eventType"),
    ({"name": "r", "eventType": "e", "conditions": {"field": "x", "op": "like", "value": 1}},
     "conditions"),
    ({"name": "r", "eventType": "e", "conditions": {"any": "nope"}}, "conditions"),
    ({"name": "r", "eventType": "e", "xpAwards": {"XP": -1}}, "xpAwards.XP"),
    ({"name": "r", "eventType": "e", "xpAwards": {"XP": 1.5}}, "xpAwards.XP"),
    ({"name": "r", "eventType": "e", "priority": "high"}, "priority"),
    ({"name": "r", "eventType": "e", "timeBonusConfig": {"fromHour": 25, "toHour": 3,
                                                         "multiplier": 2}}, "timeBonusConfig"),
])
def test_bad_rules_are_refused_with_details(api, body, field):
    g = Game(api)
    r = api.post("/rules", g.admin, body)
    status, j = error_of(r)
    assert status == 400 and j["code"] == "validation_failed", r.text
    assert any(k == field or k.startswith(field) for k in j["details"]), j
    assert api.get("/rules", g.admin).json()["rules"] == []


def test_rule_with_an_unknown_season_is_refused(api):
    g = Game(api)
    r = api.post("/rules", g.admin, {"name": "r", "eventType": "e", "seasonId": "nope"})
    assert r.status_code == 400 and "seasonId" in r.json()["details"], r.text


# ---- rules: what they award ------------------------------------------------------------------


def test_levels_and_level_up(api):
    g = Game(api)
    g.rule(xpAwards={"Builder XP": 60})
    assert of_type(g.send(), "level.up") == []
    fx = g.send()
    assert of_type(fx, "level.up") == [{"type": "level.up", "track": "Builder XP", "from": 1,
                                        "to": 2}]
    lv = g.profile()["levels"][0]
    assert lv == {"track": "Builder XP", "totalXp": 120, "level": 2, "nextLevelXp": 400}


def test_xp_curve_and_thresholds_from_settings(api):
    g = Game(api, settings={"xpCurve": {"Builder XP": 10}, "levels": {"Stars": [5, 10, 50]}})
    g.rule(xpAwards={"Builder XP": 40, "Stars": 12})
    g.send()
    levels = {lv["track"]: lv for lv in g.profile()["levels"]}
    assert levels["Builder XP"]["level"] == 3 and levels["Builder XP"]["nextLevelXp"] == 90
    assert levels["Stars"]["level"] == 3 and levels["Stars"]["nextLevelXp"] == 50
    r = api.patch(f"/apps/{g.app['id']}", g.admin, {"settings": {"xpCurve": {"Builder XP": 0}}})
    assert r.status_code == 400, r.text
    r = api.patch(f"/apps/{g.app['id']}", g.admin, {"settings": {"xpCurve": {"Builder XP": 1}}})
    assert r.status_code == 200, r.text
    levels = {lv["track"]: lv for lv in g.profile()["levels"]}
    assert levels["Builder XP"]["level"] == 7  # floor(sqrt(40 / 1)) + 1


def test_conditions_combinators_and_user_attributes(api):
    g = Game(api)
    api.create_user(g.admin, "pro-user", {"plan": "pro"})
    api.create_user(g.admin, "free-user", {"plan": "free"})
    g.rule(xpAwards={"XP": 10}, conditions={"all": [
        {"field": "user.attributes.plan", "op": "eq", "value": "pro"},
        {"any": [{"field": "score", "op": "gte", "value": 90},
                 {"field": "metadata.tags", "op": "contains", "value": "bonus"}]},
        {"not": {"field": "event.type", "op": "startsWith", "value": "test"}},
    ]})
    assert of_type(g.send("pro-user", metadata={"score": 95}), "xp.awarded")
    assert of_type(g.send("pro-user", metadata={"score": 10, "tags": ["bonus"]}), "xp.awarded")
    assert not of_type(g.send("pro-user", metadata={"score": "95"}), "xp.awarded")
    assert not of_type(g.send("free-user", metadata={"score": 95}), "xp.awarded")
    # Attributes changed through POST /users apply to the next event.
    api.create_user(g.admin, "free-user", {"plan": "pro"})
    assert of_type(g.send("free-user", metadata={"score": 95}), "xp.awarded")


def test_multipliers_rounding_and_field_amounts(api):
    g = Game(api)
    g.rule(eventType="game_won", xpAwards={"XP": {"field": "points", "multiply": 0.5, "max": 30}},
           multiplierConfig={"field": "difficulty", "map": {"hard": 1.5, "easy": 0.5}})
    assert g.send(event_type="game_won", metadata={"points": 20})[-1]["amount"] == 10
    assert g.send(event_type="game_won",
                  metadata={"points": 20, "difficulty": "hard"})[-1]["amount"] == 15
    # 1.5 * 0.5 = 0.75 -> rounds to 1; max clamps 100 * 0.5 = 50 to 30 before multipliers.
    assert g.send(event_type="game_won",
                  metadata={"points": 3, "difficulty": "easy"})[-1]["amount"] == 1
    assert g.send(event_type="game_won", metadata={"points": 100})[-1]["amount"] == 30
    assert not of_type(g.send(event_type="game_won", metadata={}), "xp.awarded")


def test_time_bonus_uses_the_apps_time_zone(api):
    g = Game(api, defaultTimezone="Asia/Tokyo")  # UTC+9
    g.rule(xpAwards={"XP": 10}, timeBonusConfig={"fromHour": 20, "toHour": 23, "multiplier": 2})
    # 12:00 UTC is 21:00 in Tokyo: inside the window.
    assert g.send(occurredAt=days_ago(1, hour=12))[-1]["amount"] == 20
    assert g.send(occurredAt=days_ago(1, hour=2))[-1]["amount"] == 10


def test_priority_order_caps_and_cooldown(api):
    g = Game(api)
    first = g.rule(name="capped", priority=1, xpAwards={"XP": 40},
                   caps=[{"per": "day", "max": 50}])
    second = g.rule(name="cooled", priority=2, currencyAwards={"coins": 5}, cooldownSeconds=3600)
    fx = g.send(occurredAt=days_ago(2, hour=10))
    assert [e.get("ruleId") for e in fx if e["type"] in ("xp.awarded", "currency.changed")] == \
        [first["id"], second["id"]]
    fx = g.send(occurredAt=days_ago(2, hour=10))
    assert of_type(fx, "xp.awarded")[0]["amount"] == 10  # 50 - 40 left today
    assert not of_type(fx, "currency.changed")           # within the hour
    fx = g.send(occurredAt=days_ago(2, hour=12))
    assert not of_type(fx, "xp.awarded")                 # the day's cap is reached
    assert of_type(fx, "currency.changed")[0]["amount"] == 5
    fx = g.send(occurredAt=days_ago(1, hour=10))         # a new day: the cap starts again
    assert of_type(fx, "xp.awarded")[0]["amount"] == 40


def test_validity_window_and_season_scoped_rules(api):
    g = Game(api)
    r = api.post("/seasons", g.admin, {"name": "S1", "startsAt": days_ago(10),
                                      "endsAt": days_ago(5), "isActive": True})
    assert r.status_code == 201, r.text
    season = r.json()["season"]
    assert season["resetXpOnStart"] is False and season["rewardConfig"] is None
    g.rule(name="in season", xpAwards={"S": 1}, seasonId=season["id"])
    g.rule(name="window", xpAwards={"W": 1}, validFrom=days_ago(3), validTo=days_ago(1))
    fx = g.send(occurredAt=days_ago(7))
    assert [e["track"] for e in of_type(fx, "xp.awarded")] == ["S"]
    fx = g.send(occurredAt=days_ago(2))
    assert [e["track"] for e in of_type(fx, "xp.awarded")] == ["W"]


def test_seasons_crud_and_validation(api):
    g = Game(api)
    r = api.post("/seasons", g.admin, {"name": "Backwards", "startsAt": days_ago(1),
                                      "endsAt": days_ago(2)})
    assert r.status_code == 400 and "endsAt" in r.json()["details"], r.text
    r = api.post("/seasons", g.admin, {"name": "S", "startsAt": days_ago(2), "endsAt": days_ago(1),
                                      "rewardConfig": {"xpAwards": {"XP": 100}}})
    assert r.status_code == 201, r.text
    sid = r.json()["season"]["id"]
    r = api.patch(f"/seasons/{sid}", g.admin, {"isActive": True})
    assert r.status_code == 200 and r.json()["season"]["isActive"] is True
    r = api.patch(f"/seasons/{sid}", g.admin, {"endsAt": days_ago(3)})
    assert r.status_code == 400, r.text
    assert [s["id"] for s in api.get("/seasons", g.admin).json()["seasons"]] == [sid]
    assert api.delete(f"/seasons/{sid}", g.admin).status_code == 204
    assert api.get("/seasons", g.admin).json()["seasons"] == []


# ---- streaks ---------------------------------------------------------------------------------


def test_daily_streak_counts_calendar_days(api):
    g = Game(api)
    for n in (5, 4, 4, 3):
        g.send(occurredAt=days_ago(n))
    s = g.profile()["streaks"][0]
    assert s["key"] == "daily" and s["mode"] == "daily"
    assert s["current"] == 3 and s["best"] == 3
    fx = g.send(occurredAt=days_ago(1))  # day 2 was missed: starts again
    assert of_type(fx, "streak.updated")[0]["current"] == 1
    s = g.profile()["streaks"][0]
    assert s["current"] == 1 and s["best"] == 3 and s["lastDay"] == days_ago(1)[:10]
    assert not of_type(g.send(occurredAt=days_ago(4)), "streak.updated")  # older: no change


def test_streak_freezes_and_streak_bonus(api):
    g = Game(api, settings={"streaks": {"freezes": 2}})
    g.rule(xpAwards={"XP": 10}, streakBonusConfig={"every": 2, "bonusMultiplier": 3})
    assert g.send(occurredAt=days_ago(6))[-1]["amount"] == 10   # streak 1
    assert g.send(occurredAt=days_ago(5))[-1]["amount"] == 30   # streak 2: bonus
    fx = g.send(occurredAt=days_ago(3))                         # one day missed: a freeze
    st = of_type(fx, "streak.updated")[0]
    assert st["current"] == 3 and st["freezesUsed"] == 1
    assert g.profile()["streaks"][0]["freezesLeft"] in (1, 2)   # 2 if a new month began


# ---- achievements ----------------------------------------------------------------------------


def test_milestone_unlocks_with_reward_and_progress(api):
    g = Game(api)
    g.rule(xpAwards={"Builder XP": 40})
    ach = g.achievement(code="xp-100", name="Hundred", kind="MILESTONE", tier="gold",
                        conditions={"target": 100, "metric": "xp:Builder XP"},
                        rewardConfig={"currencyAwards": {"gems": 3}})
    g.send()
    rows = api.get("/users/u1/achievements", g.admin).json()["achievements"]
    assert rows[0]["code"] == "xp-100" and rows[0]["progress"] == pytest.approx(0.4)
    assert rows[0]["claims"] == 0 and rows[0]["unlockedAt"] is None
    g.send()
    fx = g.send()  # 120 XP
    un = of_type(fx, "achievement.unlocked")
    assert un == [{"type": "achievement.unlocked", "achievementId": ach["id"], "code": "xp-100",
                   "name": "Hundred", "tier": "gold", "claims": 1}]
    gems = of_type(fx, "currency.changed")
    assert gems[0]["currency"] == "gems" and gems[0]["source"] == "achievement"
    assert not of_type(g.send(), "achievement.unlocked")  # not repeatable
    p = g.profile()
    assert [(a["code"], a["tier"]) for a in p["achievements"]] == [("xp-100", "gold")]
    assert g.balance(currency="gems") == 3


def test_forgeengine_milestone_bug_is_not_copied(api):
    """ForgeEngine compares the target with one event's XP, so a 100-XP milestone never
    unlocks from 40-XP events; here progress is cumulative."""
    g = Game(api)
    g.rule(xpAwards={"XP": 40})
    g.achievement(code="total-100", kind="MILESTONE", conditions={"target": 100})
    unlocked = [of_type(g.send(), "achievement.unlocked") for _ in range(3)]
    assert [bool(u) for u in unlocked] == [False, False, True]


def test_conditional_hidden_and_repeatable_achievements(api):
    g = Game(api)
    g.achievement(code="secret", kind="CONDITIONAL", hidden=True,
                  conditions={"field": "secret", "equals": True})
    g.achievement(code="every-5", kind="MILESTONE", repeatable=True,
                  conditions={"target": 5, "metric": "events:click"},
                  rewardConfig={"xpAwards": {"XP": 1}})
    rows = api.get("/users/u1/achievements", g.admin)
    assert rows.status_code == 404  # the user does not exist yet
    g.send(event_type="click")
    codes = [a["code"] for a in api.get("/users/u1/achievements", g.admin).json()["achievements"]]
    assert codes == ["every-5"]  # hidden until unlocked
    fx = g.send(event_type="click", metadata={"secret": True})
    assert [u["code"] for u in of_type(fx, "achievement.unlocked")] == ["secret"]
    for _ in range(8):
        g.send(event_type="click")
    rows = {a["code"]: a for a in api.get("/users/u1/achievements", g.admin).json()["achievements"]}
    assert rows["secret"]["hidden"] is True and rows["secret"]["claims"] == 1
    assert rows["every-5"]["claims"] == 2 and rows["every-5"]["value"] == 10
    assert g.xp(track="XP") == 2


def test_achievement_codes_are_unique_and_bodies_checked(api):
    g = Game(api)
    g.achievement(code="one", kind="MILESTONE", conditions={"target": 1})
    r = api.post("/achievements", g.admin, {"code": "one", "name": "x", "kind": "MILESTONE",
                                           "conditions": {"target": 2}})
    assert r.status_code == 409, r.text
    r = api.post("/achievements", g.admin, {"code": "two", "name": "x", "kind": "SOMETIMES",
                                           "conditions": {"target": 2}})
    assert r.status_code == 400 and "kind" in r.json()["details"], r.text
    r = api.post("/achievements", g.admin, {"code": "three", "name": "x", "kind": "MILESTONE",
                                           "conditions": {"target": 1, "metric": "bogus"}})
    assert r.status_code == 400, r.text


# ---- currencies, spends and the ledger -------------------------------------------------------


def test_spend_and_its_errors(api):
    g = Game(api)
    g.rule(currencyAwards={"coins": 50})
    g.send()
    r = g.spend("u1", 20, metadata={"item": "hat"})
    assert r.status_code == 201, r.text
    t = r.json()["transaction"]
    assert t["userId"] == "u1" and t["currency"] == "coins" and t["amount"] == -20
    assert t["balanceAfter"] == 30 and t["reason"] == "shop" and t["metadata"] == {"item": "hat"}
    assert t["id"] and t["createdAt"]
    status, j = error_of(g.spend("u1", 31))
    assert status == 409 and j["error"] == "Insufficient balance"
    status, j = error_of(g.spend("nobody", 1))
    assert status == 404 and j["error"] == "User not found"
    for bad in ({"amount": 0}, {"amount": 1.5}, {"amount": -3}, {"currency": ""}):
        body = {"userId": "u1", "currency": "coins", "amount": 1, "reason": "x"}
        body.update(bad)
        assert api.post("/currency/spend", g.admin, body).status_code == 400
    assert g.balance() == 30


def test_spend_idempotency_key(api):
    g = Game(api)
    g.rule(currencyAwards={"coins": 50})
    g.send()
    key = new_key("spend")
    first = g.spend("u1", 10, idempotencyKey=key)
    again = g.spend("u1", 10, idempotencyKey=key)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["transaction"] == first.json()["transaction"]
    assert g.balance() == 40


def test_concurrent_spends_never_overdraw(api):
    """ForgeEngine went to -200 with 10 parallel spends; here exactly balance / amount
    succeed."""
    g = Game(api)
    g.rule(currencyAwards={"coins": 100})
    g.send()
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(lambda _: g.spend("u1", 30).status_code, range(24)))
    assert codes.count(201) == 3 and codes.count(409) == 21, codes
    assert g.balance() == 10


def test_ledger_pages_newest_first(api):
    g = Game(api)
    g.rule(xpAwards={"XP": 1}, currencyAwards={"coins": 2})
    for _ in range(3):
        g.send()
    g.spend("u1", 1)
    r = api.get("/users/u1/ledger?limit=4", g.admin)
    assert r.status_code == 200, r.text
    page = r.json()
    rows = page["rows"]
    assert [(x["kind"], x["amount"]) for x in rows] == [("currency", -1), ("currency", 2),
                                                         ("xp", 1), ("currency", 2)]
    assert rows[0]["balanceAfter"] == 5 and rows[1]["balanceAfter"] == 6
    assert rows[2]["track"] == "XP" and rows[2]["balanceAfter"] == 3
    assert rows[1]["source"] and rows[1]["reason"] == "rule"
    rest = api.get(f"/users/u1/ledger?limit=4&cursor={page['nextCursor']}", g.admin).json()
    assert [(x["kind"], x["amount"]) for x in rest["rows"]] == [("xp", 1), ("currency", 2),
                                                                 ("xp", 1)]
    assert rest["nextCursor"] is None
    xp = api.get("/users/u1/ledger?kind=xp", g.admin).json()["rows"]
    assert [x["balanceAfter"] for x in xp] == [3, 2, 1]
    assert api.get("/users/u1/ledger?limit=0", g.admin).status_code == 400
    assert api.get("/users/u1/ledger?kind=gold", g.admin).status_code == 400
    assert api.get("/users/nobody/ledger", g.admin).status_code == 404


# ---- persistence -----------------------------------------------------------------------------


def test_game_state_and_definitions_survive_a_restart(reactor, tmp_path):
    from tenants import Api
    data = tmp_path / "data"
    s = start(reactor, data_dir=data)
    g = Game(Api(s))
    g.rule(xpAwards={"Builder XP": 70}, currencyAwards={"coins": 5})
    g.achievement(code="two", kind="MILESTONE", conditions={"target": 2, "metric": "events:task_completed"})
    g.send(occurredAt=days_ago(1))
    g.send()
    before = g.profile()
    s.stop()
    s = start(reactor, data_dir=data)
    g.api = Api(s)
    g.events = EventClient(s, g.app["id"], g.admin)
    after = g.profile()
    assert after == before
    assert after["levels"][0]["totalXp"] == 140 and after["streaks"][0]["current"] == 2
    # a clean stop folded the game logs: this start applied no event again
    assert metrics(s)["reactor_engine_events_replayed_total"] == 0
    fx = g.send()
    assert of_type(fx, "xp.awarded")[0]["totalXp"] == 210
    assert not of_type(fx, "achievement.unlocked")


def test_logged_state_and_ledger_survive_folds_and_kill_9(reactor, tmp_path):
    """Users' state and ledger rows are logged and folded into their tables every few rows
    (REACTOR_GAME_LOG_ROWS); reads see them on both sides of a fold, and a kill -9 that leaves
    rows in the logs loses nothing: the next start folds them."""
    from tenants import Api
    data = tmp_path / "data"
    s = start(reactor, data_dir=data, env={"REACTOR_GAME_LOG_ROWS": "6"})
    g = Game(Api(s))
    g.rule(xpAwards={"XP": 1}, currencyAwards={"coins": 2})
    key = new_key("spend")
    for i in range(5):
        g.send("u1")
        g.send(f"other-{i}")
    first = g.spend("u1", 3, idempotencyKey=key)
    assert first.status_code == 201, first.text
    g.send("u1")
    g.send("other-5")  # a write of two rows (its state, its one ledger row) past the last fold
    m = metrics(s)
    assert m["reactor_engine_game_log_folds_total"] >= 3, m
    assert m["reactor_engine_game_log_rows"] > 0, m  # the kill below leaves rows in the logs
    ledger = g.api.get("/users/u1/ledger?limit=100", g.admin).json()["rows"]
    assert [(x["kind"], x["balanceAfter"]) for x in ledger[:4]] == [
        ("currency", 9), ("xp", 6), ("currency", 7), ("currency", 10)]
    assert len(ledger) == 13  # 6 events x (xp, coins) and the spend
    paged, cursor = [], None
    while True:  # three rows a page, across the log and the table
        q = "/users/u1/ledger?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = g.api.get(q, g.admin).json()
        paged += page["rows"]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert paged == ledger
    before = [g.profile("u1"), g.profile("other-4")]
    s.kill()
    s.returncode = s.proc.returncode  # -9: the test expects this death
    s = start(reactor, data_dir=data)
    g.api = Api(s)
    g.events = EventClient(s, g.app["id"], g.admin)
    assert [g.profile("u1"), g.profile("other-4")] == before
    assert g.api.get("/users/u1/ledger?limit=100", g.admin).json()["rows"] == ledger
    again = g.spend("u1", 3, idempotencyKey=key)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["transaction"] == first.json()["transaction"]
    assert of_type(g.send("u1"), "xp.awarded")[0]["totalXp"] == 7
    assert g.balance("u1") == 11


def test_events_applied_again_after_kill_9_give_the_same_states(reactor, tmp_path):
    """An event does not write its user's state: after a kill -9 the next start applies the
    events since the last fold again, each under the definitions, settings and attributes it
    met. Here a rule changes, the app's time zone changes (the time bonus reads it) and a
    user's time zone changes (streaks and daily caps read it) between events, and a spend comes
    in between; the profiles and ledgers read after the restart are the ones read before."""
    from tenants import Api
    data = tmp_path / "data"
    s = start(reactor, data_dir=data, env={"REACTOR_GAME_LOG_ROWS": "100000"})
    g = Game(Api(s), defaultTimezone="UTC")
    r = g.rule(xpAwards={"XP": 10}, currencyAwards={"coins": 4},
               timeBonusConfig={"fromHour": 0, "toHour": 23, "multiplier": 2},
               caps=[{"per": "day", "max": 30}])
    g.rule(name="scored", xpAwards={"Skill": {"field": "score", "max": 50}},
           conditions={"all": [{"field": "score", "op": "gte", "value": 10}]})
    g.achievement(code="three", kind="MILESTONE", repeatable=True,
                  conditions={"target": 3, "metric": "events:task_completed"},
                  rewardConfig={"currencyAwards": {"gems": 1}})
    users = ["u1", "u2", "u3"]
    # "the day" below is yesterday, so that none of its times is in the future (refused) at
    # whatever hour the test runs
    for day in (3, 2):
        for u in users:
            g.send(u, occurredAt=days_ago(day + 1, hour=10), metadata={"score": 5 + day * 7})
    assert g.api.patch(f"/rules/{r['id']}", g.admin, {"xpAwards": {"XP": 7}}).status_code == 200
    for u in users:
        g.send(u, occurredAt=days_ago(2, hour=23), metadata={"score": 40})
    app_path = f"/apps/{g.app['id']}"
    assert g.api.patch(app_path, g.admin, {"defaultTimezone": "Asia/Tokyo"}).status_code == 200
    assert g.api.post("/users", g.admin, {"userId": "u2", "attributes":
                                          {"timezone": "America/Los_Angeles"}}).status_code == 201
    assert g.spend("u3", 5).status_code == 201
    for u in users:
        g.send(u, occurredAt=days_ago(1, hour=1), metadata={"score": 60})
        g.send(u, occurredAt=days_ago(1, hour=2), metadata={"score": 1})
    before = {u: g.profile(u) for u in users}
    ledgers = {u: g.api.get(f"/users/{u}/ledger?limit=100", g.admin).json()["rows"]
               for u in users}
    s.kill()
    s.returncode = s.proc.returncode  # -9: the test expects this death
    s = start(reactor, data_dir=data)
    g.api = Api(s)
    g.events = EventClient(s, g.app["id"], g.admin)
    assert {u: g.profile(u) for u in users} == before
    assert {u: g.api.get(f"/users/{u}/ledger?limit=100", g.admin).json()["rows"]
            for u in users} == ledgers
    m = metrics(s)
    # the day's six events, after the last fold (the app's change folded the ones before)
    assert m["reactor_engine_events_replayed_total"] == 6, m
    assert m["reactor_engine_events_replay_differed_total"] == 0, m
    # and the next events go on from there
    fx = g.send("u1", occurredAt=days_ago(1, hour=3), metadata={"score": 60})
    totals = {lv["track"]: lv["totalXp"] for lv in before["u1"]["levels"]}
    for x in of_type(fx, "xp.awarded"):
        assert x["totalXp"] == totals[x["track"]] + x["amount"], (x, totals)


def test_effects_are_stored_compact_and_rows_of_earlier_versions_read_the_same(reactor,
                                                                             tmp_path):
    """An event's row keeps its effects in a compact binary form (migration 21), not as JSON;
    what every reader shows is the same JSON. A store whose rows hold JSON, as earlier versions
    wrote them, reads the same events, ledgers and profiles, and applies its events again to
    the effects they had."""
    import sqlite3
    from tenants import Api
    data = tmp_path / "data"
    s = start(reactor, data_dir=data, env={"REACTOR_GAME_LOG_ROWS": "100000"})
    g = Game(Api(s), defaultTimezone="UTC")
    g.rule(xpAwards={"XP": 10}, currencyAwards={"coins": 4})
    g.rule(name="named \"q\"", xpAwards={"Skill \u00e9": {"field": "score", "max": 50}})
    g.achievement(code="two", kind="MILESTONE", repeatable=True, tier="Gold",
                  conditions={"target": 2, "metric": "events:task_completed"},
                  rewardConfig={"currencyAwards": {"gems": 1}})
    keys, answers = [], {}
    for i in range(4):
        key = new_key()
        r = g.events.post(g.events.event("u1", "task_completed", idempotencyKey=key,
                                          metadata={"score": 20 + i}), wait="true")
        assert r.status_code == 202, r.text
        keys.append(key)
        answers[key] = r.json()["event"]["effects"]
    assert g.spend("u1", 3).status_code == 201
    assert any(e["type"] == "achievement.unlocked" and e["tier"] == "Gold"
               for e in answers[keys[1]]), answers

    def read_all():
        evs = {}
        for k in keys:
            r = g.api.get(f"/events/{k}", g.admin)
            assert r.status_code == 200, r.text
            evs[k] = r.json()["effects"]
        ledger = g.api.get("/users/u1/ledger?limit=100", g.admin).json()["rows"]
        return evs, ledger, g.profile("u1")

    events, ledger, profile = read_all()
    assert events == answers
    assert len(ledger) == 4 * 3 + 2 + 1  # XP, coins, Skill an event; gems twice; the spend
    s.stop()
    db = sqlite3.connect(str(data / "reactor.db"))
    rows = db.execute("SELECT idempotency_key, effects, typeof(fx), length(fx) FROM events "
                      "WHERE event_type = 'task_completed'").fetchall()
    assert len(rows) == 4 and all(r[1] is None and r[2] == "blob" for r in rows), rows
    for key, _, _, size in rows:
        text = json.dumps(answers[key], separators=(",", ":"), ensure_ascii=False)
        assert size < len(text.encode()) / 2, (size, text)

    # The same store as earlier versions wrote it: JSON in `effects`, as the answers showed it.
    with db:
        for key in keys:
            text = json.dumps(answers[key], separators=(",", ":"), ensure_ascii=False)
            db.execute("UPDATE events SET effects = ?, fx = NULL WHERE idempotency_key = ?",
                       (text, key))
    db.close()
    s = start(reactor, data_dir=data, env={"REACTOR_GAME_LOG_ROWS": "100000"})
    g.api = Api(s)
    g.events = EventClient(s, g.app["id"], g.admin)
    assert read_all() == (events, ledger, profile)

    # Killed with events after the last fold, in rows of both forms: applied again, each
    # gives the effects its row holds.
    late = {}
    for score in (30, 31):
        key = new_key()
        r = g.events.post(g.events.event("u1", "task_completed", idempotencyKey=key,
                                          metadata={"score": score}), wait="true")
        assert r.status_code == 202, r.text
        late[key] = r.json()["event"]["effects"]
    s.kill()
    s.returncode = s.proc.returncode  # -9: the test expects this death
    db = sqlite3.connect(str(data / "reactor.db"))
    with db:
        first = next(iter(late))
        db.execute("UPDATE events SET fx = NULL, effects = ? WHERE idempotency_key = ?",
                   (json.dumps(late[first], separators=(",", ":"), ensure_ascii=False), first))
    db.close()
    s = start(reactor, data_dir=data, env={"REACTOR_GAME_LOG_ROWS": "100000"})
    g.api = Api(s)
    g.events = EventClient(s, g.app["id"], g.admin)
    assert g.profile("u1")["levels"]
    m = metrics(s)
    assert m["reactor_engine_events_replayed_total"] == 2, m
    assert m["reactor_engine_events_replay_differed_total"] == 0, m
    for key, fx in late.items():
        assert g.api.get(f"/events/{key}", g.admin).json()["effects"] == fx
