"""Whole ladders under time skipping: every action on its dpd, in PostgreSQL, with the right work orders."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import WorkflowHandle

from dunning import ladder
from dunning.account import local_date
from dunning.policy import load_policy
from infra import billing
from tests.conftest import make_account
from workflows.account import AccountWorkflow


async def taken_actions(pool, account_id: str) -> list[tuple[str, int, int, str]]:
    """(step, planned dpd, dpd on the local day it was actually taken, result) in the order taken."""
    rows = await pool.fetch(
        "SELECT a.step_id, a.dpd, a.taken_at, a.result, acc.due_date, acc.time_zone FROM action_log a"
        " JOIN accounts acc USING (account_id) WHERE account_id = $1 AND taken_at IS NOT NULL"
        " ORDER BY taken_at, action_key",
        account_id,
    )
    return [
        (r["step_id"], r["dpd"], (local_date(r["taken_at"], r["time_zone"]) - r["due_date"]).days, r["result"])
        for r in rows
    ]


async def test_consumer_loan_ladder_from_1_to_180_dpd(env, run_worker, pool, twilio):
    account = make_account()
    async with run_worker() as queue:
        await billing.open_account(env.client, queue, account)
        handle: WorkflowHandle = env.client.get_workflow_handle(account.workflow_id)
        await env.sleep(timedelta(days=181))
        view = await handle.query(AccountWorkflow.state)

    policy = load_policy("consumer_loan")
    expected = [(p.step_id, p.dpd) for p in ladder.plan(policy, account)]
    actions = await taken_actions(pool, account.account_id)
    assert [(step, dpd) for step, dpd, _, _ in actions] == expected
    assert all(planned == actual for _, planned, actual, _ in actions), actions
    assert all(result == "done" for *_, result in actions), actions
    # A query sees workflow time as of its last task: the write-off review at 180 dpd.
    assert view.status == "open" and view.dpd == 180 and view.stage == "90+"
    assert view.actions_taken == len(expected)

    # Each channel's work order exists once per step.
    counts = {
        table: await pool.fetchval(f"SELECT count(*) FROM {table} WHERE account_id = $1", account.account_id)
        for table in ("sms_messages", "call_tasks", "letter_jobs", "field_visit_orders", "agency_placements",
                      "internal_tasks")
    }
    assert counts == {"sms_messages": 6, "call_tasks": 6, "letter_jobs": 4, "field_visit_orders": 1,
                      "agency_placements": 1, "internal_tasks": 1}
    sent = [m for m in twilio.messages if m["to"] == account.points("mobile")[0].value]
    assert len(sent) == 6
    assert all("STOP" in m["body"] for m in sent)
    letters = await pool.fetch(
        "SELECT letter_kind, delivery FROM letter_jobs WHERE account_id = $1 ORDER BY created_at", account.account_id
    )
    assert [(r["letter_kind"], r["delivery"]) for r in letters] == [
        ("first_collection", "ordinary"), ("second_collection", "ordinary"), ("final_collection", "registered"),
        ("lawyer", "registered"),
    ]
    history = await handle.fetch_history()
    assert len(history.events) <= 250
