"""Payment reversals under time skipping: balance restored, a cured account reopened, the ladder resumed."""

from __future__ import annotations

from datetime import timedelta

from client import CollectionsClient
from dunning.account import PaymentReceived, PaymentReversed
from tests.conftest import make_account, server_today
from workflows.account import AccountWorkflow


async def test_a_bounced_partial_payment_restores_the_balance_once(env, run_worker, pool):
    account = make_account(due=await server_today(env), amount_minor=100_000)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        handle = env.client.get_workflow_handle(account.workflow_id)
        now = await env.get_current_time()
        await CollectionsClient(env.client, queue).pay(
            account.account_id, PaymentReceived(payment_id="D1", amount_minor=30_000, paid_at=now)
        )
        bounced = PaymentReversed(payment_id="D1", reason="debit bounced", reversed_at=now)
        await CollectionsClient(env.client, queue).reverse(account.account_id, bounced)
        await CollectionsClient(env.client, queue).reverse(account.account_id, bounced)
        await CollectionsClient(env.client, queue).reverse(
            account.account_id, PaymentReversed(payment_id="NOPE", reason="typo", reversed_at=now)
        )
        await env.sleep(timedelta(hours=1))
        view = await handle.query(AccountWorkflow.state)

    assert (view.outstanding_minor, view.paid_minor) == (100_000, 0)
    assert view.rejected_signals == ["reversal of payment NOPE: no applied payment with this id"]
    rows = await pool.fetch(
        "SELECT payment_id, verdict, restored_minor FROM payment_reversals WHERE account_id = $1 ORDER BY payment_id",
        account.account_id,
    )
    assert [(r["payment_id"], r["verdict"], r["restored_minor"]) for r in rows] == [
        ("D1", "reversed", 30_000),
        ("NOPE", "rejected", 0),
    ]


async def test_a_chargeback_reopens_a_cured_account_where_its_dpd_now_is(env, run_worker, pool):
    account = make_account(due=await server_today(env), amount_minor=50_000)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=2))
        paid_at = await env.get_current_time()
        await CollectionsClient(env.client, queue).pay(
            account.account_id,
            PaymentReceived(payment_id="CARD-1", amount_minor=50_000, paid_at=paid_at),
        )
        cured = await env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id).result()
        assert cured.state.status == "cured"

        await env.sleep(timedelta(days=20))  # 22 dpd when the card issuer takes the money back
        await CollectionsClient(env.client, queue).reverse(
            account.account_id,
            PaymentReversed(
                payment_id="CARD-1", reason="chargeback: fraud dispute", reversed_at=await env.get_current_time()
            ),
        )
        await env.sleep(timedelta(days=10))
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    assert (view.status, view.outstanding_minor) == ("open", 50_000)
    rows = await pool.fetch("SELECT step_id, dpd, result FROM action_log WHERE account_id = $1", account.account_id)
    results = {f"{r['step_id']}@{r['dpd']}": r["result"] for r in rows}
    # Steps that fell due while it was cured: skipped, except the latest of each channel the stage allows.
    assert results["sms_urge@6"] == results["letter_first@10"] == results["sms_urge@12"] == "skipped"
    assert results["sms_firm@18"] == results["call_task@18"] == results["letter_second@20"] == "done"
    # ... and the ladder goes on from there.
    assert results["sms_severe@30"] == results["call_task@30"] == "done"
    account_row = await pool.fetchrow(
        "SELECT status, outstanding_minor, closed_at FROM accounts WHERE account_id = $1", account.account_id
    )
    assert (account_row["status"], account_row["outstanding_minor"], account_row["closed_at"]) == ("open", 50_000, None)
