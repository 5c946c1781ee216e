"""The durable job queue through the real binary (issue 8): a job running when the process is
killed (-9) is delivered after the restart; SIGTERM lets a running job finish within its bound,
or returns it to the queue without counting the attempt; a batch that commits its event always
has its webhook job (the outbox)."""

import signal
import time

import pytest

from events_helpers import SECRET, EventClient
from tenants import Api, server_flags, unique
from webhook_receiver import Receiver, poll

BASE = ["--job-backoff-ms", "100", "--job-backoff-max-ms", "300", "--job-poll-ms", "50",
        "--job-max-attempts", "5"]


@pytest.fixture
def receiver():
    r = Receiver(SECRET)
    yield r
    r.close()


def make_app(api, receiver):
    app, admin = api.create_app(unique("jobs"), webhookSecret=SECRET, webhookUrl=receiver.url,
                                webhookEvents=["xp.awarded"])
    r = api.post("/rules", admin, {"name": "r", "eventType": "done", "xpAwards": {"XP": 5}})
    assert r.status_code == 201, r.text
    return app["id"], admin


def send(api, app_id, admin, user="u1"):
    ev = EventClient(api.server, app_id, admin)
    r = ev.post(ev.event(user, "done"), wait="true")
    assert r.status_code == 202, r.text


def jobs(api, admin):
    r = api.get("/jobs", admin)
    assert r.status_code == 200, r.text
    return r.json()["jobs"]


def test_a_job_running_when_the_process_is_killed_runs_after_restart(reactor, tmp_path,
                                                                       receiver):
    receiver.plan = [("sleep", 2.0, 200)]  # the first attempt hangs while we kill
    s = reactor(flags=server_flags(BASE + ["--job-timeout-ms", "20000"]))
    api = Api(s)
    app_id, admin = make_app(api, receiver)
    send(api, app_id, admin)
    receiver.wait_started(1)
    assert jobs(api, admin)[0]["state"] == "running"
    s.kill()
    s.returncode = s.proc.returncode  # -9: the test expects this death
    s2 = reactor(flags=server_flags(BASE), data_dir=s.data_dir)
    api2 = Api(s2)
    got = receiver.wait_for(lambda rs: any(r["headers"]["x-webhook-attempt"] == "2"
                                           and r["status"] == 200 for r in rs))
    ids = {r["headers"]["x-webhook-id"] for r in got}
    assert len(ids) == 1  # the same webhook again: receivers deduplicate on it
    j = poll(lambda: jobs(api2, admin), lambda js: js[0]["state"] == "succeeded")[0]
    assert j["state"] == "succeeded" and j["attempts"] == 2
    s2.stop()
    assert any(ln.get("msg") == "jobs left running by a stopped process are queued again"
               for ln in s2.logs())


def test_sigterm_lets_a_running_job_finish(reactor, receiver):
    receiver.plan = [("sleep", 1.0, 200)]
    s = reactor(flags=server_flags(BASE + ["--job-shutdown-ms", "5000"]))
    api = Api(s)
    app_id, admin = make_app(api, receiver)
    send(api, app_id, admin)
    receiver.wait_started(1)
    s.stop(signal.SIGTERM)
    assert len(receiver.ok()) == 1
    s2 = reactor(flags=server_flags(BASE), data_dir=s.data_dir)
    js = jobs(Api(s2), admin)
    assert js[0]["state"] == "succeeded" and js[0]["attempts"] == 1
    time.sleep(0.3)
    assert receiver.started == 1  # not sent again


def test_sigterm_returns_a_job_that_does_not_finish_in_time(reactor, receiver):
    receiver.plan = [("sleep", 3.0, 200)]
    s = reactor(flags=server_flags(BASE + ["--job-shutdown-ms", "200",
                                           "--job-timeout-ms", "20000"]))
    api = Api(s)
    app_id, admin = make_app(api, receiver)
    send(api, app_id, admin)
    receiver.wait_started(1)
    took = s.stop(signal.SIGTERM)
    assert took < 2.5
    s2 = reactor(flags=server_flags(BASE), data_dir=s.data_dir)
    api2 = Api(s2)
    receiver.wait_for(lambda rs: any(r["headers"]["x-webhook-attempt"] == "1"
                                     and r["status"] == 200 and r is not rs[0] for r in rs),
                      timeout=10)
    j = poll(lambda: jobs(api2, admin), lambda js: js[0]["state"] == "succeeded")[0]
    # the returned attempt was not counted
    assert j["state"] == "succeeded" and j["attempts"] == 1


def test_every_committed_event_has_its_webhook(reactor, receiver):
    """The outbox: 40 events in concurrent batches, each with one webhook."""
    s = reactor(flags=server_flags(BASE))
    api = Api(s)
    app_id, admin = make_app(api, receiver)
    ev = EventClient(s, app_id, admin)
    for b in range(4):
        r = ev.batch([ev.event(f"user{b}-{i}", "done") for i in range(10)], wait="true")
        assert r.status_code in (200, 202, 207), r.text
    got = receiver.wait_count(40)
    assert len({r["headers"]["x-webhook-id"] for r in got}) == 40
    assert all(r["verified"] for r in got)
