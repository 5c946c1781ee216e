"""The real-time gateway through the real binary: client tokens, the WebSocket upgrade on
GET /ws, authorization, pushes after commit on user, app and leaderboard channels, recovery,
presence over WebSocket and HTTP, slow consumers, limits and metrics. The client is
ws_client.WS, a small RFC 6455 client over a plain socket."""

import base64
import datetime
import json
import struct
import subprocess
import threading
import time

import pytest
import requests

from conftest import IO_TIMEOUT, Server
from events_helpers import metrics
from tenants import Api, server_flags, start
from test_leaderboards import Board
from ws_client import WS, Closed, HandshakeRefused

PROMTOOL = "/usr/bin/promtool"


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    """One server for the module; leaderboard pushes at most every 100 ms."""
    s = Server(tmp_path_factory.mktemp("rt"),
               flags=server_flags(["--ws-leaderboard-interval-ms", "100"]), name="rt")
    s.start()
    yield Api(s)
    if s.running:
        s.stop()


class Game(Board):
    """An app whose "score" events award metadata.points XP ("Builder XP") and 1 coin, with
    client tokens and WebSocket connections for it."""

    def token(self, user, **body):
        r = self.api.post("/tokens", self.admin, dict(userId=user, **body))
        assert r.status_code == 201, r.text
        return r.json()["token"]

    def ws(self, user=None, token=None, **kw):
        if user is not None:
            token = self.token(user)
        if token is not None:
            return WS(self.api.server.port, token=token, **kw)
        return WS(self.api.server.port, headers={"x-api-key": self.admin}, **kw)

    def score(self, user, points):
        """Posts one event and returns the answer (the event with its effects)."""
        r = self.events.post(self.events.event(user, "score", metadata={"points": points}),
                             wait="true")
        assert r.status_code == 202, r.text
        return r.json()


def refused(fn):
    with pytest.raises(HandshakeRefused) as e:
        fn()
    return e.value


# ---- tokens and the handshake ------------------------------------------------------------

def test_tokens_are_jwts_for_the_keys_app(rt):
    g = Game(rt)
    r = rt.post("/tokens", g.admin, {"userId": "alice", "ttlSeconds": 60})
    assert r.status_code == 201, r.text
    j = r.json()
    assert j["userId"] == "alice" and j["expiresAt"].endswith("Z")
    head, payload, sig = j["token"].split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)
    assert json.loads(base64.urlsafe_b64decode(pad(head))) == {"alg": "HS256", "typ": "JWT"}
    claims = json.loads(base64.urlsafe_b64decode(pad(payload)))
    assert claims["sub"] == "alice" and claims["app"] == g.app["id"]
    assert claims["exp"] - claims["iat"] == 60
    # Bad bodies and keys.
    assert rt.post("/tokens", g.admin, {}).status_code == 400
    assert rt.post("/tokens", g.admin, {"userId": "a", "ttlSeconds": 0}).status_code == 400
    r = rt.post("/tokens", g.admin, {"userId": "a", "channels": ["app"]})
    assert r.status_code == 400 and "channels" in r.json()["details"]
    assert rt.post("/tokens", None, {"userId": "a"}).status_code == 401
    ro, _ = rt.create_key(g.admin, "READONLY")
    assert rt.post("/tokens", ro, {"userId": "a"}).status_code == 403


def test_bad_missing_forged_and_expired_credentials_get_401_and_no_upgrade(rt):
    g = Game(rt)
    port = rt.server.port
    assert refused(lambda: WS(port)).status == 401
    assert refused(lambda: WS(port, token="not.a.token")).status == 401
    assert refused(lambda: WS(port, headers={"x-api-key": "nope"})).status == 401
    good = g.token("bob")
    head, payload, sig = good.split(".")
    # Another payload under the same signature, a signature from another app, alg none.
    other = Game(rt).token("bob")
    forged = [head + "." + other.split(".")[1] + "." + sig,
              head + "." + payload + "." + other.split(".")[2],
              base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
              + "." + payload + "."]
    for t in forged:
        e = refused(lambda: WS(port, token=t))
        assert e.status == 401 and e.json()["code"] == "unauthorized", t
    short = g.token("bob", ttlSeconds=1)
    time.sleep(2.1)
    e = refused(lambda: WS(port, token=short))
    assert e.status == 401 and e.json()["code"] == "token_expired"
    # Bearer works like ?token=.
    ws = WS(port, headers={"Authorization": "Bearer " + good})
    assert ws.call("ping")["ok"] is True
    ws.close()


