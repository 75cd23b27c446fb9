"""Disputes and complaints under time skipping (domain §6, strategy 5)."""

from __future__ import annotations

from datetime import timedelta

from client import CollectionsClient, inputs
from tests.conftest import make_account, server_today
from workflows.account import AccountWorkflow


async def results(pool, account_id: str) -> dict[str, str]:
    rows = await pool.fetch("SELECT step_id, dpd, result FROM action_log WHERE account_id = $1", account_id)
    return {f"{r['step_id']}@{r['dpd']}": r["result"] for r in rows}


async def test_a_disputed_debt_pauses_collection_until_resolved_then_resumes_at_its_dpd(env, run_worker, pool):
    account = make_account(due=await server_today(env))
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        handle = env.client.get_workflow_handle(account.workflow_id)
        await env.sleep(timedelta(days=2))
        dispute = inputs.parse_dispute("D1", "debt", "says the amount was already paid")
        await CollectionsClient(env.client).signal(account.account_id, "dispute_opened", dispute)
        await CollectionsClient(env.client).signal(account.account_id, "dispute_opened", dispute)  # twice
        await env.sleep(timedelta(days=20))
        paused = await handle.query(AccountWorkflow.state)
        taken_while_paused = await results(pool, account.account_id)

        await CollectionsClient(env.client).signal(
            account.account_id, "dispute_resolved", inputs.parse_resolution("D1", "debt_confirmed")
        )
        # Billing resends the old dispute: it was decided, so collection does not pause again.
        await CollectionsClient(env.client).signal(account.account_id, "dispute_opened", dispute)
        await env.sleep(timedelta(days=10))
        resumed = await handle.query(AccountWorkflow.state)

    assert [d.dispute_id for d in paused.open_disputes] == ["D1"]
    assert set(taken_while_paused) == {"sms_reminder@1", "call_task@1"}  # nothing after the dispute opened
    after = await results(pool, account.account_id)
    # Resumed at 22 dpd: what fell due meanwhile is skipped but the latest of each channel; then the ladder goes on.
    assert after["sms_reminder@3"] == after["letter_first@10"] == after["sms_urge@12"] == "skipped"
    assert after["sms_firm@18"] == after["call_task@18"] == after["letter_second@20"] == "done"
    assert after["sms_severe@30"] == "done"
    assert resumed.open_disputes == []
    assert resumed.status == "open"
    row = await pool.fetchrow("SELECT subject, outcome FROM disputes WHERE account_id = $1", account.account_id)
    assert (row["subject"], row["outcome"]) == ("debt", "debt_confirmed")


async def test_a_cancelled_debt_closes_the_account(env, run_worker, pool):
    account = make_account(due=await server_today(env))
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await CollectionsClient(env.client).signal(
            account.account_id, "dispute_opened", inputs.parse_dispute("D9", "debt", "identity mix-up")
        )
        await CollectionsClient(env.client).signal(
            account.account_id, "dispute_resolved", inputs.parse_resolution("D9", "debt_cancelled")
        )
        closed = await env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id).result()
    assert closed.state.status == "cancelled"
    assert await pool.fetchval("SELECT status FROM accounts WHERE account_id = $1", account.account_id) == "cancelled"


async def test_a_complaint_against_the_collector_moves_the_account_and_collection_goes_on(env, run_worker, pool):
    account = make_account(due=await server_today(env))
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        handle = env.client.get_workflow_handle(account.workflow_id)
        await env.sleep(timedelta(days=2))
        before = (await handle.query(AccountWorkflow.state)).collector_queue
        await CollectionsClient(env.client).signal(
            account.account_id,
            "dispute_opened",
            inputs.parse_dispute("C1", "collector", "rude on the phone"),
        )
        # A complaint closed with a debt outcome is refused; a resolution that overtakes its complaint waits for it.
        await CollectionsClient(env.client).signal(
            account.account_id, "dispute_resolved", inputs.parse_resolution("C1", "debt_cancelled")
        )
        await CollectionsClient(env.client).signal(
            account.account_id, "dispute_resolved", inputs.parse_resolution("S1", "complaint_closed")
        )
        await CollectionsClient(env.client).signal(
            account.account_id, "dispute_opened", inputs.parse_dispute("S1", "sales", "mis-sold insurance")
        )
        await env.sleep(timedelta(days=5))
        view = await handle.query(AccountWorkflow.state)

    assert view.collector_queue != before and {before, view.collector_queue} == {"phone_team_1", "phone_team_2"}
    queues = await pool.fetch(
        "SELECT stage, collector_queue FROM call_tasks WHERE account_id = $1 ORDER BY due_from", account.account_id
    )
    assert [(q["stage"], q["collector_queue"]) for q in queues] == [("1-5", before), ("6-17", view.collector_queue)]
    assert view.rejected_signals == ["dispute C1: outcome debt_cancelled does not fit a dispute about the collector"]
    assert view.status == "open" and [d.dispute_id for d in view.open_disputes] == ["C1"]
    outcomes = {
        r["dispute_id"]: r["outcome"]
        for r in await pool.fetch("SELECT dispute_id, outcome FROM disputes WHERE account_id = $1", account.account_id)
    }
    assert outcomes == {"C1": None, "S1": "complaint_closed"}
