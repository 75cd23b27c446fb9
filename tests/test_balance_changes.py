"""Billing's changes of the balance (charges, interest, credit notes, write-downs) and a B2B account's invoices: each
change once by id with its audit row, dpd from the oldest unpaid invoice, payments spread by the policy's order."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from client import CollectionsClient
from dunning.account import BalanceChanged, Invoice, PaymentReceived
from dunning.case import Case
from dunning.ladder import dpd_at
from dunning.ledger import Ledger
from dunning.policy import load_policy
from dunning.state import AccountState
from tests.conftest import make_account, server_today
from workflows.account import AccountWorkflow

SHANGHAI = ZoneInfo("Asia/Shanghai")


def billed(change_id: str, kind: str, amount_minor: int, at: datetime, **more) -> BalanceChanged:
    return BalanceChanged(
        change_id=change_id, kind=kind, amount_minor=amount_minor, reason="billing run", effective_at=at, **more
    )


def invoices(today: date) -> list[Invoice]:
    """Three invoices 40, 20 and 5 days overdue."""
    return [
        Invoice(invoice_id="INV-1", amount_minor=30_000, due_date=today - timedelta(days=40)),
        Invoice(invoice_id="INV-2", amount_minor=50_000, due_date=today - timedelta(days=20)),
        Invoice(invoice_id="INV-3", amount_minor=20_000, due_date=today - timedelta(days=5)),
    ]


# --- the case, pure -------------------------------------------------------------------------------------------


def test_the_ladder_counts_from_the_oldest_unpaid_invoice_and_its_past_rungs_are_skipped_but_the_latest():
    today = date(2026, 3, 16)  # a Monday
    account = make_account(
        due=today - timedelta(days=40),
        account_id="B2B-1",
        policy="b2b_receivables",
        amount_minor=100_000,
        invoices=invoices(today),
    )
    now = datetime.combine(today, time(11), tzinfo=SHANGHAI)
    state = AccountState(ledger=Ledger.opening(100_000, account.invoices), opened_at=now)
    case = Case(account, load_policy("b2b_receivables"), state)
    case.open_at(now)
    assert dpd_at(case.account, now) == 40

    paid = case.apply_payment(PaymentReceived(payment_id="P1", amount_minor=30_000, paid_at=now), now)

    assert case.account.due_date == today - timedelta(days=20) and dpd_at(case.account, now) == 20
    assert case.document.due_date == today - timedelta(days=40)  # billing's document is kept as it came
    # The rungs counted from INV-2's due date are steps of their own; of those already past, only the latest of each
    # channel is still taken (today's e-mail chase, the 15 dpd call, the 15 dpd supervisor task), the rest are skipped.
    suffix = f"~{case.account.due_date:%Y%m%d}"
    assert all(p.key.endswith(suffix) for p in case.plan)
    assert {p.key for p in paid.skipped} >= {f"chase_email_daily@17{suffix}", f"chase_call_week_1@7{suffix}"}
    pending = [p.key for p in case.plan if p.due_at <= now and p.key not in state.done_steps]
    assert sorted(pending) == [
        f"chase_call_escalated@15{suffix}",
        f"chase_email_daily@20{suffix}",
        f"escalate_supervisor@15{suffix}",
    ]


def test_an_account_without_invoices_keeps_its_due_date_and_its_keys():
    account = make_account(due=date(2026, 3, 2), account_id="ONE-1", amount_minor=100_000)
    now = datetime(2026, 3, 10, 11, tzinfo=SHANGHAI)
    case = Case(
        account, load_policy("consumer_loan"), AccountState(ledger=Ledger(principal_minor=100_000), opened_at=now)
    )
    case.apply_payment(PaymentReceived(payment_id="P1", amount_minor=30_000, paid_at=now), now)
    assert case.account is case.document
    assert all("~" not in p.key for p in case.plan)


# --- under time skipping --------------------------------------------------------------------------------------


async def test_a_charge_a_credit_note_and_a_payment_count_once_each_with_their_audit_rows(env, run_worker, pool):
    account = make_account(due=await server_today(env), amount_minor=100_000)
    async with run_worker() as queue:
        collections = CollectionsClient(env.client, queue)
        await collections.open(account)
        handle = env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id)
        await env.sleep(timedelta(days=2))
        now = await env.get_current_time()
        for _ in range(2):  # every resend changes nothing
            await collections.change_balance(account.account_id, billed("CH-1", "charge", 20_000, now))
            await collections.change_balance(account.account_id, billed("CN-1", "credit_note", 5_000, now))
            await collections.pay(
                account.account_id, PaymentReceived(payment_id="P1", amount_minor=15_000, paid_at=now)
            )
        await env.sleep(timedelta(hours=1))
        await collections.change_balance(account.account_id, billed("CN-2", "credit_note", 900_000, now))
        await env.sleep(timedelta(hours=1))
        view = await handle.query(AccountWorkflow.state)

    assert (view.status, view.outstanding_minor, view.paid_minor) == ("open", 100_000, 15_000)
    assert (view.charged_minor, view.credited_minor) == (20_000, 5_000)
    assert view.rejected_signals == [
        "balance change CN-2: a credit note of 900000 is more than the 100000 owed in principal"
    ]
    entries = await pool.fetch(
        "SELECT kind, entry_id, amount_minor, outstanding_before_minor, outstanding_after_minor FROM ledger_entries"
        " WHERE account_id = $1 ORDER BY recorded_at",
        account.account_id,
    )
    assert [tuple(r) for r in entries] == [
        ("charge", "CH-1", 20_000, 100_000, 120_000),
        ("credit_note", "CN-1", 5_000, 120_000, 115_000),
        ("payment", "P1", 15_000, 115_000, 100_000),
    ]
    changes = await pool.fetch(
        "SELECT change_id, verdict, refusal FROM balance_changes WHERE account_id = $1 ORDER BY change_id",
        account.account_id,
    )
    assert [tuple(r) for r in changes] == [
        ("CH-1", "applied", ""),
        ("CN-1", "applied", ""),
        ("CN-2", "rejected", "a credit note of 900000 is more than the 100000 owed in principal"),
    ]
    assert (
        await pool.fetchval("SELECT outstanding_minor FROM accounts WHERE account_id = $1", account.account_id)
        == 100_000
    )


async def test_a_write_down_of_the_rest_closes_the_account_as_cancelled(env, run_worker, pool):
    account = make_account(due=await server_today(env), amount_minor=50_000)
    async with run_worker() as queue:
        collections = CollectionsClient(env.client, queue)
        await collections.open(account)
        now = await env.get_current_time()
        await collections.change_balance(account.account_id, billed("WD-1", "write_down", 50_000, now))
        closed = await env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id).result()
    assert (closed.state.status, closed.state.ledger.outstanding_minor) == ("cancelled", 0)
    row = await pool.fetchrow(
        "SELECT status, outstanding_minor FROM accounts WHERE account_id = $1", account.account_id
    )
    assert tuple(row) == ("cancelled", 0)


async def test_a_b2b_account_counts_dpd_from_its_oldest_unpaid_invoice(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(
        due=today - timedelta(days=40),
        policy="b2b_receivables",
        amount_minor=100_000,
        invoices=invoices(today),
    )
    async with run_worker() as queue:
        collections = CollectionsClient(env.client, queue)
        await collections.open(account)
        handle = env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id)
        await env.sleep(timedelta(hours=1))
        assert (await handle.query(AccountWorkflow.state)).dpd == 40

        # The customer names the newest invoice: it is paid, the oldest still counts.
        now = await env.get_current_time()
        await collections.pay(
            account.account_id,
            PaymentReceived(payment_id="P1", amount_minor=20_000, paid_at=now, invoice_id="INV-3"),
        )
        await env.sleep(timedelta(hours=1))
        view = await handle.query(AccountWorkflow.state)
        assert view.dpd == 40
        assert {i.invoice_id: i.open_minor for i in view.invoices} == {"INV-1": 30_000, "INV-2": 50_000, "INV-3": 0}

        # Without a name, the oldest first: INV-1 paid, and 5,000 of INV-2; dpd now counts from INV-2.
        await collections.pay(account.account_id, PaymentReceived(payment_id="P2", amount_minor=35_000, paid_at=now))
        await env.sleep(timedelta(hours=1))
        view = await handle.query(AccountWorkflow.state)

    assert view.dpd == 20 and view.outstanding_minor == 45_000
    assert {i.invoice_id: i.open_minor for i in view.invoices} == {"INV-1": 0, "INV-2": 45_000, "INV-3": 0}
    rows = await pool.fetch(
        "SELECT invoice_id, open_minor FROM account_invoices WHERE account_id = $1 ORDER BY invoice_id",
        account.account_id,
    )
    assert [tuple(r) for r in rows] == [("INV-1", 0), ("INV-2", 45_000), ("INV-3", 0)]
    assert await pool.fetchval(
        "SELECT dpd_from FROM accounts WHERE account_id = $1", account.account_id
    ) == today - timedelta(days=20)
    entries = await pool.fetch(
        "SELECT entry_id, invoices::text FROM ledger_entries WHERE account_id = $1 ORDER BY recorded_at",
        account.account_id,
    )
    assert [tuple(r) for r in entries] == [
        ("P1", '{"INV-3": -20000}'),
        ("P2", '{"INV-1": -30000, "INV-2": -5000}'),
    ]
    # Rungs counted from INV-2's due date that were already past are skipped but the latest of each channel.
    skipped = await pool.fetchval(
        "SELECT count(*) FROM action_log WHERE account_id = $1 AND result = 'skipped' AND detail LIKE 'past on the%'",
        account.account_id,
    )
    assert skipped > 0
