"""Event ingestion: POST /events and /events/batch (ADMIN or INGEST key plus ForgeEngine's
HMAC signature over "<timestamp>.<nonce>.<raw body>"), ?wait=true, GET /events/:key, replay
and idempotency (also across a restart), users created by events, back-pressure (503), the
event metrics and rate limits.

Most tests share one server (the `api` fixture) and make their own apps; tests that need
special flags, a restart or exact metric values start their own."""

import concurrent.futures
import datetime
import json
import time

import pytest
import requests

from events_helpers import (EVENT_FIELDS, SECRET, UUID_LIKE_RE, EventClient, delta, encode,
                            ingest_app, metrics, new_key, new_nonce, rejected, sign,
                            signature_headers)
from conftest import build_request
from tenants import ISO_RE, Api, api, error_of, start, unique  # noqa: F401

MISSING = {"error": "Missing event signature headers", "code": "missing_signature"}
BAD_TS = {"error": "Invalid signature timestamp", "code": "invalid_timestamp"}
EXPIRED = {"error": "Expired signature timestamp", "code": "expired_timestamp"}
BAD_SIG = {"error": "Invalid signature", "code": "invalid_signature"}
REPLAY = {"error": "Replay detected", "code": "replay_detected"}
MISMATCH = {"error": "Payload appId mismatch", "code": "app_mismatch"}
TOLERANCE = 300  # the default SIGNATURE_TOLERANCE_SECONDS


def now_s():
    return int(time.time())


def iso_in(seconds):
    """An ISO 8601 UTC time `seconds` from now, with milliseconds and Z."""
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def validation_details(r):
    """The details of a 400 validation_failed answer."""
    status, j = error_of(r)
    assert status == 400 and j["code"] == "validation_failed", r.text
    assert j["error"] == "Validation failed"
    assert isinstance(j.get("details"), dict), r.text
    return j["details"]


def event_status(c, key):
    """GET /events/:key -> (status code, JSON body)."""
    r = c.get(key)
    return r.status_code, r.json()


def check_event(ev, key=None, user_id=None, event_type=None, status="PROCESSED"):
    """The shape of a public event object."""
    assert set(ev) - {"error"} == EVENT_FIELDS, ev
    if key is not None:
        assert ev["idempotencyKey"] == key
    if user_id is not None:
        assert ev["userId"] == user_id
    if event_type is not None:
        assert ev["eventType"] == event_type
    assert ev["status"] == status, ev
    assert ("error" in ev) == (status == "FAILED"), ev
    assert isinstance(ev["metadata"], dict)
    # No rules in these apps: at most the default daily streak moves (test_game.py covers
    # effects).
    assert isinstance(ev["effects"], list), ev
    assert all(e["type"] == "streak.updated" for e in ev["effects"]), ev
    for f in ("occurredAt", "receivedAt", "processedAt"):
        assert isinstance(ev[f], str) and ISO_RE.match(ev[f]), (f, ev)
    assert ev["processedAt"] >= ev["receivedAt"]


# ---- signatures ------------------------------------------------------------------------------


def test_signed_event_is_accepted_with_a_server_assigned_key(api):
    """The basic path: a correctly signed event from an ADMIN or an INGEST key is answered 202
    with exactly {status, idempotencyKey}; without a client key the server assigns a
    UUIDv7-style one, and GET /events/:key finds the event."""
    c, admin = ingest_app(api)
    ingest, _ = api.create_key(admin, "INGEST")
    for key in (admin, ingest):
        r = c.with_key(key).post(c.event("u-basic", "level_up"))
        assert r.status_code == 202, r.text
        j = r.json()
        assert set(j) == {"status", "idempotencyKey"}
        assert j["status"] == "accepted"
        assert len(j["idempotencyKey"]) == 36 and UUID_LIKE_RE.match(j["idempotencyKey"]), j
        assert r.headers.get("Idempotent-Replayed") is None
        code, ev = event_status(c, j["idempotencyKey"])
        assert code == 200, ev
        check_event(ev, j["idempotencyKey"], "u-basic", "level_up")


def test_identical_bodies_without_a_key_are_two_events(api):
    """The same raw body sent twice with two nonces is two events with two different
    server-assigned keys (only a client key makes a repeat idempotent)."""
    c, _ = ingest_app(api)
    body = encode(c.event("twin", "click"))
    keys = [c.accepted(body)["idempotencyKey"] for _ in range(2)]
    assert keys[0] != keys[1]
    for k in keys:
        code, ev = event_status(c, k)
        assert code == 200 and ev["idempotencyKey"] == k


def test_upper_case_hex_signature_is_accepted(api):
    c, _ = ingest_app(api)
    body = encode(c.event())
    h = signature_headers(SECRET, body)
    h["x-signature"] = h["x-signature"].upper()
    r = c.post(body, sig_headers=h)
    assert r.status_code == 202, r.text


def test_signature_covers_the_raw_bytes(api):
    """The signature is over the body exactly as sent: pretty-printed JSON with raw UTF-8,
    escapes and reordered fields verifies as sent, and the event reads back decoded."""
    c, _ = ingest_app(api)
    key = new_key()
    body = ('{\n  "metadata" : {"note": "caf\u00e9 \\u00e9 \\"q\\"", "n": [1, 2.5e0]},\n'
            f'  "eventType":"spa\\u0063e",  "userId" : "\u00fcser",\n'
            f'  "idempotencyKey": "{key}", "appId": "{c.app_id}"\n}}\n').encode("utf-8")
    r = c.post(body, wait="true")
    assert r.status_code == 202, r.text
    ev = r.json()["event"]
    assert (ev["userId"], ev["eventType"]) == ("\u00fcser", "space")
    assert ev["metadata"] == {"note": "caf\u00e9 \u00e9 \"q\"", "n": [1, 2.5]}
    # Re-encoding the same JSON differently breaks the signature.
    h = signature_headers(SECRET, body)
    compact = encode(json.loads(body))
    assert error_of(c.post(compact, sig_headers=h)) == (401, BAD_SIG)


def test_signature_header_names_are_case_insensitive(api):
    c, _ = ingest_app(api)
    body = encode(c.event())
    h = {k.upper() if i % 2 else k.title(): v
         for i, (k, v) in enumerate(signature_headers(SECRET, body).items())}
    r = c.post(body, sig_headers=h)
    assert r.status_code == 202, (h, r.text)


