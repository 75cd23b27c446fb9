"""Payments under time skipping: partial, full, duplicate, refused, and money that arrives after closing."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from client import CollectionsClient, inputs
from dunning.account import PaymentReceived, local_datetime
from dunning.state import AccountRun
from tests.conftest import make_account, server_today
from workflows.account import AccountWorkflow


def payment(payment_id: str, amount_minor: int, env_now, currency: str | None = "CNY") -> PaymentReceived:
    return PaymentReceived(payment_id=payment_id, amount_minor=amount_minor, currency=currency, paid_at=env_now)


async def test_partial_then_full_payment_cures_and_duplicates_count_once(env, run_worker, pool):
    account = make_account(due=await server_today(env), amount_minor=250_000)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        handle = env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id)
        await env.sleep(timedelta(days=2))
        now = await env.get_current_time()

        await CollectionsClient(env.client, queue).pay(account.account_id, payment("P1", 100_000, now))
        await CollectionsClient(env.client, queue).pay(account.account_id, payment("P1", 100_000, now))
        await CollectionsClient(env.client, queue).pay(account.account_id, payment("P-usd", 5_000, now, currency="USD"))
        await env.sleep(timedelta(days=5))
        view = await handle.query(AccountWorkflow.state)
        assert view.status == "open" and view.outstanding_minor == 150_000 and view.paid_minor == 100_000
        assert view.rejected_signals == ["payment P-usd: payment is in USD but the account is in CNY"]
        # The ladder went on after the partial payment: the 6 dpd steps were taken.
        assert {"call_task@6", "sms_urge@6"} <= {a.key for a in view.recent_actions}

        await CollectionsClient(env.client, queue).pay(account.account_id, payment("P2", 150_000, now))
        closed: AccountRun = await handle.result()
        assert closed.state.status == "cured" and closed.state.ledger.outstanding_minor == 0

        # A stale billing feed that still lists the account must not restart dunning on it.
        with pytest.raises(inputs.InputError, match="is closed"):
            await CollectionsClient(env.client, queue).open(account)

        steps_when_cured = await pool.fetchval(
            "SELECT count(*) FROM action_log WHERE account_id = $1", account.account_id
        )
        await env.sleep(timedelta(days=30))
        assert (
            await pool.fetchval("SELECT count(*) FROM action_log WHERE account_id = $1", account.account_id)
            == steps_when_cured
        )

    rows = await pool.fetch(
        "SELECT payment_id, verdict, applied_minor FROM payments WHERE account_id = $1 ORDER BY recorded_at",
        account.account_id,
    )
    assert [(r["payment_id"], r["verdict"], r["applied_minor"]) for r in rows] == [
        ("P1", "applied", 100_000),
        ("P-usd", "rejected", 0),
        ("P2", "applied", 150_000),
    ]
    row = await pool.fetchrow(
        "SELECT status, outstanding_minor FROM accounts WHERE account_id = $1", account.account_id
    )
    assert (row["status"], row["outstanding_minor"]) == ("cured", 0)


async def test_payment_after_the_account_closed_is_recorded_as_overpayment(env, run_worker, pool):
    account = make_account(due=await server_today(env), amount_minor=80_000)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        handle = env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id)
        now = await env.get_current_time()
        await CollectionsClient(env.client, queue).pay(account.account_id, payment("FULL", 80_000, now))
        await handle.result()

        await CollectionsClient(env.client, queue).pay(account.account_id, payment("LATE", 12_345, now))
        reopened: AccountRun = await env.client.get_workflow_handle_for(
            AccountWorkflow.run, account.workflow_id
        ).result()

    assert reopened.state.status == "cured"
    assert reopened.state.ledger.overpaid_minor == 12_345
    assert reopened.state.ledger.payment_ids == ["FULL", "LATE"]
    late = await pool.fetchrow(
        "SELECT verdict, overpaid_minor FROM payments WHERE account_id = $1 AND payment_id = 'LATE'", account.account_id
    )
    assert (late["verdict"], late["overpaid_minor"]) == ("applied", 12_345)


async def test_property_fees_accrue_a_daily_late_fee_paid_before_principal(env, run_worker):
    account = make_account(due=await server_today(env), policy="property_fees", amount_minor=200_000)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        handle = env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id)
        # To 12:00 local on the 10th day past due, whatever hour earlier tests left the server clock at.
        noon_of_day_10 = local_datetime(account.due_date + timedelta(days=10), time(12), account.time_zone)
        await env.sleep(noon_of_day_10 - await env.get_current_time())
        # As of its last wake-up (the 10 dpd SMS) the account shows ten days of fees without any payment.
        assert (await handle.query(AccountWorkflow.state)).late_fee_minor == 2_000
        now = await env.get_current_time()
        # 0.1% a day on 2,000.00 for 10 days = 20.00 of fees; this payment covers them and 10.00 of principal.
        await CollectionsClient(env.client, queue).pay(account.account_id, payment("F1", 3_000, now))
        await env.sleep(timedelta(hours=1))
        view = await handle.query(AccountWorkflow.state)
    assert view.late_fee_minor == 0
    assert view.outstanding_minor == 200_000 + 2_000 - 3_000
