"""A commit that fails leaves nothing behind, on disk or in memory.

The server's file size limit (RLIMIT_FSIZE, changed on the running process with prlimit) makes
the store's writes fail the way a full disk does. Every request of the failed batches must be
answered 503 store_unavailable, and once the limit is lifted the very same requests — same
idempotency keys, same nonces — must go through as if they were new: no event, user or nonce
of a failed batch survived in the store or in the engine's memory."""

import os
import resource

import pytest

from events_helpers import EventClient, new_key, new_nonce
from tenants import Api, OPERATOR_TOKEN, server_flags, unique

SECRET = "store-failure-secret-0123"


def limit_file_size(pid, nbytes):
    # Only the soft limit: the hard one stays unlimited so that it can be raised again.
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (nbytes, resource.RLIM_INFINITY))


def lift_file_size(pid):
    resource.prlimit(pid, resource.RLIMIT_FSIZE,
                     (resource.RLIM_INFINITY, resource.RLIM_INFINITY))



def test_failed_commits_keep_nothing_and_the_same_requests_succeed_later(reactor):
    # The WAL is not given its size up front here: its writes must be the ones that fail.
    s = reactor(flags=server_flags(["--wal-reserve-mb", "0"]))
    api = Api(s)
    app, admin = api.create_app(unique("full"), webhookSecret=SECRET)
    client = EventClient(s, app["id"], admin, SECRET)
    assert client.accepted(client.event("warm-up"))["status"] == "accepted"

    wal = os.path.join(s.data_dir, "reactor.db-wal")
    db = os.path.join(s.data_dir, "reactor.db")
    # Writes beyond what the files hold now fail (EFBIG), like a disk with no room left.
    limit_file_size(s.proc.pid, max(os.path.getsize(wal), os.path.getsize(db)))
    failed = []  # (body, nonce) of requests answered 503
    try:
        for i in range(400):
            body = client.event(f"full-user-{i}", "lesson", idempotencyKey=new_key("full"),
                                metadata={"pad": "x" * 2000, "i": i})
            nonce = new_nonce()
            r = client.post(body, nonce=nonce)
            if r.status_code == 503:
                assert r.json()["code"] == "store_unavailable", r.text
                assert r.headers.get("Retry-After") == "1"
                failed.append((body, nonce))
                if len(failed) >= 5:
                    break
            else:
                assert r.status_code == 202, r.text
        assert len(failed) >= 5, "the store never failed under the file size limit"
    finally:
        lift_file_size(s.proc.pid)

    for body, _ in failed:
        # Nothing of a failed batch is in the store...
        assert client.get(body["idempotencyKey"]).status_code == 404
        assert api.get(f"/users/{body['userId']}", admin).status_code == 404
    # ...nor in memory: the same nonce is not a replay, the same key is not a duplicate, the
    # user is created now.
    for body, nonce in failed:
        r = None
        for _ in range(50):  # the store answers again once a probe or a commit succeeds
            r = client.post(body, wait="true", nonce=nonce)
            if r.status_code != 503:
                break
        assert r.status_code == 202, r.text
        assert r.headers.get("Idempotent-Replayed") is None
        assert r.json()["event"]["status"] == "PROCESSED"
        assert api.get(f"/users/{body['userId']}", admin).status_code == 200
    # And the server is healthy, with every earlier acknowledged event intact.
    assert s.health_ok()