def test_signature_is_checked_before_the_body(api):
    """A badly signed request is refused for its signature whatever its body: invalid JSON,
    a wrong Content-Type, invalid fields or a foreign appId all answer 401 first."""
    c, _ = ingest_app(api)
    cases = [dict(body=b"{not json"), dict(body=c.event(), content_type="text/plain"),
             dict(body=c.event("")), dict(body=c.event(appId="elsewhere"))]
    for kw in cases:
        r = c.post_raw("/events", kw.pop("body"), secret="wrong-secret-1234", **kw)
        assert error_of(r) == (401, BAD_SIG), r.text
        r = c.post_raw("/events", b"[]", sig_headers={}, **kw)
        assert error_of(r) == (401, MISSING), r.text


@pytest.mark.parametrize("header", ["x-signature-timestamp", "x-signature-nonce", "x-signature"])
@pytest.mark.parametrize("how", ["absent", "empty"])
def test_missing_signature_header(api, header, how):
    """Each of the three headers, absent or empty, is 'Missing event signature headers'."""
    c, _ = ingest_app(api)
    key = new_key()
    body = encode(c.event(idempotencyKey=key))
    h = signature_headers(SECRET, body)
    if how == "absent":
        del h[header]
    else:
        h[header] = ""
    assert error_of(c.post(body, sig_headers=h)) == (401, MISSING)
    assert c.get(key).status_code == 404


@pytest.mark.parametrize("ts", ["abc", "-1700000000", "1700000000.5", "0x6553f100", "17e8",
                                "+NOW", "NOW.0", "NOWs"])
def test_non_digit_timestamp_is_invalid(api, ts):
    """A timestamp that is not all digits is invalid, even when it would parse as a number
    close to now and the signature covers it."""
    c, _ = ingest_app(api)
    assert error_of(c.post(timestamp=ts.replace("NOW", str(now_s())))) == (401, BAD_TS)


def test_huge_digit_timestamp_is_refused(api):
    """All digits but far beyond any clock (and any 64-bit integer): refused as a timestamp,
    never wrapped around into the window."""
    c, _ = ingest_app(api)
    for ts in ("9" * 13, "9" * 20, str(now_s() + 2 ** 64), "1" + "0" * 30):
        status, j = error_of(c.post(timestamp=ts))
        assert status == 401 and j["code"] in ("invalid_timestamp", "expired_timestamp"), (ts, j)


def test_timestamp_outside_tolerance_is_expired_either_way(api):
    """More than 300 s away from the server clock, in the past or the future, is expired;
    inside the window (with a margin for slow clocks) is fine."""
    c, _ = ingest_app(api)
    for off in (-TOLERANCE - 15, TOLERANCE + 15, -10 ** 6, 10 ** 6):
        key = new_key()
        r = c.post(c.event(idempotencyKey=key), timestamp=now_s() + off)
        assert error_of(r) == (401, EXPIRED), off
        assert c.get(key).status_code == 404
    assert error_of(c.post(timestamp="0")) == (401, EXPIRED)
    for off in (-TOLERANCE + 15, TOLERANCE - 15):
        r = c.post(timestamp=now_s() + off)
        assert r.status_code == 202, (off, r.text)


def test_invalid_signatures(api):
    """Anything that changes the signed message, the key or the signature's form is 'Invalid
    signature', and nothing is stored."""
    c, _ = ingest_app(api)
    key = new_key()
    body = encode(c.event(idempotencyKey=key))
    good = signature_headers(SECRET, body)
    ts, nonce = good["x-signature-timestamp"], good["x-signature-nonce"]
    variants = {
        "wrong secret": dict(good, **{"x-signature": sign("another-secret-42", ts, nonce, body)}),
        "other nonce": dict(good, **{"x-signature-nonce": new_nonce()}),
        "other timestamp": dict(good, **{"x-signature-timestamp": str(int(ts) - 1)}),
        "truncated": dict(good, **{"x-signature": good["x-signature"][:-2]}),
        "too long": dict(good, **{"x-signature": good["x-signature"] + "00"}),
        "not hex": dict(good, **{"x-signature": "zz" + good["x-signature"][2:]}),
        "flipped": dict(good, **{"x-signature": ("1" if good["x-signature"][0] != "1" else "2")
                                 + good["x-signature"][1:]}),
        "no separators": dict(good, **{"x-signature": sign(SECRET, "", "", ts.encode()
                                                           + nonce.encode() + body)}),
    }
    for name, h in variants.items():
        assert error_of(c.post(body, sig_headers=h)) == (401, BAD_SIG), name
    # The body changed after signing (one byte of whitespace).
    assert error_of(c.post(body + b" ", sig_headers=good)) == (401, BAD_SIG)
    assert c.get(key).status_code == 404
    # After all that, the untouched request still goes through: no refusal burned the nonce.
    assert c.post(body, sig_headers=good).status_code == 202


def test_app_without_webhook_secret_refuses_every_signature(api):
    app, admin = api.create_app(unique("nosecret"))
    c = EventClient(api.server, app["id"], admin, secret=SECRET)
    assert error_of(c.post()) == (401, BAD_SIG)
    # An empty-key HMAC is not a way in either.
    c.secret = ""
    assert error_of(c.post()) == (401, BAD_SIG)


def test_bad_signature_does_not_burn_the_nonce(api):
    """A request refused for its signature leaves its nonce unused: the same nonce, correctly
    signed, is then accepted (once)."""
    c, _ = ingest_app(api)
    nonce = new_nonce()
    body = c.event(idempotencyKey=new_key())
    assert error_of(c.post(body, nonce=nonce, secret="not-the-secret")) == (401, BAD_SIG)
    assert error_of(c.post(body, nonce=nonce, timestamp=now_s() - 10 ** 5)) == (401, EXPIRED)
    assert c.post(body, nonce=nonce).status_code == 202
    assert error_of(c.post(body, nonce=nonce)) == (401, REPLAY)


def test_replay_is_detected_and_nonces_are_per_app(api):
    """A nonce used once is refused again for that app, whatever the timestamp and body; the
    replayed request has no effect. Another app may use the same nonce."""
    c, _ = ingest_app(api)
    other, _ = ingest_app(api)
    nonce = new_nonce()
    body = encode(c.event(idempotencyKey=new_key()))
    h = signature_headers(SECRET, body, nonce=nonce)
    assert c.post(body, sig_headers=h).status_code == 202
    # The exact same request again.
    assert error_of(c.post(body, sig_headers=h)) == (401, REPLAY)
    # A new body and timestamp, same nonce: still a replay, and the event is not stored.
    key = new_key()
    r = c.post(c.event(idempotencyKey=key), nonce=nonce, timestamp=now_s() - 5)
    assert error_of(r) == (401, REPLAY)
    assert c.get(key).status_code == 404
    # Batches share the nonce space.
    assert error_of(c.batch([c.event()], nonce=nonce)) == (401, REPLAY)
    # The same nonce for another app is its own.
    assert other.post(nonce=nonce).status_code == 202
    assert error_of(other.post(nonce=nonce)) == (401, REPLAY)