def test_not_an_upgrade_is_426(rt):
    g = Game(rt)
    r = requests.get(rt.server.url("/ws"), headers={"x-api-key": g.admin}, timeout=IO_TIMEOUT)
    assert r.status_code == 426 and r.json()["code"] == "upgrade_required"


# ---- commands and authorization ------------------------------------------------------------

def test_a_user_token_reaches_its_own_channel_boards_and_rooms_only(rt):
    g = Game(rt)
    ws = g.ws("alice")
    ok = ws.call("subscribe", channel="user:alice")
    assert ok["ok"] is True and ok["result"]["offset"] == 0 and ok["result"]["epoch"]
    for ch in ("leaderboard:Builder XP", "leaderboard:Builder XP:all", "presence:lobby"):
        assert ws.call("subscribe", channel=ch)["ok"] is True, ch
    for ch in ("user:bob", "app"):
        err = ws.call("subscribe", channel=ch)["error"]
        assert err["code"] == 403, ch
    # Still connected and working after the refusals.
    assert ws.call("ping")["ok"] is True
    assert ws.call("subscribe", channel="user:alice")["error"]["code"] == 409
    assert ws.call("subscribe", channel="nope:x")["error"]["code"] == 400
    assert ws.call("unsubscribe", channel="user:bob")["error"]["code"] == 404
    assert ws.call("unsubscribe", channel="user:alice")["ok"] is True
    ws.close()
    # A token may grant more channels by name.
    ws = g.ws(token=g.token("alice", channels=["user:team-1"]))
    assert ws.call("subscribe", channel="user:team-1")["ok"] is True
    ws.close()


def test_malformed_commands_get_400_replies_not_a_disconnect(rt):
    g = Game(rt)
    ws = g.ws("alice")
    ws.send_frame(0x1, b"{not json")
    m = ws.recv()
    assert m["id"] is None and m["error"]["code"] == 400
    for bad in ({"id": 1}, {"id": 2, "op": "fly"}, {"id": 3, "op": "subscribe"},
                {"id": 4, "op": "subscribe", "channel": "user:alice", "since": {"offset": -1}},
                {"id": 5, "op": "join", "room": "bad room"}, {"op": "ping"}):
        ws.send_json(bad)
        m = ws.recv()
        assert m["error"]["code"] == 400, (bad, m)
        assert m["id"] == bad.get("id"), m
    assert ws.call("ping")["ok"] is True
    ws.close()


# ---- pushes after commit ---------------------------------------------------------------------

def test_effects_reach_the_users_channel_after_commit(rt):
    g = Game(rt)
    ws = g.ws("alice")
    sub = ws.call("subscribe", channel="user:alice")["result"]
    other = g.ws("bob")
    other.call("subscribe", channel="user:bob")
    answer = g.score("alice", 40)
    assert answer["event"]["status"] == "PROCESSED"
    effects = answer["event"]["effects"]
    assert {"xp.awarded", "currency.changed"} <= {e["type"] for e in effects}
    seen = [ws.push() for _ in effects]
    # Each effect, in order, as its own push carrying the effect.
    assert [m["type"] for m in seen] == [e["type"] for e in effects]
    assert [m["data"] for m in seen] == effects
    xp = [m for m in seen if m["type"] == "xp.awarded"][0]
    assert xp["channel"] == "user:alice" and xp["data"]["amount"] == 40
    assert xp["data"]["track"] == "Builder XP"
    assert xp["epoch"] == sub["epoch"]
    assert [m["offset"] for m in seen] == list(range(1, len(effects) + 1))
    assert isinstance(xp["ts"], int)
    assert other.no_push(0.3), "bob saw alice's effects"
    ws.close()
    other.close()


