"""Durability: continue-as-new across a year of signals, a worker restarted mid-ladder, SMS never sent twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio.testing import ActivityEnvironment

from client import CollectionsClient
from dunning import ladder
from dunning.account import PaymentReceived
from dunning.policy import load_policy
from dunning.state import AccountRun
from infra import twilio_sms
from infra.delivery import NotSent, OutcomeUnknown
from tests.conftest import channel_activities, make_account, server_today, step_order
from workflows.account import AccountWorkflow


async def test_a_year_of_daily_payments_spans_several_runs_and_loses_nothing(env, run_worker, pool):
    days = 365
    account = make_account(due=await server_today(env), amount_minor=days * 1_000)
    run = AccountRun(account=account, policy=load_policy(account.policy), continue_as_new_after_events=300)
    async with run_worker() as queue:
        handle = await env.client.start_workflow(AccountWorkflow.run, run, id=account.workflow_id, task_queue=queue)
        for day in range(1, days + 1):
            await env.sleep(timedelta(days=1))
            paid = PaymentReceived(payment_id=f"D{day}", amount_minor=1_000, paid_at=await env.get_current_time())
            await handle.signal(AccountWorkflow.payment_received, paid)
            if day % 100 == 0:  # the same payment again, as billing retries do
                await handle.signal(AccountWorkflow.payment_received, paid)
        closed: AccountRun = await env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id).result()

    state = closed.state
    assert state.status == "cured"
    assert state.runs >= 4, "continue-as-new should have split the year into several runs"
    assert state.ledger.paid_minor == days * 1_000 and state.ledger.overpaid_minor == 0
    assert state.ledger.payment_ids == [f"D{day}" for day in range(1, days + 1)]
    assert await pool.fetchval("SELECT count(*) FROM payments WHERE account_id = $1", account.account_id) == days
    # Every ladder step due before the cure was taken exactly once, whichever run it fell in; the write-off review
    # waited for an approver, who was reminded and then escalated past.
    planned = [p.key for p in ladder.plan(run.policy, account)]
    logged = await pool.fetch("SELECT step_id, dpd FROM action_log WHERE account_id = $1", account.account_id)
    steps = sorted(f"{r['step_id']}@{r['dpd']}" for r in logged)
    assert [s for s in steps if not s.startswith("approval_")] == sorted(planned)
    assert [s.split("@")[0] for s in steps if s.startswith("approval_")] == ["approval_escalation", "approval_reminder"]


async def test_worker_restarted_mid_ladder_sends_no_sms_twice(env, run_worker, pool, twilio):
    account = make_account(due=await server_today(env))
    mobile = account.points("mobile")[0].value
    # No sticky cache: the time-skipping server would otherwise hold the next task for the departed worker.
    async with run_worker(max_cached_workflows=0) as queue:
        await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=2))
    assert [m["to"] for m in twilio.messages].count(mobile) == 1  # sms_reminder@1

    # A new worker process (new activity instances, empty workflow cache) picks the ladder up from history.
    async with run_worker(task_queue=queue):
        await env.sleep(timedelta(days=11))

    # 1, 3, 6 and 12 dpd, each once.
    assert [m["to"] for m in twilio.messages].count(mobile) == 4
    rows = await pool.fetch("SELECT action_key, status FROM sms_messages WHERE account_id = $1", account.account_id)
    assert len(rows) == 4 and all(r["status"] == "sent" for r in rows)


async def test_an_attempt_that_died_mid_send_is_sent_again_only_if_twilio_did_not_take_it(
    env, pool, twilio, sms_client, settings
):
    account = make_account(due=await server_today(env))
    mobile = account.points("mobile")[0].value
    activities = channel_activities(pool, sms_client, settings)
    order = await step_order(pool, account, "sms_reminder@1")

    # Attempt 1 died before Twilio had the text: its intent is recorded, and nothing reached Twilio.
    await pool.execute(
        "INSERT INTO action_log (action_key, account_id, workflow_id, step_id, channel, dpd, stage,"
        " due_at, result) VALUES ($1, $2, $3, 'sms_reminder', 'sms', 1, '1-5', now(), 'sending')",
        order.action_key,
        account.account_id,
        account.workflow_id,
    )
    await pool.execute(
        "INSERT INTO sms_messages (action_key, account_id, to_number, body, status)"
        " VALUES ($1, $2, $3, 'the reminder', 'sending')",
        order.action_key,
        account.account_id,
        mobile,
    )

    result = await ActivityEnvironment().run(activities.send_sms, order)
    assert result.status == "done"
    assert [m["body"] for m in twilio.messages if m["to"] == mobile] == ["the reminder"]  # as stored, once


async def test_sms_refused_by_twilio_with_503_is_retried_and_sent_once(env, pool, twilio, sms_client, settings):
    account = make_account(due=await server_today(env))
    activities = channel_activities(pool, sms_client, settings)
    order = await step_order(pool, account, "sms_reminder@1")
    twilio.fail_next(1, status=503)
    with pytest.raises(NotSent):
        await ActivityEnvironment().run(activities.send_sms, order)
    result = await ActivityEnvironment().run(activities.send_sms, order)
    again = await ActivityEnvironment().run(activities.send_sms, order)
    assert result.status == again.status == "done" and result.reference == again.reference
    assert [m["to"] for m in twilio.messages].count(account.points("mobile")[0].value) == 1


async def test_a_retry_that_dies_after_twilio_took_the_text_is_not_sent_a_third_time(
    env, pool, twilio, sms_client, monkeypatch, settings
):
    account = make_account(due=await server_today(env))
    mobile = account.points("mobile")[0].value
    activities = channel_activities(pool, sms_client, settings)
    order = await step_order(pool, account, "sms_reminder@1")
    twilio.fail_next(1, status=503)
    with pytest.raises(NotSent):
        await ActivityEnvironment().run(activities.send_sms, order)

    real_send = twilio_sms.send_sms

    async def send_then_die(*args, **kwargs):
        await real_send(*args, **kwargs)
        raise asyncio.CancelledError  # the worker is killed before it can store Twilio's answer

    monkeypatch.setattr(twilio_sms, "send_sms", send_then_die)
    with pytest.raises(asyncio.CancelledError):
        await ActivityEnvironment().run(activities.send_sms, order)
    monkeypatch.setattr(twilio_sms, "send_sms", real_send)

    # The next attempt asks Twilio, which has the text: it is recorded as sent, not sent a second time.
    result = await ActivityEnvironment().run(activities.send_sms, order)
    taken = [m for m in twilio.messages if m["to"] == mobile]
    assert len(taken) == 1 and (result.status, result.reference) == ("done", taken[0]["sid"])


async def test_after_a_server_error_or_a_timeout_twilio_is_asked_before_the_text_goes_again(
    env, pool, twilio, sms_client, monkeypatch, settings
):
    activities = channel_activities(pool, sms_client, settings)
    today = await server_today(env)

    # A 500: Twilio did not take it. The attempt fails and is retried with backoff; the retry finds no such text
    # at Twilio and sends it.
    refused = make_account(due=today)
    order = await step_order(pool, refused, "sms_reminder@1")
    twilio.fail_next(1, status=500)
    with pytest.raises(OutcomeUnknown):
        await ActivityEnvironment().run(activities.send_sms, order)
    assert await pool.fetchval("SELECT status FROM sms_messages WHERE action_key = $1", order.action_key) == "unknown"
    assert (await ActivityEnvironment().run(activities.send_sms, order)).status == "done"
    assert [m["to"] for m in twilio.messages].count(refused.points("mobile")[0].value) == 1

    # A timeout after Twilio took it: the retry finds it and records it sent, without a second text.
    timed_out = make_account(due=today)
    order = await step_order(pool, timed_out, "sms_reminder@1")
    real_send = twilio_sms.send_sms

    async def send_then_time_out(*args, **kwargs):
        await real_send(*args, **kwargs)
        raise OutcomeUnknown("no answer from Twilio: TimeoutError")

    monkeypatch.setattr(twilio_sms, "send_sms", send_then_time_out)
    with pytest.raises(OutcomeUnknown):
        await ActivityEnvironment().run(activities.send_sms, order)
    monkeypatch.setattr(twilio_sms, "send_sms", real_send)
    result = await ActivityEnvironment().run(activities.send_sms, order)
    taken = [m for m in twilio.messages if m["to"] == timed_out.points("mobile")[0].value]
    assert len(taken) == 1 and (result.status, result.reference) == ("done", taken[0]["sid"])
