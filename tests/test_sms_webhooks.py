"""Twilio's webhooks end to end: the stand-in posts signed replies and status callbacks to the worker's HTTP server
(worker.serving, as in production), which records them and tells the account workflows."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from datetime import timedelta

import aiohttp
import pytest
from temporalio.service import RPCError, RPCStatusCode
from twilio.request_validator import RequestValidator

from dunning.account import AccountDocument
from dunning.replies import load_replies
from inbound import server as inbound_http
from infra.twilio_sms import INBOUND_SMS_PATH, STATUS_CALLBACK_PATH
from standins.twilio_api import UNSUBSCRIBED_REPLY
from tests.conftest import TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN, make_account, server_today, serving_worker
from workflows.account import AccountWorkflow

TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
CONFIRMATION = load_replies().opt_out_confirmation


def twiml_confirming(text: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{text}</Message></Response>'


@pytest.fixture
async def stack(env, database_url, settings, twilio):
    """A worker as `python worker.py` runs it, on its own queue, with its webhook server on a free port; the
    stand-in's number posts handsets' texts there."""
    served_settings = replace(settings, task_queue="sms-webhooks", database_url=database_url, inbound_http_port=0)
    async with serving_worker(env, served_settings) as served:
        twilio.sms_url = served.url + INBOUND_SMS_PATH
        try:
            yield served
        finally:
            twilio.sms_url = None


def mobile_of(account: AccountDocument) -> str:
    return account.points("mobile")[0].value


async def state(env, account: AccountDocument):
    return await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)


async def eventually(check, seconds: float = 10):
    """Status callbacks run on the stand-in's real-time clock, not the test server's."""
    for _ in range(int(seconds * 20)):
        if found := await check():
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("Twilio's callbacks did not arrive in time")


def text_from(mobile: str, body: str) -> dict[str, str]:
    """An incoming-message webhook's form, as Twilio posts it."""
    sid = "SM" + secrets.token_hex(16)
    return {
        "AccountSid": TWILIO_SID,
        "MessageSid": sid,
        "SmsSid": sid,
        "From": mobile,
        "To": TWILIO_FROM,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }


async def post(url: str, form: dict[str, str], signature: str | None) -> tuple[int, str]:
    headers = {"X-Twilio-Signature": signature} if signature else {}
    async with aiohttp.ClientSession() as session, session.post(url, data=form, headers=headers) as response:
        return response.status, await response.text()


def signed(url: str, form: dict[str, str], token: str = TWILIO_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, form)


async def contact_outcomes(pool, account: AccountDocument) -> dict[str, tuple]:
    rows = await pool.fetch(
        "SELECT code, source, contact_point, note, verdict FROM contact_events"
        " WHERE account_id = $1 AND kind = 'outcome'",
        account.account_id,
    )
    return {r["code"]: (r["source"], r["contact_point"], r["note"], r["verdict"]) for r in rows}


# "opt out" with a space is a revocation Twilio does not act on (FCC 24-24): only our own opt-out list stops texts.
@pytest.mark.parametrize("reply", ["STOP", "opt out"])
async def test_a_stop_reply_ceases_texts_to_the_debtor(env, stack, open_account, pool, twilio, reply):
    account = await open_account(make_account(due=await server_today(env)))
    mobile = mobile_of(account)
    await env.sleep(timedelta(days=2))  # the 1 dpd reminder goes out; the debtor answers it

    assert await twilio.inbound_sms(mobile, reply) == 200
    await env.sleep(timedelta(days=2))

    assert [c.value for c in (await state(env, account)).ceased_channels] == ["sms"]
    assert (await pool.fetchrow("SELECT source FROM sms_opt_outs WHERE number = $1", mobile))["source"] == "reply"
    texts = await pool.fetch(
        "SELECT step_id, dpd, result FROM action_log WHERE account_id = $1 AND channel = 'sms' ORDER BY dpd",
        account.account_id,
    )
    # Skipped by the account itself, not merely refused by Twilio.
    assert [(r["step_id"], r["dpd"], r["result"]) for r in texts] == [
        ("sms_reminder", 1, "done"),
        ("sms_reminder", 3, "skipped"),
    ]
    sent = [m["to"] for m in twilio.messages if m["direction"] == "outbound-api"]  # ours, not the confirmation
    assert sent.count(mobile) == 1


def new_handset() -> str:
    """A number no other test texts from: the stand-in keeps every test's texts."""
    return f"+86139{secrets.randbelow(10**8):08d}"