def test_a_message_reaches_exactly_the_channels_subscribers_as_they_come_and_go(rt):
    """Many connections on one channel, some leaving by unsubscribe (the first, a middle and
    the last to subscribe) or by closing: each push reaches every connection still subscribed
    once, and none of the others; one that subscribes again gets the next push."""
    g = Game(rt)
    conns = [g.ws() for _ in range(12)]
    for ws in conns:
        ws.call("subscribe", channel="user:carol")
    for i in (0, 5, 11):
        assert conns[i].call("unsubscribe", channel="user:carol")["ok"] is True
    for i in (3, 7):
        conns[i].close()
    gone = {0, 3, 5, 7, 11}
    live = [i for i in range(12) if i not in gone]

    def score_and_check(expect):
        n = len(g.score("carol", 5)["event"]["effects"])
        for i in expect:
            seen = [conns[i].push() for _ in range(n)]
            assert {m["channel"] for m in seen} == {"user:carol"}, (i, seen)
            assert conns[i].no_push(0.1), f"connection {i} got a push twice"
        for i in (0, 5, 11):
            if i not in expect:
                assert conns[i].no_push(0.1), f"unsubscribed connection {i} got a push"

    score_and_check(live)
    conns[5].call("subscribe", channel="user:carol")
    score_and_check(sorted(live + [5]))
    for i in range(12):
        if i not in (3, 7):
            conns[i].close()


def test_a_spend_reaches_the_users_channel(rt):
    """POST /currency/spend is applied by the engine like an event: its currency.changed is
    pushed to the user's channel once it is durable."""
    g = Game(rt)
    g.score("carol", 10)  # 1 coin
    ws = g.ws("carol")
    ws.call("subscribe", channel="user:carol")
    r = rt.post("/currency/spend", g.admin, {"userId": "carol", "currency": "coins",
                                             "amount": 1, "reason": "sticker"})
    assert r.status_code == 201, r.text
    m = ws.push()
    assert m["type"] == "currency.changed" and m["channel"] == "user:carol"
    assert m["data"] == {"type": "currency.changed", "currency": "coins", "amount": -1,
                         "balance": 0, "reason": "sticker",
                         "transactionId": r.json()["transaction"]["id"]}
    ws.close()


def test_the_app_channel_is_for_api_keys_and_carries_every_event(rt):
    g = Game(rt)
    ws = g.ws()
    assert ws.call("subscribe", channel="app")["ok"] is True
    g.score("carol", 5)
    m = ws.push()
    assert m["channel"] == "app" and m["type"] == "event.processed"
    assert m["data"]["userId"] == "carol" and m["data"]["status"] == "PROCESSED"
    assert {"xp.awarded", "currency.changed"} <= {e["type"] for e in m["data"]["effects"]}
    # Another app's events never show up.
    Game(rt).score("carol", 5)
    assert ws.no_push(0.3)
    ws.close()


def test_leaderboard_channels_get_coalesced_top_n(rt):
    g = Game(rt)
    ws = g.ws("viewer")
    ws.call("subscribe", channel="leaderboard:Builder XP")
    g.score("alice", 10)
    g.score("bob", 30)
    deadline = time.monotonic() + 5
    last = None
    while time.monotonic() < deadline:
        last = ws.push()
        assert last["type"] == "leaderboard.updated"
        if [r["userId"] for r in last["data"]["top"]] == ["bob", "alice"]:
            break
    assert last["data"]["top"][0] == {"rank": 1, "userId": "bob", "score": 30}
    assert last["data"]["period"] == "all"
    # Many changes in a burst give far fewer pushes than changes.
    events = [g.events.event(f"u{i}", "score", metadata={"points": i + 1}) for i in range(50)]
    for i in range(0, 50, 5):
        assert g.events.batch(events[i:i + 5], wait="true").status_code == 202
    time.sleep(0.5)
    n = 0
    while not ws.no_push(0.3):
        n += 1
    n += len(ws.pushes)
    assert 1 <= n < 10, n
    ws.close()