def test_concurrent_requests_with_one_nonce_accept_exactly_one(api):
    """The same signed request sent by 16 clients at once: exactly one 202, the others
    replays, and one event."""
    c, _ = ingest_app(api)
    key = new_key()
    body = encode(c.event(idempotencyKey=key))
    h = signature_headers(SECRET, body)
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: c.post(body, sig_headers=h), range(16)))
    codes = sorted(r.status_code for r in results)
    assert codes == [202] + [401] * 15, codes
    for r in results:
        if r.status_code == 401:
            assert error_of(r) == (401, REPLAY)
    assert c.get(key).status_code == 200


def test_key_auth_comes_before_the_signature(api):
    """Without a usable key the answer is about the key, even when the signature is missing
    too; a READONLY key may not post events."""
    c, admin = ingest_app(api)
    ro, _ = api.create_key(admin, "READONLY")
    for sig in (None, {}):
        r = c.with_key(None).post(sig_headers=sig)
        assert error_of(r) == (401, {"error": "Missing API key", "code": "unauthorized"})
        r = c.with_key("fge_" + "0" * 48).post(sig_headers=sig)
        assert error_of(r) == (401, {"error": "Invalid API key", "code": "unauthorized"})
        r = c.with_key(ro).post(sig_headers=sig)
        assert error_of(r) == (403, {"error": "This key's role (READONLY) may not do this",
                                     "code": "forbidden"})
        r = c.with_key(ro).batch([c.event()], sig_headers=sig)
        assert r.status_code == 403


def test_a_nonce_refused_for_its_key_is_not_burned(api):
    """A request refused at key auth never reached the nonce check: the same signed request
    with a valid key is accepted."""
    c, admin = ingest_app(api)
    ro, _ = api.create_key(admin, "READONLY")
    body = encode(c.event())
    h = signature_headers(SECRET, body)
    assert c.with_key(ro).post(body, sig_headers=h).status_code == 403
    assert c.post(body, sig_headers=h).status_code == 202


def test_webhook_secret_rotation_applies_at_once(api):
    """PATCHing the app's webhookSecret switches the key that signatures are checked with;
    null removes it (then nothing verifies)."""
    c, admin = ingest_app(api)
    path = f"/apps/{c.app_id}"
    assert c.post().status_code == 202
    r = api.patch(path, admin, {"webhookSecret": "rotated-secret-987654"})
    assert r.status_code == 200, r.text
    assert error_of(c.post()) == (401, BAD_SIG)
    c.secret = "rotated-secret-987654"
    assert c.post().status_code == 202
    assert api.patch(path, admin, {"webhookSecret": None}).status_code == 200
    assert error_of(c.post()) == (401, BAD_SIG)


def test_signature_tolerance_flag_and_nonce_window(reactor):
    """--signature-tolerance sets the window. A nonce is remembered for its window: while the
    first use's timestamp is within the tolerance the nonce is a replay; after that it may be
    used again with a fresh timestamp."""
    tol = 2
    s = start(reactor, ["--signature-tolerance", str(tol)])
    c, _ = ingest_app(Api(s))
    assert error_of(c.post(timestamp=now_s() - 5)) == (401, EXPIRED)
    assert error_of(c.post(timestamp=now_s() + 5)) == (401, EXPIRED)
    nonce = new_nonce()
    first = now_s()
    assert c.post(nonce=nonce, timestamp=first).status_code == 202
    assert error_of(c.post(nonce=nonce)) == (401, REPLAY)
    # Poll (a refused try burns nothing) until the window of the first use has passed.
    deadline = time.monotonic() + 6
    while True:
        r = c.post(nonce=nonce)
        if r.status_code == 202:
            break
        assert error_of(r) == (401, REPLAY)
        assert time.monotonic() < deadline, "the nonce never became usable again"
        time.sleep(0.05)
    # Not before the first timestamp's window was over.
    assert time.time() >= first + tol


# ---- body validation ------------------------------------------------------------------------


def test_body_not_json_and_wrong_content_type(api):
    c, _ = ingest_app(api)
    for path in ("/events", "/events/batch"):
        status, j = error_of(c.post_raw(path, b'{"appId": '))
        assert (status, j["code"]) == (400, "invalid_json"), j
        status, j = error_of(c.post_raw(path, b""))
        assert (status, j["code"]) == (400, "invalid_json"), j
        for ct in ("text/plain", None, "application/x-www-form-urlencoded"):
            status, j = error_of(c.post_raw(path, c.event(), content_type=ct))
            assert (status, j["code"]) == (400, "bad_content_type"), (ct, j)
    # With parameters it is still JSON.
    r = c.post(content_type="application/json; charset=utf-8")
    assert r.status_code == 202, r.text


def test_bodies_the_strict_parser_refuses_store_nothing(api):
    """Events are read from the body without a JSON tree, under the strict parser's rules: a
    duplicate key (also spelt with an escape), a lone surrogate, \\u0000, an integer past
    int64, bytes after the value (a NUL too) are refused whole, and nothing is stored."""
    c, _ = ingest_app(api)
    for path in ("/events", "/events/batch"):
        key = new_key()
        good = encode(c.event("strict-user", idempotencyKey=key))
        inner = good[1:-1]
        objects = [
            b'{' + inner + b',"userId":"again"}',
            b'{' + inner + b',"user\\u0049d":"again"}',
            b'{' + inner + b',"metadata":{"s":"\\ud800"}}',
            b'{' + inner + b',"metadata":{"s":"a\\u0000b"}}',
            b'{' + inner + b',"metadata":{"n":9223372036854775808}}',
            b'{' + inner + b',"metadata":{"a":1,"a":2}}',
        ]
        bodies = [(o, b"") for o in objects] + [(good, b"\x00"), (good, b" x")]
        for obj, after in bodies:
            body = obj if path == "/events" else b'{"events":[' + obj + b']}'
            status, j = error_of(c.post_raw(path, body + after))
            assert (status, j["code"]) == (400, "invalid_json"), (body + after, j)
        assert c.get(key).status_code == 404
    # Whitespace goes, the client's numbers and escapes stay, and the values read back.
    key = new_key()
    body = ('{"appId":"%s","userId":"ws-user","eventType":"t","idempotencyKey":"%s",'
            '"metadata" : { "price" : 4.99 , "big" : 12345678901234 , "s" : "\\u00e9\\/" }}'
            % (c.app_id, key)).encode()
    r = c.post(body, wait="true")
    assert r.status_code == 202, r.text
    assert c.get(key).json()["metadata"] == {"price": 4.99, "big": 12345678901234,
                                             "s": "\u00e9/"}