def received_by(twilio, handset: str) -> list[str]:
    """What the handset got from Twilio, oldest first."""
    return [m["body"] for m in twilio.messages if m["to"] == handset]


async def confirmation_recorded(pool, handset: str) -> list[str | None]:
    rows = await pool.fetch("SELECT opt_out_confirmation FROM inbound_sms WHERE from_number = $1", handset)
    return [row["opt_out_confirmation"] for row in rows]


# FCC 24-24 allows one text confirming a revocation: ours when Twilio does not act on the word, Twilio's when it does.
@pytest.mark.parametrize(
    ("reply", "confirmation"),
    [("opt out", CONFIRMATION.en), ("Opt-Out.", CONFIRMATION.en), ("退订", CONFIRMATION.zh), ("TD", CONFIRMATION.zh)],
)
async def test_an_opt_out_twilio_does_not_act_on_is_confirmed_once_in_its_language(
    stack, pool, twilio, reply, confirmation
):
    handset = new_handset()

    assert await twilio.inbound_sms(handset, reply, to=TWILIO_FROM) == 200

    assert received_by(twilio, handset) == [confirmation]
    assert await confirmation_recorded(pool, handset) == [confirmation]


@pytest.mark.parametrize("reply", ["STOP", "Revoke"])
async def test_an_opt_out_twilio_acts_on_gets_twilios_confirmation_alone(stack, pool, twilio, reply):
    handset = new_handset()

    assert await twilio.inbound_sms(handset, reply, to=TWILIO_FROM) == 200

    assert received_by(twilio, handset) == [UNSUBSCRIBED_REPLY]
    assert await confirmation_recorded(pool, handset) == [None]


async def test_an_opt_out_webhook_twilio_sends_again_is_not_confirmed_again(stack, pool, twilio):
    handset = new_handset()
    await twilio.inbound_sms(handset, "opt out", to=TWILIO_FROM)
    opt_out = next((url, form) for url, form in reversed(twilio.webhooks) if form.get("From") == handset)

    assert await twilio.post_webhook(*opt_out) == 200

    assert received_by(twilio, handset) == [CONFIRMATION.en]
    assert await confirmation_recorded(pool, handset) == [CONFIRMATION.en]


async def test_a_reply_that_is_no_opt_out_gets_no_text(stack, pool, twilio):
    handset = new_handset()

    for reply in ("I paid", "call me", "HELP", "START", "stop calling my mother", "opt out of what?"):
        assert await twilio.inbound_sms(handset, reply, to=TWILIO_FROM) == 200

    assert received_by(twilio, handset) == []
    assert await confirmation_recorded(pool, handset) == [None] * 6


async def test_paid_and_call_me_replies_reach_the_account_as_outcomes(env, stack, open_account, pool, twilio):
    account = await open_account(make_account(due=await server_today(env)))
    mobile = mobile_of(account)
    await env.sleep(timedelta(days=2))

    assert await twilio.inbound_sms(mobile, "I paid yesterday at the branch") == 200
    assert await twilio.inbound_sms(mobile, "请来电，谢谢") == 200
    assert await twilio.inbound_sms(mobile, "HELP") == 200
    await env.sleep(timedelta(minutes=5))

    # Recorded by the account as what the debtor said, without the text (it stays in inbound_sms for collectors).
    assert await contact_outcomes(pool, account) == {
        "says_paid": ("sms", mobile, "", "applied"),
        "callback_requested": ("sms", mobile, "", "applied"),
    }
    replies = await pool.fetch("SELECT body, intent, account_ids FROM inbound_sms WHERE from_number = $1", mobile)
    assert {(r["body"], r["intent"], tuple(r["account_ids"])) for r in replies} == {
        ("I paid yesterday at the branch", "says_paid", (account.account_id,)),
        ("请来电，谢谢", "callback_requested", (account.account_id,)),
        ("HELP", "help", (account.account_id,)),
    }


async def test_a_text_from_an_unknown_number_is_kept_for_a_collector(stack, pool, twilio):
    assert await twilio.inbound_sms("+8613700000001", "who is this?", to=TWILIO_FROM) == 200

    row = await pool.fetchrow(
        "SELECT intent, account_ids, signalled FROM inbound_sms WHERE from_number = $1", "+8613700000001"
    )
    assert (row["intent"], row["account_ids"], row["signalled"]) == ("other", [], "")