def test_a_period_boards_channel_gets_pushes_when_only_the_store_had_it(rt):
    # A week's board is built in memory only once something reads it: nobody has, so the
    # first change finds it only in the store; the hub's read brings it in, with no further
    # event needed, and the pushes carry its scores.
    g = Game(rt)
    ws = g.ws("viewer")
    year, week, _ = datetime.datetime.now(datetime.timezone.utc).isocalendar()
    period = f"{year}-W{week:02d}"
    ws.call("subscribe", channel=f"leaderboard:Builder XP:{period}")
    g.score("alice", 10)
    m = ws.wait_push(lambda m: m["type"] == "leaderboard.updated")
    assert m["data"]["period"] == period
    assert m["data"]["top"] == [{"rank": 1, "userId": "alice", "score": 10}]
    g.score("bob", 30)
    m = ws.wait_push(lambda m: [r["userId"] for r in m["data"]["top"]] == ["bob", "alice"])
    assert m["data"]["total"] == 2
    ws.close()


# ---- recovery --------------------------------------------------------------------------------

def test_recovery_replays_every_missed_message_or_says_false(rt):
    g = Game(rt)
    ws = g.ws("dave")
    first = ws.call("subscribe", channel="user:dave")["result"]
    n = len(g.score("dave", 1)["event"]["effects"])
    got = [ws.push() for _ in range(n)]
    at = max(m["offset"] for m in got)
    ws.close()
    # Missed while away: the channel keeps them for its history TTL.
    time.sleep(0.2)
    g.score("dave", 2)
    g.score("dave", 3)
    ws = g.ws("dave")
    r = ws.call("subscribe", channel="user:dave",
                since={"offset": at, "epoch": first["epoch"]})["result"]
    assert r["recovered"] is True and r["epoch"] == first["epoch"]
    replay = [ws.push() for _ in range(r["offset"] - at)]
    assert [m["offset"] for m in replay] == list(range(at + 1, r["offset"] + 1))
    assert sorted(m["data"]["amount"] for m in replay if m["type"] == "xp.awarded") == [2, 3]
    assert ws.no_push(0.3)
    # Up to date: recovered with nothing to replay.
    ws2 = g.ws("dave")
    r2 = ws2.call("subscribe", channel="user:dave",
                  since={"offset": r["offset"], "epoch": r["epoch"]})["result"]
    assert r2["recovered"] is True and ws2.no_push(0.3)
    # Another epoch or an offset from the future: recovered false, nothing replayed.
    for since in ({"offset": at, "epoch": "0000"}, {"offset": r["offset"] + 5,
                                                      "epoch": r["epoch"]}):
        ws3 = g.ws("dave")
        r3 = ws3.call("subscribe", channel="user:dave", since=since)["result"]
        assert r3["recovered"] is False and ws3.no_push(0.3)
        ws3.close()
    ws.close()
    ws2.close()


def test_a_gap_longer_than_the_history_is_never_replayed_in_part(reactor):
    s = start(reactor, ["--ws-history-size", "3"])
    api = Api(s)
    g = Game(api)
    ws = g.ws("erin")
    first = ws.call("subscribe", channel="user:erin")["result"]
    total = sum(len(g.score("erin", p)["event"]["effects"]) for p in (1, 2, 3))
    assert total > 3   # more messages than the 3 kept
    ws2 = g.ws("erin")
    r = ws2.call("subscribe", channel="user:erin",
                 since={"offset": 0, "epoch": first["epoch"]})["result"]
    assert r["recovered"] is False and r["offset"] == total
    assert ws2.no_push(0.3)
    r = ws2.call("unsubscribe", channel="user:erin")
    r = ws2.call("subscribe", channel="user:erin",
                 since={"offset": total - 3, "epoch": first["epoch"]})["result"]
    assert r["recovered"] is True
    assert [ws2.push()["offset"] for _ in range(3)] == [total - 2, total - 1, total]
    m = metrics(s)
    assert m['reactor_ws_recoveries_total{result="ok"}'] == 1
    assert m['reactor_ws_recoveries_total{result="failed"}'] == 1
    ws.close()
    ws2.close()


