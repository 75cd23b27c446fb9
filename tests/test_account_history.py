"""The account history the measures read, as the workflow's own records write it: a part payment, a cure, and a
chargeback that reopens the account, each at its business time."""

from __future__ import annotations

from datetime import timedelta

from client import CollectionsClient
from dunning.account import PaymentReceived, PaymentReversed
from tests.conftest import make_account, server_today
from workflows.account import AccountWorkflow

CLOSE_ENOUGH = timedelta(seconds=5)  # the workflow's clock reads a moment after the test's


async def test_a_cure_and_a_reopening_are_kept_at_their_business_times(env, run_worker, pool):
    account = make_account(due=await server_today(env), amount_minor=50_000)
    async with run_worker() as queue:
        client = CollectionsClient(env.client, queue)
        await client.open(account)
        await env.sleep(timedelta(days=2))
        part = await env.get_current_time()
        await client.pay(account.account_id, PaymentReceived(payment_id="P1", amount_minor=20_000, paid_at=part))
        await env.sleep(timedelta(days=3))
        rest = await env.get_current_time()
        await client.pay(account.account_id, PaymentReceived(payment_id="P2", amount_minor=30_000, paid_at=rest))
        await env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id).result()
        await env.sleep(timedelta(days=20))
        bounced = await env.get_current_time()
        await client.reverse(
            account.account_id, PaymentReversed(payment_id="P2", reason="chargeback", reversed_at=bounced)
        )
        await env.sleep(timedelta(hours=1))

    history = await pool.fetch(
        "SELECT at, status, outstanding_minor FROM account_history WHERE account_id = $1 ORDER BY at, change_id",
        account.account_id,
    )
    opened_at = await pool.fetchval("SELECT opened_at FROM accounts WHERE account_id = $1", account.account_id)
    assert [(r["status"], r["outstanding_minor"]) for r in history] == [
        ("open", 50_000),
        ("open", 30_000),
        ("cured", 0),  # once, when the closing is stamped
        ("open", 30_000),
    ]
    assert history[0]["at"] == opened_at and history[1]["at"] == part and history[3]["at"] == bounced
    assert abs(history[2]["at"] - rest) < CLOSE_ENOUGH
    spells = await pool.fetch(
        "SELECT reopened, ended_as FROM delinquencies WHERE account_id = $1 ORDER BY started_at", account.account_id
    )
    assert [tuple(s) for s in spells] == [(False, "cured"), (True, None)]