async def test_delivery_reports_update_the_text_and_a_number_that_cannot_take_texts_is_dropped(
    env, stack, open_account, pool, twilio
):
    today = await server_today(env)
    reached, landline = make_account(due=today), make_account(due=today)
    twilio.mark_undeliverable(mobile_of(landline), 30006)
    for account in (reached, landline):
        await open_account(account)
    await env.sleep(timedelta(days=2))

    async def endings():
        rows = await pool.fetch(
            "SELECT account_id, status, error_code FROM sms_messages WHERE account_id = ANY($1) AND status <> 'sent'",
            [reached.account_id, landline.account_id],
        )
        return len(rows) == 2 and {r["account_id"]: (r["status"], r["error_code"]) for r in rows}

    assert await eventually(endings) == {
        reached.account_id: ("delivered", None),
        landline.account_id: ("undelivered", 30006),
    }
    await env.sleep(timedelta(minutes=5))
    invalid = {r.point.value: r.invalid_because for r in (await state(env, landline)).invalid_points}
    assert invalid == {mobile_of(landline): "invalid_number 1 times"}
    assert (await state(env, reached)).invalid_points == []
    told = await pool.fetch(
        "SELECT status, signalled FROM sms_status_events WHERE $1 = ANY(account_ids)", landline.account_id
    )
    assert [(r["status"], r["signalled"]) for r in told] == [("undelivered", f"{landline.account_id}: contact_outcome")]


async def test_unsigned_or_malformed_webhooks_are_refused_and_change_nothing(env, stack, open_account, pool):
    account = await open_account(make_account(due=await server_today(env)))
    mobile = mobile_of(account)
    inbound, status = stack.url + INBOUND_SMS_PATH, stack.url + STATUS_CALLBACK_PATH
    stop = text_from(mobile, "STOP")

    forged = [
        await post(inbound, stop, signature=None),
        await post(inbound, stop, signed(inbound, stop, token="not-our-token")),
        await post(inbound, stop, signed("https://elsewhere.example/twilio/sms/inbound", stop)),
        await post(inbound, {**stop, "Body": "PAID"}, signed(inbound, stop)),  # tampered with after signing
    ]
    without_from = {k: v for k, v in stop.items() if k != "From"}
    malformed = [
        (inbound, without_from),
        (inbound, {**stop, "AccountSid": "AC" + "f" * 32}),
        (inbound, {**stop, "From": "13800000000"}),
        (
            status,
            {
                "AccountSid": TWILIO_SID,
                "MessageSid": stop["MessageSid"],
                "MessageStatus": "exploded",
                "From": TWILIO_FROM,
                "To": mobile,
            },
        ),
        (status, {"AccountSid": TWILIO_SID, "MessageSid": stop["MessageSid"], "From": TWILIO_FROM, "To": mobile}),
    ]
    refused = [await post(url, form, signed(url, form)) for url, form in malformed]
    await env.sleep(timedelta(minutes=5))

    assert [code for code, _ in forged] == [403] * 4
    assert refused == [
        (400, "missing From"),
        (400, "AccountSid is not this Twilio account's"),
        (400, "From is not an E.164 phone number"),
        (400, "unknown MessageStatus"),
        (400, "missing MessageStatus"),
    ]
    assert await pool.fetchval("SELECT count(*) FROM inbound_sms WHERE message_sid = $1", stop["MessageSid"]) == 0
    assert await pool.fetchval("SELECT count(*) FROM sms_status_events WHERE message_sid = $1", stop["MessageSid"]) == 0
    assert await pool.fetchval("SELECT count(*) FROM sms_opt_outs WHERE number = $1", mobile) == 0
    assert (await state(env, account)).ceased_channels == []


async def test_twilio_retrying_a_webhook_changes_nothing(env, stack, open_account, pool, twilio):
    account = await open_account(make_account(due=await server_today(env)))
    mobile = mobile_of(account)
    await env.sleep(timedelta(days=2))
    sid = await eventually(lambda: delivered_text(pool, account))
    await twilio.inbound_sms(mobile, "STOP")
    stop = twilio.webhooks[-1]
    await twilio.inbound_sms(mobile, "START")  # Twilio subscribes the handset again

    # Twilio sends both again, as after a timeout.
    assert await twilio.post_webhook(*stop) == 200
    assert await twilio.post_webhook(*webhook(twilio, sid, "delivered")) == 204
    await env.sleep(timedelta(minutes=5))

    assert await pool.fetchval("SELECT count(*) FROM sms_opt_outs WHERE number = $1", mobile) == 0
    assert await pool.fetchval("SELECT count(*) FROM inbound_sms WHERE from_number = $1", mobile) == 2
    assert await pool.fetchval("SELECT count(*) FROM contact_ceases WHERE account_id = $1", account.account_id) == 1
    events = await pool.fetch("SELECT status FROM sms_status_events WHERE message_sid = $1", sid)
    assert sorted(r["status"] for r in events) == ["delivered", "sent"]


