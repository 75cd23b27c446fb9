"""The partners' webhooks end to end: the field app's visit reports and the mail vendor's delivery evidence, signed
with each sender's secret, posted to the worker's HTTP server (worker.serving, as in production), which tells the
account workflows; and every request that is not theirs, not fresh or not well formed refused, changing nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from temporalio.service import RPCError, RPCStatusCode

from dunning.account import AccountDocument
from inbound import server as inbound_http
from inbound.partner_webhooks import signature_problem
from tests.conftest import SEALED, make_account, reach_the_debtor_on_dpd_44, server_today, serving_worker
from workflows.account import AccountWorkflow

FIELD_SECRET = "field-app-test-secret"
MAIL_SECRET = "mail-vendor-test-secret"
TWILIO_SIGNATURE = {"X-Twilio-Signature": "not checked here"}


@pytest.fixture
async def stack(env, database_url, settings):
    """A worker as `python worker.py` runs it, on its own queue, its webhook server on a free port and both
    partners' secrets set."""
    async with serving_worker(
        env,
        replace(
            settings,
            task_queue="partner-webhooks",
            database_url=database_url,
            inbound_http_port=0,
            field_app_secret=FIELD_SECRET,
            mail_vendor_secret=MAIL_SECRET,
        ),
    ) as served:
        yield served


def signed(body: bytes, secret: str, at: float | None = None) -> dict[str, str]:
    """The headers a partner sends: the HMAC-SHA256 of `<timestamp>.<body>` under its secret."""
    stamp = str(int(time.time() if at is None else at))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Timestamp": stamp, "X-Signature": f"sha256={digest}", "Content-Type": "application/json"}


def encoded(body: dict) -> bytes:
    return json.dumps(body).encode()


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict | str]:
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def post_signed(url: str, body: dict, secret: str) -> tuple[int, dict | str]:
    data = encoded(body)
    return await post(url, data, signed(data, secret))


async def state(env, account: AccountDocument):
    return await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)


class TemporalDown:
    """A Temporal client in an outage: every call to the service fails as unavailable."""

    namespace = "default"
    data_converter = SEALED

    class workflow_service:
        @staticmethod
        async def describe_workflow_execution(*_, **__):
            raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")

    def get_workflow_handle(self, workflow_id: str):
        raise AssertionError("no signal may be sent while Temporal is down")


# --- the field app ----------------------------------------------------------------------------------------------


async def visit_order_after_a_contact(env, pool, account: AccountDocument) -> str | None:
    """The debtor answers at 16:00 on 44 dpd and pays nothing: the 45 dpd pressure visit is ordered a day later."""
    await reach_the_debtor_on_dpd_44(env, account)
    await env.sleep(timedelta(days=1, hours=1))
    return await pool.fetchval(
        "SELECT visit_ref FROM field_visit_orders WHERE account_id = $1 AND purpose = 'pressure'", account.account_id
    )


