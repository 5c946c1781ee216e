"""Crash safety of event ingestion: kill -9 the server under load, restart it on the same data
directory, and check that nothing acknowledged was lost or applied twice.

A 202 means the event was committed: after any crash GET /events/:key must find it PROCESSED,
its request's nonce must still be remembered (the exact request again is a replay), and a
repeat of its key must be answered Idempotent-Replayed instead of being applied again. A
request that was cut by the kill may or may not have been applied, but only as a whole and
never twice."""

import concurrent.futures
import random
import threading
import time

import requests

from events_helpers import (SECRET, EventClient, delta, encode, ingest_app, metrics, new_key,
                            signature_headers)
from tenants import Api, error_of, start

THREADS = 12          # posting clients, each with its own keep-alive session
LOAD_SECONDS = 2.0    # of load before each kill
CYCLES = 3            # kill -9 / restart rounds
BATCH_EVERY = 4       # every 4th request of a client is a batch
BATCH_SIZE = 5
WAIT_EVERY = 7        # every 7th single event asks for ?wait=true
REQUEST_TIMEOUT = 5.0
SAMPLE = 60           # acknowledged keys re-posted (and replayed) per cycle


class Load:
    """Clients posting signed events as fast as they can, recording every outcome."""

    def __init__(self, server, app_id, key, cycle):
        self.server = server
        self.app_id = app_id
        self.key = key
        self.cycle = cycle
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.acked = {}      # key -> (userId, eventType, raw body, signature headers, path)
        self.acked_order = []  # keys in the order their 202 arrived
        self.waited = {}     # key -> the event a ?wait=true answer returned
        self.cut = []        # [(keys of one request, path)] without an answer (error/timeout)
        self.refused = []    # [(keys, status, text)] answered other than 202
        self.errors = []     # assertion failures inside the client threads
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(THREADS)]

    def start(self):
        for t in self.threads:
            t.start()

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self.threads)

    def run(self, wid):
        with requests.Session() as sess:
            c = EventClient(self.server, self.app_id, self.key, SECRET, session=sess)
            n = 0
            while not self.stop.is_set():
                n += 1
                try:
                    self.one(c, wid, n)
                except Exception as e:  # an assertion in a thread must fail the test
                    with self.lock:
                        self.errors.append(f"client {wid} request {n}: {e!r}")
                    return

    def one(self, c, wid, n):
        def ev(j):
            k = new_key(f"c{self.cycle}w{wid}n{n}e{j}")
            return k, c.event(f"crash-user-{wid}-{(n + j) % 16}", f"type-{n % 3}",
                              idempotencyKey=k, metadata={"w": wid, "n": n, "j": j})

        if n % BATCH_EVERY == 0:
            items = [ev(j) for j in range(BATCH_SIZE)]
            path, body = "/events/batch", {"events": [e for _, e in items]}
        else:
            items = [ev(0)]
            path = "/events?wait=true" if n % WAIT_EVERY == 0 else "/events"
            body = items[0][1]
        keys = [k for k, _ in items]
        raw = encode(body)
        h = signature_headers(SECRET, raw)
        try:
            r = c.post_raw(path, raw, sig_headers=h, timeout=REQUEST_TIMEOUT)
        except requests.RequestException:
            with self.lock:
                self.cut.append((keys, path))
            if not self.stop.is_set():
                time.sleep(0.005)  # the server is gone; do not spin until stop is set
            return
        if r.status_code != 202:
            with self.lock:
                self.refused.append((keys, r.status_code, r.text))
            return
        j = r.json()
        if path == "/events/batch":
            got = [x["idempotencyKey"] for x in j["results"]]
            assert got == keys and all(x["status"] == "accepted" and "duplicate" not in x
                                       for x in j["results"]), r.text
        else:
            assert j["idempotencyKey"] == keys[0], r.text
            assert r.headers.get("Idempotent-Replayed") is None, r.headers
        with self.lock:
            for k, e in items:
                self.acked[k] = (e["userId"], e["eventType"], raw, h, path)
                self.acked_order.append(k)
            if "event" in j:
                self.waited[keys[0]] = j["event"]


def parallel(fn, items, workers=8):
    """fn(session, item) for every item on `workers` threads, each with its own session."""
    local = threading.local()
    sessions = []
    lock = threading.Lock()

    def call(item):
        if not hasattr(local, "s"):
            local.s = requests.Session()
            with lock:
                sessions.append(local.s)
        return fn(local.s, item)

    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(call, items))
    finally:
        for s in sessions:
            s.close()


def get_event(server, api_key):
    """For parallel(): GET /events/:key -> (key, status, event JSON or error text)."""
    def fn(sess, k):
        r = sess.get(server.url(f"/events/{k}"), headers={"x-api-key": api_key}, timeout=5)
        return k, r.status_code, (r.json() if r.status_code == 200 else r.text)
    return fn