LONG = "x" * 129


@pytest.mark.parametrize("fields,field", [
    ({"appId": None}, "appId"),
    ({"appId": 7}, "appId"),
    ({"userId": None}, "userId"),
    ({"userId": ""}, "userId"),
    ({"userId": LONG}, "userId"),
    ({"userId": 12}, "userId"),
    ({"userId": "line\nbreak"}, "userId"),
    ({"userId": "unit\u001fsep"}, "userId"),
    ({"userId": "del\u007f"}, "userId"),
    ({"eventType": None}, "eventType"),
    ({"eventType": ""}, "eventType"),
    ({"eventType": LONG}, "eventType"),
    ({"eventType": ["login"]}, "eventType"),
    ({"eventType": "tab\there"}, "eventType"),
    ({"idempotencyKey": "short7c"}, "idempotencyKey"),
    ({"idempotencyKey": LONG}, "idempotencyKey"),
    ({"idempotencyKey": 12345678}, "idempotencyKey"),
    ({"metadata": [1, 2]}, "metadata"),
    ({"metadata": "text"}, "metadata"),
    ({"metadata": 3}, "metadata"),
    ({"occurredAt": "2026-01-02"}, "occurredAt"),
    ({"occurredAt": "2026-01-02T03:04:05"}, "occurredAt"),
    ({"occurredAt": "2026-01-02 03:04:05Z"}, "occurredAt"),
    ({"occurredAt": "yesterday"}, "occurredAt"),
    ({"occurredAt": "2026-13-02T03:04:05Z"}, "occurredAt"),
    ({"occurredAt": "2026-02-30T00:00:00Z"}, "occurredAt"),
    ({"occurredAt": "2026-01-02T25:00:00Z"}, "occurredAt"),
    ({"occurredAt": 1767322000}, "occurredAt"),
    ({"occurredAt": "FUTURE"}, "occurredAt"),
])
def test_invalid_event_fields(api, fields, field):
    """Each invalid field is named in details; the event is not stored."""
    c, _ = ingest_app(api)
    key = new_key()
    body = c.event(idempotencyKey=key)
    for k, v in fields.items():
        if v is None:
            del body[k]
        elif v == "FUTURE":
            body[k] = iso_in(10 * 60)
        else:
            body[k] = v
    details = validation_details(c.post(body))
    assert field in details, details
    assert isinstance(details[field], str) and details[field]
    if field != "idempotencyKey":
        assert c.get(key).status_code == 404


def test_body_that_is_not_an_object_fails_validation(api):
    c, _ = ingest_app(api)
    for body in ([c.event()], "login", 5, None):
        r = c.post(encode(json.dumps(body)))
        status, j = error_of(r)
        assert (status, j["code"]) == (400, "validation_failed"), (body, j)


def test_several_invalid_fields_are_all_reported(api):
    c, _ = ingest_app(api)
    details = validation_details(c.post({"appId": c.app_id, "userId": "",
                                         "metadata": [], "occurredAt": "soon"}))
    assert {"userId", "eventType", "metadata", "occurredAt"} <= set(details), details


def test_field_limits_are_inclusive(api):
    """128 characters (not bytes) for userId and eventType, 8 and 128 for the key, and an
    occurredAt a little less than 5 minutes ahead are all fine."""
    c, _ = ingest_app(api)
    cases = [
        c.event("u" * 128, "t" * 128, idempotencyKey=new_key()[:8]),
        c.event("\u00e9" * 128, "\u7528" * 128, idempotencyKey="k" * 120 + new_nonce()[:8]),
        c.event("future-user", occurredAt=iso_in(4 * 60)),
        c.event("old-user", occurredAt="1999-12-31T23:59:59.999Z"),
    ]
    for body in cases:
        j = c.accepted(body, wait="true")
        assert j["event"]["userId"] == body["userId"]
        assert j["event"]["eventType"] == body["eventType"]
        if "idempotencyKey" in body:
            assert j["idempotencyKey"] == body["idempotencyKey"]


def test_app_id_mismatch_is_409(api):
    c, _ = ingest_app(api)
    other, _ = ingest_app(api)
    key = new_key()
    r = c.post(c.event(appId=other.app_id, idempotencyKey=key))
    assert error_of(r) == (409, MISMATCH)
    assert c.get(key).status_code == 404
    assert other.get(key).status_code == 404


@pytest.mark.parametrize("value,waits", [("true", True), ("1", True), ("false", False),
                                         ("0", False), (None, False)])
def test_wait_values(api, value, waits):
    c, _ = ingest_app(api)
    j = c.accepted(wait=value)
    assert ("event" in j) == waits, j
    assert set(j) == ({"status", "idempotencyKey", "event"} if waits
                      else {"status", "idempotencyKey"})


@pytest.mark.parametrize("value", ["yes", "TRUE", "2", "", "true,false"])
def test_wait_other_values_are_400(api, value):
    c, _ = ingest_app(api)
    key = new_key()
    for path in ("/events", "/events/batch"):
        body = c.event(idempotencyKey=key) if path == "/events" else {"events": [c.event()]}
        details = validation_details(c.post_raw(f"{path}?wait={value}", body))
        assert "wait" in details, details
    assert c.get(key).status_code == 404


# ---- the stored event ----------------------------------------------------------------------


def test_wait_true_answers_with_the_processed_event(api):
    """?wait=true adds the applied event; GET /events/:key returns the same object."""
    c, admin = ingest_app(api)
    ro, _ = api.create_key(admin, "READONLY")
    meta = {"level": 3, "tags": ["a", "b"], "nested": {"ok": True, "none": None}, "s": "\u00fc"}
    j = c.accepted(c.event("w-user", "quest_done", metadata=meta), wait="true")
    ev = j["event"]
    check_event(ev, j["idempotencyKey"], "w-user", "quest_done")
    assert ev["metadata"] == meta
    assert ev["occurredAt"] == ev["receivedAt"]  # no occurredAt given
    for key in (admin, ro):
        r = c.get(j["idempotencyKey"], key=key)
        assert r.status_code == 200
        assert r.json() == ev
    # No metadata: {} (also for an explicit empty object or null).
    for extra in ({}, {"metadata": {}}, {"metadata": None}):
        ev = c.accepted(c.event(**extra), wait="true")["event"]
        assert ev["metadata"] == {}, extra