# ---- presence --------------------------------------------------------------------------------

def test_presence_over_websocket_and_http(rt):
    g = Game(rt)
    watcher = g.ws("watcher")
    watcher.call("subscribe", channel="presence:room-1")
    member = g.ws("fay")
    j = member.call("join", room="room-1", info={"name": "Fay"})["result"]
    cid = j["clientId"]
    m = watcher.push()
    assert m["type"] == "presence.join" and m["channel"] == "presence:room-1"
    assert m["data"] == {"room": "room-1", "clientId": cid, "userId": "fay",
                         "info": {"name": "Fay"}}
    r = rt.post("/presence/heartbeat", g.admin, {"userId": "gus", "room": "room-1",
                                                 "ttlSeconds": 1})
    assert r.status_code == 200, r.text
    m = watcher.push()
    assert m["type"] == "presence.join" and m["data"]["userId"] == "gus"
    listed = rt.get("/presence/room-1", g.admin).json()
    assert listed["room"] == "room-1"
    assert sorted((x["userId"], x["via"]) for x in listed["members"]) == [
        ("fay", "ws"), ("gus", "http")]
    # The heartbeat's TTL passes: gus leaves.
    m = watcher.push(timeout=4)
    assert m["type"] == "presence.leave" and m["data"]["userId"] == "gus"
    # Closing the connection leaves the room.
    member.close()
    m = watcher.push()
    assert m["type"] == "presence.leave" and m["data"]["clientId"] == cid
    assert rt.get("/presence/room-1", g.admin).json()["members"] == []
    # Another app's room of the same name is another room.
    assert Game(rt).api.get("/presence/room-1", g.admin).json()["members"] == []
    assert rt.post("/presence/heartbeat", g.admin, {"userId": "x", "room": "a b"}).status_code \
        == 400
    assert rt.get("/presence/room-1").status_code == 401
    watcher.close()


def test_join_and_leave_answer_and_leave_twice_is_404(rt):
    g = Game(rt)
    ws = g.ws("hal")
    assert ws.call("join", room="r2")["ok"] is True
    assert ws.call("leave", room="r2")["ok"] is True
    assert ws.call("leave", room="r2")["error"]["code"] == 404
    ws.close()


# ---- tokens over time ------------------------------------------------------------------------

def test_an_expired_token_closes_the_connection_unless_refreshed(rt):
    g = Game(rt)
    ws = g.ws(token=g.token("ivy", ttlSeconds=2))
    kept = g.ws(token=g.token("ivy", ttlSeconds=2))
    r = kept.call("refresh", token=g.token("ivy", ttlSeconds=60))
    assert r["ok"] is True and r["result"]["expiresAt"] > time.time() + 50
    assert kept.call("refresh", token=g.token("other"))["error"]["code"] == 403
    assert kept.call("refresh", token="x.y.z")["error"]["code"] == 401
    code, reason = ws.expect_close(timeout=5)
    assert (code, reason) == (4001, "token expired")
    time.sleep(1.2)
    assert kept.call("ping")["ok"] is True
    ws.sock.close()
    kept.close()



