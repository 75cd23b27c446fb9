"""Hardship and repayment plans by update (domain §6 strategy 4, §11): a validator refuses bad plans at once;
each instalment is followed like a promise, and a missed one breaks the plan and resumes the ladder."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from client import CollectionsClient, inputs
from tests.conftest import make_account, server_today
from tests.test_promises import CALENDAR, actions, sleep_until
from workflows.account import AccountWorkflow


def plan(plan_id: str, *instalments: tuple[object, str]):
    return inputs.parse_plan(plan_id, [f"{day}={amount}" for day, amount in instalments], "CNY", "job_loss", "agent-7")


async def test_a_plan_is_followed_instalment_by_instalment_and_a_missed_one_breaks_it(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(due=today, amount_minor=300_000)
    first, second = today + timedelta(days=10), today + timedelta(days=40)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await sleep_until(env, today + timedelta(days=2), time(12))
        agreed = await CollectionsClient(env.client).agree_plan(
            account.account_id, plan("PLAN1", (first, "1000.00"), (second, "2000.00"))
        )
        await sleep_until(env, first, time(9))
        await CollectionsClient(env.client, queue).pay(account.account_id, inputs.parse_payment("1000.00", "I1", "CNY"))
        await sleep_until(env, second - timedelta(days=3), time(12))
        on_track = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)
        await sleep_until(env, CALENDAR.add_working_days(second, 2) + timedelta(days=1), time(12))
        broken = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    assert [i.due_date for i in agreed.instalments] == [first, second]
    # 38 days in and nothing escalated: the plan held the ladder back.
    assert on_track.commitment.commitment_id == "PLAN1" and on_track.commitment.paid_minor == 100_000
    taken = await actions(pool, account.account_id)
    assert taken["plan_instalment_reminder:PLAN1#1.0"] == (f"{CALENDAR.add_working_days(first, -1)} 10:00", "done")
    assert taken["plan_instalment_reminder:PLAN1#2.0"][1] == "done"
    assert not any(
        key.startswith(("letter_first", "sms_urge", "sms_firm")) and result == "done"
        for key, (at, result) in taken.items()
        if at < f"{second}"
    )
    assert broken.commitment is None and broken.broken_promises == 1
    assert taken["broken_promise_call:plan-PLAN1"][1] == "done"
    assert (
        await pool.fetchval(
            "SELECT status FROM commitments WHERE account_id = $1 AND commitment_id = 'PLAN1'", account.account_id
        )
        == "broken"
    )


async def test_the_validator_refuses_a_plan_that_does_not_clear_the_balance_in_order_within_the_limits(env, run_worker):
    today = await server_today(env)
    account = make_account(due=today, amount_minor=300_000)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        handle = env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id)
        refusals = []
        for bad in (
            plan("SHORT", (today + timedelta(days=5), "1000.00")),
            plan("ORDER", (today + timedelta(days=40), "1500.00"), (today + timedelta(days=10), "1500.00")),
            plan("LATE", (today + timedelta(days=31), "3000.00")),
            plan("LONG", *[(today + timedelta(days=1 + 20 * n), "200.00") for n in range(15)]),
        ):
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(AccountWorkflow.agree_plan, bad)
            refusals.append(refused.value.cause.message)
        with pytest.raises(inputs.InputError, match="plan SHORT refused: instalments add up to 100000"):
            await CollectionsClient(env.client).agree_plan(account.account_id, plan("SHORT", (today, "1000.00")))
        view = await handle.query(AccountWorkflow.state)

    assert refusals == [
        "instalments add up to 100000 but the account owes 300000",
        "instalment dates must be in ascending order, one instalment a day at most",
        f"first instalment {today + timedelta(days=31)} is more than 30 days after agreement",
        "15 instalments, more than the 12 the policy allows",
    ]
    assert view.commitment is None and view.rejected_signals == []  # refused at the door: nothing reached the account