@pytest.mark.parametrize("given,stored", [
    ("2026-01-02T03:04:05.678+02:00", "2026-01-02T01:04:05.678Z"),
    ("2026-01-02T03:04:05.678Z", "2026-01-02T03:04:05.678Z"),
    ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000Z"),
    ("2026-01-01T23:30:00.000-05:30", "2026-01-02T05:00:00.000Z"),
    ("2026-03-01T00:30:00.250+01:00", "2026-02-28T23:30:00.250Z"),
])
def test_occurred_at_is_stored_in_utc(api, given, stored):
    c, _ = ingest_app(api)
    j = c.accepted(c.event(occurredAt=given), wait="true")
    assert j["event"]["occurredAt"] == stored
    assert c.get(j["idempotencyKey"]).json()["occurredAt"] == stored


def test_client_key_repeat_is_replayed_not_applied(api):
    """A client key seen before: 202 with the same body and Idempotent-Replayed: true; the
    first event stands (a repeat with a different body changes nothing)."""
    c, _ = ingest_app(api)
    key = new_key()
    first_body = c.event("first-user", "purchase", idempotencyKey=key, metadata={"n": 1})
    r1 = c.post(first_body)
    assert r1.status_code == 202 and r1.headers.get("Idempotent-Replayed") is None
    before = metrics(api.server)
    r2 = c.post(first_body)
    assert r2.status_code == 202, r2.text
    assert r2.json() == r1.json() == {"status": "accepted", "idempotencyKey": key}
    assert r2.headers.get("Idempotent-Replayed") == "true"
    r3 = c.post(c.event("other-user", "refund", idempotencyKey=key), wait="true")
    assert r3.status_code == 202 and r3.headers.get("Idempotent-Replayed") == "true"
    ev = r3.json()["event"]
    check_event(ev, key, "first-user", "purchase")
    assert ev["metadata"] == {"n": 1}
    assert c.get(key).json() == ev
    after = metrics(api.server)
    assert delta(before, after, "reactor_events_duplicate_total") >= 2
    # The second user was never created by the ignored repeat.
    assert api.get("/users/other-user", c.key).status_code == 404


def test_concurrent_repeats_of_one_key_apply_once(api):
    """16 requests with one client key at once: all 202, exactly one not marked replayed, one
    event."""
    c, _ = ingest_app(api)
    key = new_key()

    def post(i):
        return c.post(c.event(f"racer-{i}", idempotencyKey=key))

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(post, range(16)))
    assert all(r.status_code == 202 for r in results), [r.text for r in results]
    fresh = [r for r in results if r.headers.get("Idempotent-Replayed") != "true"]
    assert len(fresh) == 1
    winner = c.get(key).json()["userId"]
    created = [i for i in range(16) if api.get(f"/users/racer-{i}", c.key).status_code == 200]
    assert [f"racer-{i}" for i in created] == [winner]


def test_get_event_not_found_and_tenant_isolation(api):
    """Unknown keys and keys of another app are 404 not_found."""
    c, _ = ingest_app(api)
    other, other_admin = ingest_app(api)
    key = new_key()
    c.accepted(c.event(idempotencyKey=key))
    generated = c.accepted()["idempotencyKey"]
    for k in (key, generated):
        assert c.get(k).status_code == 200
        status, j = error_of(other.get(k))
        assert (status, j["code"]) == (404, "not_found"), j
    for k in ("no-such-key-123", new_key(), "x" * 129):
        status, j = error_of(c.get(k))
        assert (status, j["code"]) == (404, "not_found"), (k, j)
    # The other app can use the same client key for its own event.
    j = other.accepted(other.event("theirs", idempotencyKey=key), wait="true")
    assert j["event"]["userId"] == "theirs"
    assert c.get(key).json()["userId"] == "user-1"
    # GET needs a key like every tenant route.
    r = requests.get(api.server.url(f"/events/{key}"), timeout=5)
    assert r.status_code == 401


def test_unusual_client_keys_round_trip(api):
    """Client keys are any 8..128 characters: they come back as given and GET finds them
    when percent-encoded in the path."""
    import urllib.parse

    c, _ = ingest_app(api)
    for k in ("key with space", "key/with/slash", "k?ey#frag&x=1%25", "\u00fcber-schl\u00fcssel",
              "plus+key+1", "'; DROP TABLE events; --", "\U0001f600" * 8, "K" * 128,
              "\U0001f600" * 128):
        j = c.accepted(c.event(idempotencyKey=k))
        assert j["idempotencyKey"] == k
        r = c.get(urllib.parse.quote(k, safe=""))
        assert r.status_code == 200, (k, r.text)
        assert r.json()["idempotencyKey"] == k
        r = c.post(c.event(idempotencyKey=k))
        assert r.headers.get("Idempotent-Replayed") == "true", k


def test_keep_alive_and_pipelined_event_posts_answer_in_order(api):
    """Event answers wait for the engine; other answers do not. On one connection, pipelined
    requests must still be answered in request order."""
    c, _ = ingest_app(api)
    keys = [new_key(f"pipe{i}") for i in range(8)]
    wire = b""
    for i, k in enumerate(keys):
        body = encode(c.event(f"p-{i}", idempotencyKey=k))
        h = {"x-api-key": c.key, "Content-Type": "application/json"}
        h.update(signature_headers(SECRET, body))
        wire += build_request("POST", "/events", h, body)
        wire += build_request("GET", "/health")
    wire += build_request("GET", f"/events/{keys[0]}", {"x-api-key": c.key})
    with api.server.raw(timeout=10) as conn:
        conn.send(wire)
        for i, k in enumerate(keys):
            r = conn.read_response()
            assert r.status == 202, (i, r)
            assert r.json()["idempotencyKey"] == k
            r = conn.read_response()
            assert r.status == 200 and r.json() == {"status": "ok"}, (i, r)
        r = conn.read_response()
        assert r.status == 200 and r.json()["idempotencyKey"] == keys[0]
    # And plain keep-alive with a session.
    with requests.Session() as sess:
        cs = EventClient(api.server, c.app_id, c.key, SECRET, session=sess)
        for _ in range(10):
            cs.accepted()


def test_client_gone_before_the_answer(api):
    """A client that sends a whole event and hangs up before the (deferred) answer: the server
    stays up, and the event is then there exactly once (a repeat of its key is replayed)."""
    c, _ = ingest_app(api)
    keys = [new_key("gone") for _ in range(10)]
    for k in keys:
        body = encode(c.event("gone-user", idempotencyKey=k))
        h = {"x-api-key": c.key, "Content-Type": "application/json"}
        h.update(signature_headers(SECRET, body))
        with api.server.raw() as conn:
            conn.send(build_request("POST", "/events?wait=true", h, body))
    assert api.server.health_ok()
    for k in keys:
        # The request was complete, so it is applied; poll in case the engine is still at it.
        deadline = time.monotonic() + 5
        while c.get(k).status_code != 200:
            assert time.monotonic() < deadline, f"event {k} of a departed client not stored"
            time.sleep(0.02)
        r = c.post(c.event("gone-user", idempotencyKey=k))
        assert r.status_code == 202 and r.headers.get("Idempotent-Replayed") == "true"