async def test_a_signed_visit_report_of_a_promise_at_the_door_reaches_the_account_once(env, stack, open_account, pool):
    account = await open_account(make_account(due=await server_today(env)))
    visit_ref = await visit_order_after_a_contact(env, pool, account)
    assert visit_ref is not None
    url = f"{stack.url}/field/visits/{visit_ref}/report"
    visited = await env.get_current_time()
    promise_day = (visited + timedelta(days=3)).astimezone(ZoneInfo(account.time_zone)).date()
    report = {
        "report_id": "VR1",
        "finding": "promised",
        "agent": "field-agent-3",
        "accompanied_by": ["field-agent-4"],  # a home visit under cn_consumer is made by two
        "notes": "met the debtor at home",
        "photos": ["photos/v1/door.jpg"],
        "promised_amount": "800",
        "promised_date": str(promise_day),
        "visited_at": visited.isoformat(),
    }
    data = encoded(report)

    refused = {
        "unsigned": await post(url, data, {"Content-Type": "application/json"}),
        "tampered": await post(url, encoded({**report, "promised_amount": "1"}), signed(data, FIELD_SECRET)),
        "wrong secret": await post(url, data, signed(data, MAIL_SECRET)),
        "stale": await post(url, data, signed(data, FIELD_SECRET, at=time.time() - 6 * 60)),
        "twilio's": await post(url, data, TWILIO_SIGNATURE),
        "not json": await post(url, b"{finding: promised", signed(b"{finding: promised", FIELD_SECRET)),
        "missing": await post_signed(url, {k: v for k, v in report.items() if k != "agent"}, FIELD_SECRET),
        "bad finding": await post_signed(url, {**report, "finding": "charmed"}, FIELD_SECRET),
        "no amount": await post_signed(url, {**report, "promised_amount": None}, FIELD_SECRET),
        "bad amount": await post_signed(url, {**report, "promised_amount": "eight hundred"}, FIELD_SECRET),
        "amount as number": await post_signed(url, {**report, "promised_amount": 800}, FIELD_SECRET),
        "no offset": await post_signed(url, {**report, "visited_at": "2026-11-22T15:00:00"}, FIELD_SECRET),
        "unknown field": await post_signed(url, {**report, "address": "somewhere"}, FIELD_SECRET),
        "unknown visit": await post_signed(f"{stack.url}/field/visits/VNOSUCHVISIT/report", report, FIELD_SECRET),
    }
    await env.sleep(timedelta(hours=1))

    assert {why: status for why, (status, _) in refused.items()} == {
        "unsigned": 401,
        "tampered": 401,
        "wrong secret": 401,
        "stale": 401,
        "twilio's": 401,
        "not json": 400,
        "missing": 400,
        "bad finding": 400,
        "no amount": 400,
        "bad amount": 400,
        "amount as number": 400,
        "no offset": 400,
        "unknown field": 400,
        "unknown visit": 404,
    }
    reasons = {why: answer["error"] for why, (_, answer) in refused.items()}
    assert reasons["unsigned"] == "missing X-Timestamp"
    assert reasons["tampered"] == reasons["wrong secret"] == "signature does not match"
    assert reasons["stale"] == "X-Timestamp is more than 5 minutes from our clock"
    assert reasons["not json"] == "the body is not JSON"
    assert reasons["missing"] == "missing agent"
    assert reasons["bad finding"].startswith("visit report: finding: Input should be 'found'")
    assert reasons["no amount"] == (
        "visit report: document: Value error, a promise made at the door needs promised_amount and promised_date"
    )
    assert reasons["bad amount"].startswith("promised_amount is not an amount of CNY")
    assert reasons["amount as number"] == "promised_amount must be a string"
    assert reasons["no offset"] == "visited_at has no UTC offset"
    assert reasons["unknown field"] == "unknown field address"
    assert reasons["unknown visit"] == "no visit order 'VNOSUCHVISIT'"
    # Nothing personal is echoed back.
    assert not any(secret in str(refused) for secret in ("met the debtor", "somewhere", account.debtor_name))
    order = await pool.fetchrow("SELECT status, finding FROM field_visit_orders WHERE visit_ref = $1", visit_ref)
    assert order["finding"] is None and order["status"] != "reported"
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM contact_events WHERE account_id = $1 AND kind = 'visit'", account.account_id
        )
        == 0
    )
    assert (await state(env, account)).commitment is None

    # The field app sends it, and sends it again (a lost answer): the account takes it once.
    first, again = [await post(url, data, signed(data, FIELD_SECRET)) for _ in range(2)]
    await env.sleep(timedelta(hours=1))
    later = await post(url, data, signed(data, FIELD_SECRET))

    assert first == (200, {"status": "accepted", "report_id": "VR1", "visit_ref": visit_ref})
    assert again[0] == 200 and later == (
        200,
        {"status": "already recorded", "report_id": "VR1", "visit_ref": visit_ref},
    )
    view = await state(env, account)
    assert view.commitment is not None and view.commitment.kind == "promise"
    assert [(i.amount_minor, i.due_date) for i in view.commitment.instalments] == [(80_000, promise_day)]
    reported = await pool.fetchrow(
        "SELECT status, finding, notes, photos FROM field_visit_orders WHERE visit_ref = $1", visit_ref
    )
    assert (reported["status"], reported["finding"], reported["notes"]) == (
        "reported",
        "promised",
        "met the debtor at home",
    )
    assert reported["photos"] == '["photos/v1/door.jpg"]'
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM contact_events WHERE account_id = $1 AND kind = 'visit'", account.account_id
        )
        == 1
    )

    # The account closes: a new report is refused with the reason; the one it took is still answered as taken.
    await env.client.get_workflow_handle(account.workflow_id).terminate("closed by ops")
    closed = await post_signed(
        url,
        {**report, "report_id": "VR2", "finding": "found", "promised_amount": None, "promised_date": None},
        FIELD_SECRET,
    )
    assert closed == (409, {"error": "the account has closed: it takes no more reports"})
    assert (await post(url, data, signed(data, FIELD_SECRET)))[0] == 200