async def test_a_late_or_contradicting_status_never_moves_a_delivered_text_back(env, stack, open_account, pool, twilio):
    account = await open_account(make_account(due=await server_today(env)))
    await env.sleep(timedelta(days=2))
    sid = await eventually(lambda: delivered_text(pool, account))
    url, form = webhook(twilio, sid, "delivered")

    for late in ("sending", "undelivered"):
        assert await twilio.post_webhook(url, {**form, "MessageStatus": late, "SmsStatus": late}) == 204

    assert await pool.fetchval("SELECT status FROM sms_messages WHERE twilio_sid = $1", sid) == "delivered"


async def delivered_text(pool, account: AccountDocument) -> str | None:
    """The Twilio sid of the account's text once Twilio has reported it delivered."""
    return await pool.fetchval(
        "SELECT twilio_sid FROM sms_messages WHERE account_id = $1 AND status = 'delivered'", account.account_id
    )


def webhook(twilio, sid: str, status: str) -> tuple[str, dict[str, str]]:
    return next(
        (url, form)
        for url, form in twilio.webhooks
        if form.get("MessageSid") == sid and form.get("MessageStatus") == status
    )


class TemporalDown:
    """A Temporal client whose signals fail as in an outage until `recover()`."""

    def __init__(self, client):
        self._client = client
        self._down = True
        self.data_converter = client.data_converter

    def recover(self) -> None:
        self._down = False

    def get_workflow_handle(self, workflow_id: str):
        handle = self._client.get_workflow_handle(workflow_id)
        if self._down:

            async def unavailable(*_):
                raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")

            handle.signal = unavailable
        return handle


@pytest.mark.parametrize(("reply", "answer"), [("STOP", TWIML_EMPTY), ("opt out", twiml_confirming(CONFIRMATION.en))])
async def test_a_stop_texted_while_temporal_is_down_is_kept_and_acted_on_once_when_it_is_back(
    env, stack, open_account, pool, settings, tmp_path, reply, answer
):
    """Twilio does not retry a webhook on its own: the STOP is answered as taken (an opt-out Twilio does not act on
    with our confirmation), kept, and told once Temporal is back; the same webhook sent twice still ceases texts
    once, and is not confirmed again."""
    account = await open_account(make_account(due=await server_today(env)))
    mobile = mobile_of(account)
    await env.sleep(timedelta(hours=1))  # opened: its contact book is on file
    temporal = TemporalDown(env.client)
    spool = tmp_path / "spool"
    served = replace(settings, inbound_http_port=0, inbound_spool_dir=spool)
    async with inbound_http.serve(served, pool, temporal, retry_every=0.1) as url:
        inbound = url + INBOUND_SMS_PATH
        stop = text_from(mobile, reply)
        during = await post(inbound, stop, signed(inbound, stop))
        kept = list(spool.glob("*.json"))
        await asyncio.sleep(0.5)  # still down: it stays kept
        assert list(spool.glob("*.json")) == kept
        temporal.recover()
        await eventually(lambda: asyncio.sleep(0, result=not list(spool.glob("*.json"))))
        again = await post(inbound, stop, signed(inbound, stop))
    await env.sleep(timedelta(minutes=5))

    assert during == (200, answer) and len(kept) == 1 and again == (200, TWIML_EMPTY)
    assert [c.value for c in (await state(env, account)).ceased_channels] == ["sms"]
    assert await pool.fetchval("SELECT count(*) FROM contact_ceases WHERE account_id = $1", account.account_id) == 1
    assert (
        await pool.fetchval("SELECT signalled FROM inbound_sms WHERE message_sid = $1", stop["MessageSid"])
        == f"{account.account_id}: cease_contact"
    )


async def test_a_reply_for_an_account_whose_workflow_has_ended_is_kept_and_noted(env, stack, open_account, pool):
    account = await open_account(make_account(due=await server_today(env)))
    await env.sleep(timedelta(hours=1))
    await env.client.get_workflow_handle(account.workflow_id).terminate("closed by ops")
    inbound = stack.url + INBOUND_SMS_PATH
    paid = text_from(mobile_of(account), "PAID")

    assert await post(inbound, paid, signed(inbound, paid)) == (200, TWIML_EMPTY)
    assert (
        await pool.fetchval("SELECT signalled FROM inbound_sms WHERE message_sid = $1", paid["MessageSid"])
        == f"{account.account_id}: closed, not signalled"
    )