def test_auto_create_setting_change_applies_to_the_next_event(api):
    c, admin = ingest_app(api)
    path = f"/apps/{c.app_id}"
    assert api.patch(path, admin, {"settings": {"autoCreateUsers": False}}).status_code == 200
    assert c.accepted(c.event("late"), wait="true")["event"]["status"] == "FAILED"
    assert api.patch(path, admin, {"settings": {"autoCreateUsers": True}}).status_code == 200
    assert c.accepted(c.event("late"), wait="true")["event"]["status"] == "PROCESSED"
    assert api.get("/users/late", admin).status_code == 200


# ---- users ---------------------------------------------------------------------------------


def test_event_creates_an_unknown_user(api):
    c, admin = ingest_app(api)
    assert api.get("/users/newcomer", admin).status_code == 404
    ev = c.accepted(c.event("newcomer"), wait="true")["event"]
    assert ev["status"] == "PROCESSED"
    r = api.get("/users/newcomer", admin)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["userId"] == "newcomer"


def test_auto_create_off_fails_the_event_but_accepts_it(api):
    """settings.autoCreateUsers=false: an event of an unknown user is accepted (202) but
    FAILED with a 'user not found' error and creates nothing; a known user's event is
    PROCESSED; a FAILED event does not block the ones after it."""
    c, admin = ingest_app(api, settings={"autoCreateUsers": False})
    before = metrics(api.server)
    j = c.accepted(c.event("ghost", idempotencyKey=new_key()), wait="true")
    ev = j["event"]
    check_event(ev, j["idempotencyKey"], "ghost", status="FAILED")
    assert "user not found" in ev["error"].lower(), ev
    assert c.get(j["idempotencyKey"]).json() == ev
    assert api.get("/users/ghost", admin).status_code == 404
    # Without wait: still 202, and GET shows the failure.
    k = c.accepted(c.event("ghost2"))["idempotencyKey"]
    assert c.get(k).json()["status"] == "FAILED"
    assert api.get("/users/ghost2", admin).status_code == 404
    after = metrics(api.server)
    assert delta(before, after, 'reactor_events_processed_total{status="failed"}') >= 2
    # A known user is fine, right after the failures.
    api.create_user(admin, "member")
    ev = c.accepted(c.event("member"), wait="true")["event"]
    check_event(ev, user_id="member")
    # In one batch: the failure does not stop the next event.
    r = c.batch([c.event("ghost3"), c.event("member")], wait="true")
    assert r.status_code == 202, r.text
    res = r.json()["results"]
    assert [x["event"]["status"] for x in res] == ["FAILED", "PROCESSED"]
    assert api.get("/users/ghost3", admin).status_code == 404


def test_auto_create_on_by_default_and_when_true(api):
    for settings in ({}, {"autoCreateUsers": True}):
        c, admin = ingest_app(api, settings=settings)
        assert c.accepted(c.event("auto"), wait="true")["event"]["status"] == "PROCESSED"
        assert api.get("/users/auto", admin).status_code == 200


# ---- batches -------------------------------------------------------------------------------


def test_batch_all_accepted_is_202_in_order(api):
    c, _ = ingest_app(api)
    keys = [new_key() for _ in range(3)]
    events = [c.event(f"b-user-{i}", f"type-{i}", idempotencyKey=k) for i, k in enumerate(keys)]
    events.append(c.event("b-user-x", "no-key"))
    r = c.batch(events)
    assert r.status_code == 202, r.text
    j = r.json()
    assert j["accepted"] == 4 and j["rejected"] == 0
    assert [x["index"] for x in j["results"]] == [0, 1, 2, 3]
    for i, x in enumerate(j["results"]):
        assert set(x) == {"index", "status", "idempotencyKey"}, x
        assert x["status"] == "accepted"
        if i < 3:
            assert x["idempotencyKey"] == keys[i]
        else:
            assert UUID_LIKE_RE.match(x["idempotencyKey"])
        ev = c.get(x["idempotencyKey"]).json()
        check_event(ev, x["idempotencyKey"], events[i]["userId"], events[i]["eventType"])


def test_batch_with_wait_has_each_event(api):
    c, _ = ingest_app(api)
    events = [c.event(f"bw-{i}", metadata={"i": i}) for i in range(3)]
    r = c.batch(events, wait="true")
    assert r.status_code == 202, r.text
    for i, x in enumerate(r.json()["results"]):
        check_event(x["event"], x["idempotencyKey"], f"bw-{i}")
        assert x["event"]["metadata"] == {"i": i}
        assert c.get(x["idempotencyKey"]).json() == x["event"]


def test_batch_partly_refused_is_207(api):
    """Refused items are reported in place with their error, code, details and (when they had
    a string one) idempotencyKey; the others are applied."""
    c, _ = ingest_app(api)
    other, _ = ingest_app(api)
    ok_key, bad_key, mismatch_key = new_key(), new_key(), new_key()
    events = [
        c.event("ok-1", idempotencyKey=ok_key),
        c.event("", idempotencyKey=bad_key),
        c.event("ok-2"),
        c.event("mm", appId=other.app_id, idempotencyKey=mismatch_key),
        "not an object",
        c.event("x", idempotencyKey=5),
    ]
    r = c.batch(events, wait="true")
    assert r.status_code == 207, r.text
    j = r.json()
    assert (j["accepted"], j["rejected"]) == (2, 4)
    res = j["results"]
    assert [x["index"] for x in res] == list(range(6))
    assert [x["status"] for x in res] == ["accepted", "rejected", "accepted", "rejected",
                                          "rejected", "rejected"]
    assert res[0]["idempotencyKey"] == ok_key and res[0]["event"]["userId"] == "ok-1"
    assert res[2]["event"]["userId"] == "ok-2"
    assert res[1]["idempotencyKey"] == bad_key
    assert res[1]["error"] == "Validation failed" and res[1]["code"] == "validation_failed"
    assert "userId" in res[1]["details"]
    assert res[3]["idempotencyKey"] == mismatch_key
    assert (res[3]["error"], res[3]["code"]) == ("Payload appId mismatch", "app_mismatch")
    assert res[4]["code"] == "validation_failed" and "idempotencyKey" not in res[4]
    assert res[5]["code"] == "validation_failed" and "idempotencyKey" not in res[5]
    assert "idempotencyKey" in res[5]["details"]
    for x in res:
        if x["status"] == "rejected":
            assert "event" not in x
    assert c.get(ok_key).status_code == 200
    for k in (bad_key, mismatch_key):
        assert c.get(k).status_code == 404
        assert other.get(k).status_code == 404