def test_the_sweep_reaches_every_connection_left_after_others_close(rt):
    """The periodic sweep (token expiry, pings) walks each I/O thread's connections: after
    the first, a middle and the last to open have closed, every one still open is swept,
    and each whose token has expired is closed for it."""
    g = Game(rt)
    conns = [g.ws(token=g.token(f"sw{i}", ttlSeconds=2)) for i in range(10)]
    for i in (0, 4, 9):
        conns[i].close()
    for i in (1, 2, 3, 5, 6, 7, 8):
        code, reason = conns[i].expect_close(timeout=6)
        assert (code, reason) == (4001, "token expired"), i
        conns[i].sock.close()


# ---- back-pressure and limits ----------------------------------------------------------------

def test_a_client_that_does_not_read_is_closed_as_a_slow_consumer(reactor):
    s = start(reactor, ["--ws-send-queue-bytes", "65536"])
    api = Api(s)
    g = Game(api)
    slow = g.ws()   # and never reads until the end
    slow.call("subscribe", channel="app")
    fast = g.ws()
    fast.call("subscribe", channel="app")
    got = []

    def read_fast():
        try:
            while True:
                got.append(fast.push(timeout=3)["offset"])
        except Exception:   # the 3 s of silence at the end
            pass

    reader = threading.Thread(target=read_fast)
    reader.start()
    pad = "x" * 8000
    sent = 0
    for i in range(60):
        events = [g.events.event(f"u{j}", "score", metadata={"points": 1, "pad": pad})
                  for j in range(100)]
        assert g.events.batch(events, wait="true").status_code == 202
        sent += 100
        if metrics(s).get("reactor_ws_slow_consumer_disconnects_total", 0) >= 1:
            break
    assert metrics(s)["reactor_ws_slow_consumer_disconnects_total"] == 1
    # Once it reads, it finds what was queued, then the reason.
    code, reason = slow.expect_close(timeout=10)
    assert (code, reason) == (4008, "slow consumer")
    reader.join()
    # The one that reads got everything, in order, and is still there.
    assert got == list(range(1, sent + 1))
    assert fast.call("ping")["ok"] is True
    fast.close()


def test_limits_are_configurable_with_clear_errors(reactor):
    s = start(reactor, [
        "--ws-max-subscriptions", "2", "--ws-max-connections-per-ip", "3",
        "--ws-max-message-bytes", "256", "--ws-max-connections", "100"])
    api = Api(s)
    g = Game(api)
    a = g.ws("a")
    assert a.call("subscribe", channel="user:a")["ok"]
    assert a.call("subscribe", channel="presence:x")["ok"]
    err = a.call("subscribe", channel="presence:y")["error"]
    assert err["code"] == 429 and "limit 2" in err["message"]
    b, c = g.ws("b"), g.ws("c")
    e = refused(lambda: g.ws("d"))
    assert e.status == 429 and e.json()["code"] == "too_many_connections"
    c.close()
    time.sleep(0.3)
    d = g.ws("d")   # a slot is free again
    # A message over the limit closes with 1009.
    b.send_json({"id": 1, "op": "ping", "pad": "y" * 400})
    assert b.expect_close()[0] == 1009
    # Binary frames carry no commands.
    d.send_frame(0x2, b"\x00\x01")
    assert d.expect_close()[0] == 1003
    a.close()


def test_total_connection_limit(reactor):
    s = start(reactor, ["--ws-max-connections", "2"])
    g = Game(Api(s))
    a, b = g.ws("a"), g.ws("b")
    e = refused(lambda: g.ws("c"))
    assert e.status == 503 and e.json()["code"] == "too_many_connections"
    a.close()
    b.close()


# ---- metrics ---------------------------------------------------------------------------------

def test_metrics_count_the_gateway_and_pass_promtool(rt):
    g = Game(rt)
    ws = g.ws("kim")
    ws.call("subscribe", channel="user:kim")
    ws.call("join", room="m-room")
    g.score("kim", 1)
    ws.push()
    r = requests.get(rt.server.url("/metrics"), timeout=IO_TIMEOUT)
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=r.content,
                           capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    m = metrics(rt.server)
    assert m["reactor_ws_connections"] >= 1
    assert m["reactor_ws_subscriptions"] >= 1
    assert m["reactor_presence_members"] >= 1
    assert m["reactor_ws_messages_pushed_total"] >= 1
    assert m["reactor_ws_pushed_bytes_total"] > 100
    ws.close()