# --- the mail vendor --------------------------------------------------------------------------------------------


async def test_a_letter_returned_as_address_invalid_makes_the_address_invalid(env, stack, open_account, pool, settings):
    account = await open_account(make_account(due=await server_today(env)))
    address = account.points("address")[0].value
    await env.sleep(timedelta(days=11))  # the first letter went at 10 dpd
    letter_ref = await pool.fetchval("SELECT letter_ref FROM letter_jobs WHERE account_id = $1", account.account_id)
    assert letter_ref is not None
    url = stack.url + "/mail/evidence"
    evidence = {
        "event_id": "ME1",
        "letter_ref": letter_ref,
        "status": "returned",
        "reason": "address_invalid",
        "evidence": "RR123456789CN",
        "occurred_at": (await env.get_current_time()).isoformat(),
    }
    data = encoded(evidence)

    refused = {
        "field app's secret": await post(url, data, signed(data, FIELD_SECRET)),
        "stale": await post(url, data, signed(data, MAIL_SECRET, at=time.time() - 3600)),
        "bad signature": await post(url, data, {**signed(data, MAIL_SECRET), "X-Signature": "sha256=" + "0" * 64}),
        "no reason": await post_signed(url, {**evidence, "reason": None}, MAIL_SECRET),
        "bad status": await post_signed(url, {**evidence, "status": "lost"}, MAIL_SECRET),
        "missing": await post_signed(url, {k: v for k, v in evidence.items() if k != "occurred_at"}, MAIL_SECRET),
        "not an object": await post(url, b"[]", signed(b"[]", MAIL_SECRET)),
        "unknown letter": await post_signed(url, {**evidence, "letter_ref": "LNOSUCHLETTER"}, MAIL_SECRET),
    }
    # Temporal cannot be reached: 503, nothing recorded, and the vendor's retry goes through.
    down_settings = replace(settings, inbound_http_port=0, mail_vendor_secret=MAIL_SECRET)
    async with inbound_http.serve(down_settings, pool, TemporalDown()) as down_url:
        outage = await post(down_url + "/mail/evidence", data, signed(data, MAIL_SECRET))
    await env.sleep(timedelta(hours=1))

    assert {why: status for why, (status, _) in refused.items()} == {
        "field app's secret": 401,
        "stale": 401,
        "bad signature": 401,
        "no reason": 400,
        "bad status": 400,
        "missing": 400,
        "not an object": 400,
        "unknown letter": 404,
    }
    assert refused["no reason"][1]["error"] == (
        "letter delivery: document: Value error, a returned letter needs a reason, and only a returned one has one"
    )
    assert refused["missing"][1]["error"] == "missing occurred_at"
    assert outage == (503, {"error": "the account could not be told; try again"})
    assert await pool.fetchval("SELECT count(*) FROM letter_events WHERE letter_ref = $1", letter_ref) == 0
    assert (await state(env, account)).invalid_points == []

    answer = await post(url, data, signed(data, MAIL_SECRET))
    await env.sleep(timedelta(hours=1))

    assert answer == (200, {"status": "accepted", "event_id": "ME1", "letter_ref": letter_ref})
    invalid = {r.point.value: r.invalid_because for r in (await state(env, account)).invalid_points}
    assert invalid == {address: "address_invalid 1 times"}
    job = await pool.fetchrow("SELECT delivery_status FROM letter_jobs WHERE letter_ref = $1", letter_ref)
    assert job["delivery_status"] == "returned"
    assert await pool.fetchval("SELECT count(*) FROM letter_events WHERE letter_ref = $1", letter_ref) == 1
    assert await post(url, data, signed(data, MAIL_SECRET)) == (
        200,
        {"status": "already recorded", "event_id": "ME1", "letter_ref": letter_ref},
    )