def test_batch_all_refused_is_207_and_keeps_the_nonce(api):
    c, _ = ingest_app(api)
    nonce = new_nonce()
    r = c.batch([c.event(""), c.event(appId="elsewhere")], nonce=nonce)
    assert r.status_code == 207, r.text
    j = r.json()
    assert (j["accepted"], j["rejected"]) == (0, 2)
    assert [x["code"] for x in j["results"]] == ["validation_failed", "app_mismatch"]
    # Nothing reached the engine: the nonce is still unused.
    r = c.batch([c.event()], nonce=nonce)
    assert r.status_code == 202, r.text
    assert error_of(c.batch([c.event()], nonce=nonce)) == (401, REPLAY)


def test_batch_size_and_shape(api):
    """1..1000 events; anything else (or no events array) is 400 with details.events."""
    c, _ = ingest_app(api)
    for body in ({"events": []}, {"events": [c.event()] * 1001}, {"events": c.event()},
                 {"events": None}, {}, {"evts": [c.event()]}):
        details = validation_details(c.batch(body))
        assert "events" in details, (str(body)[:80], details)
    # A bare array is not the {"events": [...]} object.
    details = validation_details(c.batch(encode([c.event()])))
    assert "events" in details, details
    events = [c.event(f"big-{i % 7}", idempotencyKey=f"big-batch-{i:04d}-{c.app_id}")
              for i in range(1000)]
    r = c.batch(events, timeout=30)
    assert r.status_code == 202, r.text[:300]
    j = r.json()
    assert j["accepted"] == 1000 and len(j["results"]) == 1000
    for i in (0, 499, 999):
        assert c.get(events[i]["idempotencyKey"]).status_code == 200


def test_batch_duplicates_inside_and_across(api):
    """A key repeated inside one batch: the second is accepted with duplicate: true; a key
    seen in an earlier request is duplicate too; fresh keys carry no duplicate field."""
    c, _ = ingest_app(api)
    old, twin, fresh = new_key(), new_key(), new_key()
    c.accepted(c.event("old-user", idempotencyKey=old))
    r = c.batch([c.event("t1", idempotencyKey=twin), c.event("t2", idempotencyKey=twin),
                 c.event("o", idempotencyKey=old), c.event("f", idempotencyKey=fresh)],
                wait="true")
    assert r.status_code == 202, r.text
    res = r.json()["results"]
    assert r.json()["accepted"] == 4
    assert [x.get("duplicate") for x in res] == [None, True, True, None]
    assert res[1]["event"] == res[0]["event"] and res[1]["event"]["userId"] == "t1"
    assert res[2]["event"]["userId"] == "old-user"
    assert c.get(twin).json()["userId"] == "t1"
    assert api.get("/users/t2", c.key).status_code == 404
    # The whole batch again (new nonce): everything is a duplicate, nothing changes.
    r = c.batch([c.event("t3", idempotencyKey=twin), c.event("f2", idempotencyKey=fresh)])
    assert [x.get("duplicate") for x in r.json()["results"]] == [True, True]
    assert c.get(fresh).json()["userId"] == "f"


# ---- restart -------------------------------------------------------------------------------


def test_replays_and_idempotency_survive_a_restart(reactor, tmp_path):
    """After a restart on the same data directory, a request replayed byte for byte is still
    refused, and a client key seen before is still replayed (not applied again)."""
    data = tmp_path / "data"
    s1 = start(reactor, data_dir=data)
    c, admin = ingest_app(Api(s1))
    key = new_key()
    body = encode(c.event("persisted", "signup", idempotencyKey=key, metadata={"a": 1}))
    h = signature_headers(SECRET, body)
    r = c.post_raw("/events?wait=true", body, sig_headers=h)
    assert r.status_code == 202, r.text
    ev = r.json()["event"]
    batch_body = encode({"events": [c.event("b", idempotencyKey=new_key())]})
    bh = signature_headers(SECRET, batch_body)
    assert c.post_raw("/events/batch", batch_body, sig_headers=bh).status_code == 202
    s1.stop()

    s2 = start(reactor, data_dir=data)
    c2 = EventClient(s2, c.app_id, admin)
    assert error_of(c2.post_raw("/events", body, sig_headers=h)) == (401, REPLAY)
    assert error_of(c2.post_raw("/events/batch", batch_body, sig_headers=bh)) == (401, REPLAY)
    assert c2.get(key).json() == ev
    r = c2.post(body, wait="true")
    assert r.status_code == 202 and r.headers.get("Idempotent-Replayed") == "true"
    assert r.json()["event"] == ev
    assert error_of(c2.post(nonce=h["x-signature-nonce"])) == (401, REPLAY)


# ---- back-pressure -------------------------------------------------------------------------


def _retry_503(fn, tries=100):
    """fn() until it answers something other than 503 (the one-slot queue is shared with
    every store read and the readiness probe)."""
    for _ in range(tries):
        r = fn()
        if r.status_code != 503:
            return r
        time.sleep(0.01)
    return r


def test_full_engine_queue_answers_503_and_loses_nothing_acknowledged(reactor):
    """With an engine queue of one event, a burst overflows it: the overflow is answered 503
    overloaded with Retry-After (not queued), every 202 is stored, every 503 is not; and the
    refused request, retried as is, goes through (its nonce was not burned)."""
    s = start(reactor, ["--engine-queue", "1"])
    c, _ = ingest_app(Api(s))
    before = metrics(s)
    prepared = []
    for i in range(240):
        key = new_key(f"burst{i}")
        body = encode(c.event(f"burst-user-{i % 10}", idempotencyKey=key))
        prepared.append((key, body, signature_headers(SECRET, body)))

    def send(p):
        key, body, h = p
        return key, c.post(body, sig_headers=h)

    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(send, prepared))
    busy = [(k, r) for k, r in results if r.status_code == 503]
    done = [k for k, r in results if r.status_code == 202]
    assert len(busy) + len(done) == len(results), \
        sorted({r.status_code for _, r in results})
    assert busy, "no request overflowed an engine queue of 1"
    assert done
    for _, r in busy:
        assert r.headers.get("Retry-After") is not None
        assert r.headers["Retry-After"].isdigit()
        assert error_of(r)[1]["code"] == "overloaded"
    after = metrics(s)
    assert delta(before, after, rejected("overloaded")) >= len(busy)
    for k in done:
        r = _retry_503(lambda: c.get(k))
        assert r.status_code == 200, (k, r.text)
    for k, _ in busy:
        r = _retry_503(lambda: c.get(k))
        assert r.status_code == 404, (k, r.text)
    # Retrying a refused request verbatim (same nonce) is accepted.
    by_key = {p[0]: p for p in prepared}
    for k, _ in busy[:5]:
        _, body, h = by_key[k]
        r = _retry_503(lambda: c.post(body, sig_headers=h))
        assert r.status_code == 202, r.text
        assert _retry_503(lambda: c.get(k)).status_code == 200


