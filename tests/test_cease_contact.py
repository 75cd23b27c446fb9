"""Cease contact under time skipping: honoured by every later step, except notices the policy permits."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from client import CollectionsClient, inputs
from dunning.account import local_datetime
from dunning.contact import CeaseContact
from tests.conftest import make_account, server_today
from workflows.account import AccountWorkflow


async def steps_by_result(pool, account_id: str) -> dict[str, list[str]]:
    rows = await pool.fetch(
        "SELECT step_id, dpd, result FROM action_log WHERE account_id = $1 ORDER BY due_at, action_key", account_id
    )
    grouped: dict[str, list[str]] = {}
    for r in rows:
        grouped.setdefault(r["result"], []).append(f"{r['step_id']}@{r['dpd']}")
    return grouped


async def test_sms_stop_then_stop_everything(env, run_worker, pool, twilio):
    account = make_account(due=await server_today(env))
    mobile = account.points("mobile")[0].value
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=2))
        stop_sms = inputs.parse_cease(["sms"], "replied STOP", "REQ-1")
        await CollectionsClient(env.client).signal(account.account_id, "cease_contact", stop_sms)
        await CollectionsClient(env.client).signal(account.account_id, "cease_contact", stop_sms)  # resent: counts once
        await env.sleep(timedelta(days=17))
        # At 19 dpd the debtor asks us to stop contacting them at all.
        await CollectionsClient(env.client).signal(
            account.account_id,
            "cease_contact",
            inputs.parse_cease([], "written request to cease", "REQ-2"),
        )
        await env.sleep(timedelta(days=50))
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    results = await steps_by_result(pool, account.account_id)
    # Before any request: 1 dpd steps went out. After STOP, texts are skipped but calls and letters go on.
    assert {"sms_reminder@1", "call_task@1", "call_task@6", "letter_first@10", "call_task@18"} <= set(results["done"])
    assert {"sms_reminder@3", "sms_urge@6", "sms_urge@12", "sms_firm@18"} <= set(results["skipped"])
    # After the full cease, nothing reaches the debtor but the lawyer's letter (notice of a specific remedy).
    assert {
        "letter_second@20",
        "call_task@30",
        "sms_severe@30",
        "letter_final@35",
        "field_visit@45",
        "call_task@60",
    } <= set(results["skipped"])
    assert "lawyer_letter@60" in results["done"]
    assert [m["to"] for m in twilio.messages].count(mobile) == 1
    assert sorted(c.value for c in view.ceased_channels) == ["call", "email", "field_visit", "letter", "sms"]
    recorded = await pool.fetch(
        "SELECT request_id, channels FROM contact_ceases WHERE account_id = $1 ORDER BY received_at", account.account_id
    )
    assert [(r["request_id"], r["channels"]) for r in recorded] == [
        ("REQ-1", ["sms"]),
        ("REQ-2", ["call", "email", "field_visit", "letter", "sms"]),
    ]


def test_a_cease_request_without_a_reason_is_refused():
    with pytest.raises(inputs.InputError, match="reason"):
        inputs.parse_cease(["sms"], "")


def test_a_cease_naming_no_channel_covers_every_contact_channel_but_not_internal_work():
    request = CeaseContact(request_id="R", reason="asked", received_at="2026-01-01T00:00:00Z")
    assert sorted(c.value for c in request.ceased()) == ["call", "email", "field_visit", "letter", "sms"]


async def test_a_stop_during_a_twilio_outage_withdraws_the_text_waiting_to_go(env, run_worker, pool, twilio):
    account = make_account(due=await server_today(env))
    mobile = account.points("mobile")[0].value
    twilio.fail_next(10_000, status=503)  # Twilio is down: the 1 dpd text keeps retrying
    try:
        async with run_worker() as queue:
            await CollectionsClient(env.client, queue).open(account)
            # To 12:00 local on day 1: the 10:00 text has been retrying for two hours.
            noon_of_day_1 = local_datetime(account.due_date + timedelta(days=1), time(12), account.time_zone)
            await env.sleep(noon_of_day_1 - await env.get_current_time())
            await CollectionsClient(env.client).signal(
                account.account_id, "cease_contact", inputs.parse_cease(["sms"], "replied STOP", "STOP-1")
            )
            await env.sleep(timedelta(hours=1))
            twilio.recover()
            await env.sleep(timedelta(days=2))
    finally:
        twilio.recover()

    assert mobile not in [m["to"] for m in twilio.messages]
    rows = await pool.fetch(
        "SELECT a.step_id, a.dpd, a.result, s.status FROM action_log a LEFT JOIN sms_messages s"
        " USING (action_key) WHERE a.account_id = $1 AND a.channel = 'sms'",
        account.account_id,
    )
    assert {(r["step_id"], r["dpd"], r["result"], r["status"]) for r in rows} == {
        ("sms_reminder", 1, "skipped", "withdrawn"),
        ("sms_reminder", 3, "skipped", None),
    }


async def test_a_cease_request_for_a_paid_off_account_still_holds_when_a_chargeback_reopens_it(env, run_worker, pool):
    account = make_account(due=await server_today(env), amount_minor=50_000)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=2))
        await CollectionsClient(env.client, queue).pay(
            account.account_id, inputs.parse_payment("500.00", "CARD-1", "CNY")
        )
        handle = env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id)
        await handle.result()
        await CollectionsClient(env.client, queue).cease(
            account.account_id, inputs.parse_cease(["sms"], "replied STOP after paying", "C-AFTER")
        )
        still_closed = await handle.result()
        await env.sleep(timedelta(days=4))
        await CollectionsClient(env.client, queue).reverse(
            account.account_id, inputs.parse_reversal("CARD-1", "chargeback")
        )
        await env.sleep(timedelta(days=10))

    assert still_closed.state.status == "cured" and [c.value for c in still_closed.state.ceased_channels] == ["sms"]
    assert await pool.fetchval("SELECT count(*) FROM contact_ceases WHERE account_id = $1", account.account_id) == 1
    grouped = await steps_by_result(pool, account.account_id)
    # Reopened at 6 dpd, the ladder takes up the urging text of that day: skipped, as the debtor asked.
    assert [s for s in grouped["done"] if s.startswith("sms")] == ["sms_reminder@1"]  # before paying
    assert "sms_urge@12" in grouped["skipped"]