# ---- framing and keepalive -------------------------------------------------------------------

def test_fragments_control_frames_and_protocol_errors(rt):
    g = Game(rt)
    ws = g.ws("lee")
    cmd = json.dumps({"id": 1, "op": "ping"}).encode()
    ws.send_frame(0x1, cmd[:5], fin=False)
    ws.send_frame(0x9, b"hello")                 # a ping between the fragments
    ws.send_frame(0x0, cmd[5:], fin=True)
    op, payload = ws.recv_frame_raw()
    assert (op, payload) == (0xA, b"hello")       # pong with the ping's payload
    assert ws.recv()["id"] == 1
    ws.send_frame(0x1, cmd, mask=False)           # clients must mask
    assert ws.expect_close()[0] == 1002
    ws2 = g.ws("lee")
    ws2.send_frame(0x0, b"x")                     # continuation of nothing
    assert ws2.expect_close()[0] == 1002
    ws3 = g.ws("lee")
    ws3.send_frame(0x8, struct.pack("!H", 1000) + b"bye")
    assert ws3.expect_close() == (1000, "")       # the peer's code echoed, then closed
    for code in (1005, 999, 2000):                # codes no endpoint may send are not echoed
        ws4 = g.ws("lee")
        ws4.send_frame(0x8, struct.pack("!H", code))
        assert ws4.expect_close() == (1002, "bad close code")


def test_pings_keep_live_peers_and_drop_silent_ones(reactor):
    s = start(reactor, ["--ws-ping-interval", "1"])
    g = Game(Api(s))
    live, silent = g.ws("a"), g.ws("b")
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:            # recv answers pings
        assert live.no_push(0.2)
    with pytest.raises(ConnectionError):          # EOF or reset, not a timeout
        while True:                               # silent never answered: dropped
            silent.recv_frame_raw()
    assert live.call("ping")["ok"] is True
    live.close()


# ---- the fan-out benchmark's client ------------------------------------------------------------

def test_the_benchmark_client_subscribes_and_times_fan_out_and_pushes(rt):
    """bench_ws_load (bench/ws_fanout.sh's client) against the real binary, a few connections:
    it reports every connection subscribed, a leaderboard message that reached all of them,
    and the latency of user-channel pushes."""
    import os
    from conftest import REACTOR_BIN
    tool = os.path.join(os.path.dirname(REACTOR_BIN), "bench_ws_load")
    if not os.path.exists(tool):
        pytest.skip("bench_ws_load is not built next to the binary")
    g = Game(rt)
    n = 20
    p = subprocess.Popen([tool, "--port", str(rt.server.port), "--count", str(n), "--key",
                          g.admin, "--shared", "leaderboard:Builder XP", "--threads", "2"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        def line():
            out = p.stdout.readline()
            assert out, "bench_ws_load ended early"
            return json.loads(out)
        assert line() == {"ready": n}
        p.stdin.write("fan\nlat\n")
        p.stdin.flush()
        time.sleep(0.2)
        before = time.time() * 1000
        g.score("u3", 1000)  # a new leader: the board's channel changes
        g.score("u5", 7)
        fan = line()["fan"]
        assert fan["n"] == n and before - 1000 <= fan["ts"] <= fan["last"] <= time.time() * 1000
        time.sleep(0.3)
        p.stdin.write("report\n")
        p.stdin.flush()
        lat = line()["lat"]
        assert len(lat) >= 4, lat  # xp.awarded and currency.changed of each user, at least
        assert all(-5 <= x < 5000 for x in lat), lat
        p.stdin.write("exit\n")
        p.stdin.flush()
        assert p.wait(timeout=10) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