def test_batch_larger_than_the_queue_is_accepted_when_idle(reactor):
    """A batch of more events than the queue holds is still accepted once nothing else
    waits; a batch that meets a busy queue is refused whole (nothing stored)."""
    s = start(reactor, ["--engine-queue", "1"])
    c, _ = ingest_app(Api(s))
    keys = [new_key("big") for _ in range(25)]
    events = [c.event(f"u{i}", idempotencyKey=k) for i, k in enumerate(keys)]
    # Only the readiness probe could be in the queue: a few tries are enough.
    for _ in range(50):
        r = c.batch(events)
        if r.status_code != 503:
            break
        assert error_of(r)[1]["code"] == "overloaded"
        assert all(_retry_503(lambda: c.get(k)).status_code == 404 for k in keys[:3])
        time.sleep(0.02)
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 25
    for k in keys:
        assert _retry_503(lambda: c.get(k)).status_code == 200


# ---- metrics -------------------------------------------------------------------------------


def test_event_metrics_move(reactor):
    """Every outcome moves its counter: accepted/processed, failed, duplicate, and each
    rejection reason; the histograms count the batches, commits and latencies."""
    s = start(reactor)
    a = Api(s)
    c, admin = ingest_app(a)
    strict, _ = ingest_app(a, settings={"autoCreateUsers": False})
    m0 = metrics(s)
    for name in ("reactor_engine_queue_depth", "reactor_engine_nonces",
                 "reactor_engine_batch_events_count", "reactor_engine_commit_seconds_count",
                 "reactor_event_latency_seconds_count", "reactor_events_received_total",
                 'reactor_events_processed_total{status="processed"}',
                 'reactor_events_processed_total{status="failed"}',
                 "reactor_events_duplicate_total"):
        assert name in m0, name
    reasons = ("missing_signature", "invalid_timestamp", "expired_timestamp",
               "invalid_signature", "replay", "invalid", "app_mismatch", "overloaded",
               "store_unavailable")
    for reason in reasons:
        assert rejected(reason) in m0, reason

    key = new_key()
    nonce = new_nonce()
    assert c.post(c.event(idempotencyKey=key), nonce=nonce).status_code == 202      # processed
    assert c.post(c.event(idempotencyKey=key)).status_code == 202                    # duplicate
    assert strict.post(strict.event("nobody")).status_code == 202                    # failed
    assert c.post(sig_headers={}).status_code == 401                                 # missing
    assert c.post(timestamp="abc").status_code == 401                                # invalid ts
    assert c.post(timestamp=now_s() - 10 ** 4).status_code == 401                    # expired
    assert c.post(secret="wrong-secret!").status_code == 401                         # bad sig
    assert c.post(nonce=nonce).status_code == 401                                    # replay
    assert c.post(c.event("")).status_code == 400                                    # invalid
    assert c.post(c.event(appId="elsewhere")).status_code == 409                     # mismatch
    r = c.batch([c.event("b1"), c.event("b2"), c.event(""), c.event(appId="zz")])    # 2+1+1
    assert r.status_code == 207

    # The gauges and histograms are updated as each engine batch ends, which may be just
    # after the answers went out: poll briefly.
    deadline = time.monotonic() + 5
    while True:
        m1 = metrics(s)
        if (delta(m0, m1, "reactor_engine_nonces") >= 4
                and delta(m0, m1, "reactor_event_latency_seconds_count") >= 5) \
                or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert delta(m0, m1, 'reactor_events_processed_total{status="processed"}') == 3
    assert delta(m0, m1, 'reactor_events_processed_total{status="failed"}') == 1
    assert delta(m0, m1, "reactor_events_duplicate_total") == 1
    expect = {"missing_signature": 1, "invalid_timestamp": 1, "expired_timestamp": 1,
              "invalid_signature": 1, "replay": 1, "invalid": 2, "app_mismatch": 2,
              "overloaded": 0, "store_unavailable": 0}
    for reason, n in expect.items():
        assert delta(m0, m1, rejected(reason)) == n, reason
    # Every event that got past key auth was received, whatever became of it.
    assert delta(m0, m1, "reactor_events_received_total") >= 3 + 1 + 1 + 4
    # Applied work went through the engine: batches, commits and latencies were observed.
    assert delta(m0, m1, "reactor_engine_batch_events_count") >= 1
    # Four new events were applied (the duplicate was only looked up).
    assert delta(m0, m1, "reactor_engine_batch_events_sum") >= 4
    assert delta(m0, m1, "reactor_engine_commit_seconds_count") >= 1
    assert delta(m0, m1, "reactor_event_latency_seconds_count") >= 5
    assert m1['reactor_engine_batch_events_bucket{le="+Inf"}'] == \
        m1["reactor_engine_batch_events_count"]
    assert m1['reactor_event_latency_seconds_bucket{le="+Inf"}'] == \
        m1["reactor_event_latency_seconds_count"]
    # Four accepted requests claimed four nonces (none can have expired yet).
    assert delta(m0, m1, "reactor_engine_nonces") == 4
    assert m1["reactor_engine_queue_depth"] >= 0


# ---- rate limit ----------------------------------------------------------------------------


def test_rate_limit_applies_to_event_posts(api):
    """settings.rateLimit {points: 2, windowSeconds: 60}: the third event request of a key is
    429 with Retry-After and is not stored (another key of the app can see that)."""
    c, admin = ingest_app(api, settings={"rateLimit": {"points": 2, "windowSeconds": 60}})
    ingest, _ = api.create_key(admin, "INGEST")
    ro, _ = api.create_key(admin, "READONLY")
    c = c.with_key(ingest)
    keys = [new_key() for _ in range(3)]
    assert c.post(c.event(idempotencyKey=keys[0])).status_code == 202
    assert c.batch([c.event(idempotencyKey=keys[1])]).status_code == 202
    r = c.post(c.event(idempotencyKey=keys[2]))
    status, j = error_of(r)
    assert (status, j["code"]) == (429, "rate_limited"), r.text
    assert r.headers.get("Retry-After", "").isdigit() and int(r.headers["Retry-After"]) >= 1
    # The READONLY key has its own two points.
    assert c.get(keys[0], key=ro).status_code == 200
    assert c.get(keys[2], key=ro).status_code == 404