def kill_under_load(server, load):
    """Lets `load` run for LOAD_SECONDS (and until something was acknowledged), then kills the
    server with SIGKILL while the clients are still posting."""
    load.start()
    t0 = time.monotonic()
    deadline = t0 + 10
    while time.monotonic() < deadline:
        with load.lock:
            enough = len(load.acked) >= 50
        if enough and time.monotonic() - t0 >= LOAD_SECONDS:
            break
        time.sleep(0.05)
    server.kill()
    server.returncode = server.proc.returncode  # -9: the test expects this death
    load.stop.set()
    assert load.join(REQUEST_TIMEOUT + 5), "client threads did not finish"
    assert not load.errors, load.errors[:5]
    assert server.returncode == -9, server.returncode
    assert len(load.acked) >= 50, (len(load.acked), load.refused[:3])


def check_after_restart(server, c, load):
    """Everything acknowledged before the kill is there, once; cut requests all or nothing."""
    # 1. Every acknowledged key is stored and PROCESSED, with what was sent.
    keys = list(load.acked)
    results = parallel(get_event(server, c.key), keys)
    missing = [(k, st, body) for k, st, body in results if st != 200]
    assert not missing, f"{len(missing)} of {len(keys)} acknowledged events lost: {missing[:5]}"
    for k, _, ev in results:
        user, etype = load.acked[k][:2]
        assert (ev["idempotencyKey"], ev["userId"], ev["eventType"], ev["status"]) == \
            (k, user, etype, "PROCESSED"), ev
    got = {k: ev for k, _, ev in results}
    for k, ev in load.waited.items():
        assert got[k] == ev, (k, got[k], ev)

    # 2. A sample of them, re-posted: the exact request is a replay (its nonce survived), the
    #    key with a new nonce is Idempotent-Replayed and nothing is applied again. The last
    #    acknowledgements before the kill are the likeliest to have been lost: always in.
    sample = list(dict.fromkeys(load.acked_order[-SAMPLE // 2:] +
                                random.sample(keys, min(len(keys), SAMPLE // 2))))
    m0 = metrics(server)

    def repost(sess, k):
        user, etype, raw, h, path = load.acked[k]
        cs = EventClient(server, c.app_id, c.key, SECRET, session=sess)
        again = cs.post_raw(path, raw, sig_headers=h)
        fresh = cs.post(cs.event(user, etype, idempotencyKey=k))
        return k, again, fresh

    for k, again, fresh in parallel(repost, sample):
        assert error_of(again) == (401, {"error": "Replay detected", "code": "replay_detected"}), \
            (k, again.text)
        assert fresh.status_code == 202, (k, fresh.text)
        assert fresh.headers.get("Idempotent-Replayed") == "true", (k, fresh.headers)
    m1 = metrics(server)
    assert delta(m0, m1, "reactor_events_duplicate_total") == len(sample)
    assert delta(m0, m1, 'reactor_events_processed_total{status="processed"}') == 0
    assert delta(m0, m1, 'reactor_events_processed_total{status="failed"}') == 0

    # 3. Requests refused with an answer left nothing behind.
    refused = [k for keys_, _, _ in load.refused for k in keys_]
    for k, st, body in parallel(get_event(server, c.key), refused):
        assert st == 404, (k, st, body)

    # 4. Requests cut by the kill: each applied whole or not at all, and a repeat of their
    #    keys is applied at most once.
    cut_applied = 0
    for keys_, path in load.cut:
        found = {k: st for k, st, _ in parallel(get_event(server, c.key), keys_)}
        states = set(found.values())
        assert states <= {200, 404}, found
        assert len(states) == 1, f"request {path} was applied in part: {found}"
        present = states == {200}
        cut_applied += present
        for k in keys_:
            r = c.post(c.event("late-user", "late", idempotencyKey=k))
            assert r.status_code == 202, r.text
            assert (r.headers.get("Idempotent-Replayed") == "true") == present, (k, present)
            r = c.post(c.event("late-user", "late", idempotencyKey=k))
            assert r.headers.get("Idempotent-Replayed") == "true", k

    # 5. The server is healthy and takes new events.
    assert server.health_ok()
    ev = c.accepted(c.event("after-crash"), wait="true")["event"]
    assert ev["status"] == "PROCESSED"
    return {"acked": len(keys), "cut": len(load.cut), "cut_applied": cut_applied,
            "refused": len(load.refused)}


def test_kill_9_under_load_loses_no_acknowledged_event(reactor, tmp_path):
    data = tmp_path / "data"
    server = start(reactor, data_dir=data, name="crash0")
    c, admin = ingest_app(Api(server))
    ingest, _ = Api(server).create_key(admin, "INGEST")
    c = c.with_key(ingest)
    every_acked = {}
    stats = []
    for cycle in range(CYCLES):
        load = Load(server, c.app_id, ingest, cycle)
        kill_under_load(server, load)
        server = start(reactor, data_dir=data, name=f"crash{cycle + 1}")
        c = EventClient(server, c.app_id, ingest, SECRET)
        stats.append(check_after_restart(server, c, load))
        every_acked.update((k, v[:2]) for k, v in load.acked.items())
    # Events acknowledged in earlier cycles survived the later crashes too (a sample).
    keys = random.sample(sorted(every_acked), min(200, len(every_acked)))
    for k, st, ev in parallel(get_event(server, ingest), keys):
        assert st == 200 and (ev["userId"], ev["eventType"]) == every_acked[k], (k, st, ev)
    print(f"acknowledged/cut per cycle: {stats}")
