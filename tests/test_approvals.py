"""Approvals (domain §9): a step the policy marks as needing approval waits for a named approver, who is reminded
and then escalated past; every decision is recorded and releases or cancels the work order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from client import CollectionsClient, inputs
from dunning.approvals import ApprovalDecision, ApprovalRequest, decision_problem
from tests.conftest import make_account, server_today
from workflows.account import AccountWorkflow

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
REQUEST = ApprovalRequest(
    approval_ref="A1",
    action_key="k",
    step_key="customer_lock@90",
    step_id="customer_lock",
    channel="internal",
    requested_at=NOW,
    chasers=[],
)


def decision(**changes) -> ApprovalDecision:
    return ApprovalDecision(
        **{"approval_ref": "A1", "approved": True, "approver": "owner", "decided_at": NOW, **changes}
    )


def test_only_a_named_approver_decides_once_and_a_rejection_says_why():
    assert decision_problem(["owner"], [REQUEST], [], decision()) == ""
    assert decision_problem(["owner"], [REQUEST], [], decision(approver="intern")) == (
        "'intern' may not decide approvals under this policy (approvers: owner)"
    )
    assert decision_problem(["owner"], [REQUEST], [], decision(approved=False)) == (
        "a rejection needs a note saying why"
    )
    assert decision_problem(["owner"], [], ["A1"], decision()) == "approval A1 was already decided"
    assert decision_problem(["owner"], [], [], decision(approval_ref="A9")) == (
        "no approval A9 is waiting on this account"
    )


async def tasks(pool, account_id: str) -> dict[str, str]:
    rows = await pool.fetch(
        "SELECT a.step_id, t.status FROM internal_tasks t JOIN action_log a USING (action_key) WHERE t.account_id = $1",
        account_id,
    )
    return {r["step_id"]: r["status"] for r in rows}


async def test_the_customer_lock_waits_for_the_owner_who_is_reminded_then_escalated(env, run_worker, pool):
    account = make_account(due=await server_today(env) + timedelta(days=7), policy="b2b_receivables")
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=7 + 90, hours=1))  # the lock is filed at 90 dpd
        pending = await pool.fetchrow(
            "SELECT approval_ref, status, approvers FROM approvals WHERE account_id = $1", account.account_id
        )
        assert (pending["status"], pending["approvers"]) == ("pending", ["owner"])
        assert (await tasks(pool, account.account_id))["customer_lock"] == "awaiting_approval"
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)
        assert [r.step_id for r in view.awaiting_approval] == ["customer_lock"]

        await env.sleep(timedelta(days=9))  # nobody answers: 2 working days, then 5
        assert {"approval_reminder", "approval_escalation"} <= set(await tasks(pool, account.account_id))

        ref = pending["approval_ref"]
        with pytest.raises(inputs.InputError, match="'intern' may not decide approvals"):
            await CollectionsClient(env.client).decide_approval(
                account.account_id, inputs.parse_approval(ref, True, "intern", "")
            )
        answer = await CollectionsClient(env.client).decide_approval(
            account.account_id, inputs.parse_approval(ref, True, "owner", "lock them")
        )
        assert answer == "approved"
        with pytest.raises(inputs.InputError, match="already decided"):
            await CollectionsClient(env.client).decide_approval(
                account.account_id, inputs.parse_approval(ref, False, "owner", "changed my mind")
            )
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    assert view.awaiting_approval == []
    decided = await pool.fetchrow("SELECT status, decided_by, note FROM approvals WHERE approval_ref = $1", ref)
    assert tuple(decided) == ("approved", "owner", "lock them")
    assert (await tasks(pool, account.account_id))["customer_lock"] == "open"