# --- configuration and the guards ---------------------------------------------------------------------------------


async def test_a_sender_without_a_secret_is_answered_not_configured(pool, settings):
    unset = replace(settings, inbound_http_port=0, field_app_secret=None, mail_vendor_secret=None)
    body = encoded({"event_id": "X"})
    async with inbound_http.serve(unset, pool, TemporalDown()) as url:
        answers = [
            await post(url + path, body, signed(body, secret))
            for path, secret in (
                ("/field/visits/V1/report", FIELD_SECRET),
                ("/field/visits/V1/report", ""),
                ("/mail/evidence", MAIL_SECRET),
                ("/mail/evidence", ""),
            )
        ]
        # Twilio's guard is on Twilio's routes only: elsewhere, no route is no route.
        elsewhere = await post(url + "/nowhere", body, {})
        twilio = await post(url + "/twilio/sms/inbound", b"", {})

    assert answers == [(503, {"error": "not configured"})] * 4
    assert elsewhere[0] == 404
    assert twilio == (403, "missing X-Twilio-Signature")


def test_a_signature_is_checked_in_constant_time_over_the_timestamp_and_body():
    body, now = b'{"event_id": "E1"}', 1_800_000_000
    good = signed(body, MAIL_SECRET, at=now)
    assert signature_problem(MAIL_SECRET, good, body, now) == ""
    assert signature_problem(MAIL_SECRET, good, body, now + 300) == ""  # 5 minutes late: still in time
    assert (
        signature_problem(
            MAIL_SECRET, {**good, "X-Signature": good["X-Signature"].upper().replace("SHA256=", "sha256=")}, body, now
        )
        == ""
    )
    assert signature_problem(MAIL_SECRET, good, body, now + 301) == "X-Timestamp is more than 5 minutes from our clock"
    assert signature_problem(MAIL_SECRET, good, body, now - 301) == "X-Timestamp is more than 5 minutes from our clock"
    # The timestamp is signed: moving it forward breaks the signature.
    assert signature_problem(MAIL_SECRET, {**good, "X-Timestamp": str(now + 60)}, body, now) == (
        "signature does not match"
    )
    assert signature_problem(MAIL_SECRET, {**good, "X-Timestamp": "soon"}, body, now) == (
        "X-Timestamp is not a time in unix seconds"
    )
    assert signature_problem(MAIL_SECRET, {"X-Timestamp": str(now)}, body, now) == "missing X-Signature"
    assert (
        signature_problem(MAIL_SECRET, {**good, "X-Signature": good["X-Signature"].removeprefix("sha256=")}, body, now)
        == "X-Signature is not sha256=<hex>"
    )
    assert signature_problem(MAIL_SECRET, {**good, "X-Signature": "sha256=é"}, body, now) == (
        "X-Signature is not sha256=<hex>"
    )
