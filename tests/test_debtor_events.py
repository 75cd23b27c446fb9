"""Death and bankruptcy reports under time skipping (domain §6, strategy 3)."""

from __future__ import annotations

from datetime import timedelta

from client import CollectionsClient, inputs
from tests.conftest import make_account, server_today
from workflows.account import AccountWorkflow


async def test_a_confirmed_death_stops_contact_and_hands_the_account_to_the_estate(env, run_worker, pool, twilio):
    account = make_account(due=await server_today(env))
    mobile = account.points("mobile")[0].value
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        handle = env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id)
        await env.sleep(timedelta(days=2))
        report = inputs.parse_debtor_event("R1", "deceased", "the spouse called")
        await CollectionsClient(env.client).signal(account.account_id, "debtor_event_reported", report)
        await env.sleep(timedelta(days=10))
        paused = await handle.query(AccountWorkflow.state)
        await CollectionsClient(env.client).signal(
            account.account_id, "documents_verified", inputs.parse_documents("R1", True)
        )
        closed = await handle.result()

    assert [v.report.report_id for v in paused.verifications] == ["R1"]
    assert [m["to"] for m in twilio.messages].count(mobile) == 1  # only the 1 dpd text, before the report
    assert closed.state.status == "estate"
    row = await pool.fetchrow("SELECT event, status FROM debtor_events WHERE account_id = $1", account.account_id)
    assert (row["event"], row["status"]) == ("deceased", "confirmed")
    assert await pool.fetchval("SELECT status FROM accounts WHERE account_id = $1", account.account_id) == "estate"


async def test_without_documents_by_the_deadline_collection_resumes_at_its_dpd(env, run_worker, pool):
    account = make_account(due=await server_today(env))
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=2))
        await CollectionsClient(env.client).signal(
            account.account_id,
            "debtor_event_reported",
            inputs.parse_debtor_event("B1", "bankrupt", "says a petition is filed"),
        )
        await env.sleep(timedelta(days=35))  # the policy waits 30 days for the court papers
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)
        # The papers come late after all: they still close the account for the bankruptcy process.
        await CollectionsClient(env.client).signal(
            account.account_id, "documents_verified", inputs.parse_documents("B1", True)
        )
        closed = await env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id).result()

    assert view.status == "open" and view.verifications == []
    assert closed.state.status == "bankruptcy"
    rows = await pool.fetch("SELECT step_id, dpd, result FROM action_log WHERE account_id = $1", account.account_id)
    results = {f"{r['step_id']}@{r['dpd']}": r["result"] for r in rows}
    assert results["sms_urge@12"] == results["letter_first@10"] == "skipped"
    assert results["sms_severe@30"] == results["call_task@30"] == "done"  # resumed on day 32
    assert (
        await pool.fetchval("SELECT status FROM debtor_events WHERE account_id = $1", account.account_id) == "confirmed"
    )


async def test_documents_that_do_not_confirm_the_report_resume_collection(env, run_worker):
    account = make_account(due=await server_today(env))
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        handle = env.client.get_workflow_handle(account.workflow_id)
        await CollectionsClient(env.client).signal(
            account.account_id,
            "debtor_event_reported",
            inputs.parse_debtor_event("R2", "deceased", "anonymous caller"),
        )
        await CollectionsClient(env.client).signal(
            account.account_id, "documents_verified", inputs.parse_documents("R2", False)
        )
        await CollectionsClient(env.client).signal(
            account.account_id, "documents_verified", inputs.parse_documents("R-unknown", True)
        )
        await env.sleep(timedelta(days=2))
        view = await handle.query(AccountWorkflow.state)
    assert view.status == "open" and view.verifications == []
    assert "sms_reminder@1" in {a.key for a in view.recent_actions}
    assert view.rejected_signals == []
    assert view.waiting_for_their_event == ["documents for report R-unknown"]  # held, not lost: it may overtake
