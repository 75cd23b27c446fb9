"""The account's money in PostgreSQL: payments, reversals, promises and plans."""

from __future__ import annotations

import json

import asyncpg
from temporalio import activity

from activities.step_log import log_skipped
from dunning.ledger import LedgerEntry
from dunning.orders import (
    BalanceRecorded,
    CommitmentRecorded,
    ConcessionRecorded,
    MoneyRecord,
    PaymentRecorded,
    ReversalRecorded,
)
from infra.logging import activity_logger


class PaymentRecords:
    """Records of what was paid, reversed or promised."""

    _pool: asyncpg.Pool

    @activity.defn
    async def record_payment(self, recorded: PaymentRecorded) -> None:
        outcome = recorded.outcome
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                INSERT INTO payments (account_id, payment_id, verdict, reason, amount_minor, applied_minor,
                    overpaid_minor, currency, paid_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (account_id, payment_id) DO UPDATE SET
                    verdict = EXCLUDED.verdict, reason = EXCLUDED.reason, amount_minor = EXCLUDED.amount_minor,
                    applied_minor = EXCLUDED.applied_minor, overpaid_minor = EXCLUDED.overpaid_minor,
                    currency = EXCLUDED.currency, paid_at = EXCLUDED.paid_at, recorded_at = now()
                -- A refused payment id may come again, corrected; an applied one never changes.
                WHERE payments.verdict = 'rejected'
                """,
                recorded.ref.account_id,
                outcome.payment_id,
                outcome.verdict,
                outcome.reason,
                outcome.amount_minor,
                outcome.applied_minor,
                outcome.overpaid_minor,
                recorded.currency,
                recorded.paid_at,
            )
            await _balance_moved(conn, recorded, outcome.entry, outcome.outstanding_after_minor)
        activity_logger().info(
            "payment recorded",
            payment_id=outcome.payment_id,
            verdict=outcome.verdict,
            overpaid_minor=outcome.overpaid_minor,
        )

    @activity.defn
    async def record_reversal(self, recorded: ReversalRecorded) -> None:
        outcome = recorded.outcome
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO payment_reversals (account_id, payment_id, verdict, reason, restored_minor, reversed_at)"
                " VALUES ($1, $2, $3, $4, $5, $6)"
                # A refused reversal (unknown payment id) may come again once the payment has arrived.
                " ON CONFLICT (account_id, payment_id) DO UPDATE SET verdict = EXCLUDED.verdict,"
                " reason = EXCLUDED.reason, restored_minor = EXCLUDED.restored_minor,"
                " reversed_at = EXCLUDED.reversed_at, recorded_at = now()"
                " WHERE payment_reversals.verdict = 'rejected'",
                recorded.ref.account_id,
                outcome.payment_id,
                outcome.verdict,
                outcome.reason,
                outcome.restored_minor,
                recorded.reversed_at,
            )
            await _balance_moved(conn, recorded, outcome.entry, outcome.outstanding_after_minor)
        activity_logger().info(
            "payment reversal recorded",
            payment_id=outcome.payment_id,
            verdict=outcome.verdict,
            account_status=recorded.account_status,
        )

    @activity.defn
    async def record_balance_change(self, recorded: BalanceRecorded) -> None:
        change, outcome = recorded.change, recorded.outcome
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                INSERT INTO balance_changes (account_id, change_id, kind, verdict, reason, refusal, amount_minor,
                    invoice_id, due_date, effective_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                ON CONFLICT (account_id, change_id) DO UPDATE SET
                    kind = EXCLUDED.kind, verdict = EXCLUDED.verdict, reason = EXCLUDED.reason,
                    refusal = EXCLUDED.refusal, amount_minor = EXCLUDED.amount_minor,
                    invoice_id = EXCLUDED.invoice_id, due_date = EXCLUDED.due_date,
                    effective_at = EXCLUDED.effective_at, recorded_at = now()
                -- A refused change id may come again, corrected; an applied one never changes.
                WHERE balance_changes.verdict = 'rejected'
                """,
                recorded.ref.account_id,
                change.change_id,
                change.kind,
                outcome.verdict,
                change.reason,
                outcome.reason,
                change.amount_minor,
                change.invoice_id,
                change.due_date,
                change.effective_at,
            )
            await _balance_moved(conn, recorded, outcome.entry, outcome.outstanding_after_minor)
        activity_logger().info(
            "balance change recorded", change_id=change.change_id, kind=change.kind, verdict=outcome.verdict
        )

    @activity.defn
    async def record_concession(self, recorded: ConcessionRecorded) -> None:
        concession, grant = recorded.concession, recorded.concession.grant
        decision, reversal = concession.decision, concession.reversal
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                INSERT INTO concessions (account_id, concession_id, kind, status, reason, amount_minor, days,
                    base_minor, granted_by, granted_roles, grant_reason, granted_at, approvers, decided_by,
                    decided_as, decided_at, note, reversed_by, reversed_at, reversal_reason)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
                ON CONFLICT (account_id, concession_id) DO UPDATE SET
                    kind = EXCLUDED.kind, status = EXCLUDED.status, reason = EXCLUDED.reason,
                    amount_minor = EXCLUDED.amount_minor, days = EXCLUDED.days, base_minor = EXCLUDED.base_minor,
                    granted_by = EXCLUDED.granted_by, granted_roles = EXCLUDED.granted_roles,
                    grant_reason = EXCLUDED.grant_reason, granted_at = EXCLUDED.granted_at,
                    approvers = EXCLUDED.approvers, decided_by = EXCLUDED.decided_by,
                    decided_as = EXCLUDED.decided_as, decided_at = EXCLUDED.decided_at, note = EXCLUDED.note,
                    reversed_by = EXCLUDED.reversed_by, reversed_at = EXCLUDED.reversed_at,
                    reversal_reason = EXCLUDED.reversal_reason, recorded_at = now()
                """,
                recorded.ref.account_id,
                grant.concession_id,
                grant.kind,
                concession.status,
                concession.reason,
                grant.amount_minor,
                grant.days,
                concession.base_minor,
                grant.granted_by,
                grant.roles,
                grant.reason,
                grant.granted_at,
                concession.approvers,
                decision and (decision.operator or decision.approver),
                decision and decision.approver,
                decision and decision.decided_at,
                decision.note if decision else "",
                reversal and reversal.reversed_by,
                reversal and reversal.reversed_at,
                reversal.reason if reversal else "",
            )
            await _balance_moved(conn, recorded, recorded.entry, recorded.outstanding_minor)
        activity_logger().info(
            "concession recorded", concession_id=grant.concession_id, kind=grant.kind, status=concession.status
        )

    @activity.defn
    async def record_commitment(self, recorded: CommitmentRecorded) -> None:
        instalments = json.dumps(
            [{"amount_minor": i.amount_minor, "due_date": i.due_date.isoformat()} for i in recorded.instalments]
        )
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                INSERT INTO commitments (account_id, commitment_id, kind, status, reason, instalments, total_minor,
                    paid_minor, taken_by, channel, made_at, decided_at, negative_record, failed_debit_fee)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                ON CONFLICT (account_id, commitment_id) DO UPDATE SET
                    status = EXCLUDED.status, paid_minor = EXCLUDED.paid_minor, decided_at = EXCLUDED.decided_at,
                    negative_record = EXCLUDED.negative_record, failed_debit_fee = EXCLUDED.failed_debit_fee
                """,
                recorded.ref.account_id,
                recorded.commitment_id,
                recorded.kind,
                recorded.status,
                recorded.reason,
                instalments,
                sum(i.amount_minor for i in recorded.instalments),
                recorded.paid_minor,
                recorded.taken_by,
                recorded.channel,
                recorded.made_at,
                recorded.decided_at,
                recorded.negative_record,
                recorded.failed_debit_fee,
            )
            await conn.execute(
                "UPDATE accounts SET broken_promises = $2, updated_at = now() WHERE account_id = $1",
                recorded.ref.account_id,
                recorded.broken_promises,
            )
            if recorded.fee is not None:  # the policy posted the broken promise's failed-debit fee
                await conn.execute(
                    "UPDATE commitments SET failed_debit_fee_minor = $3 WHERE account_id = $1 AND commitment_id = $2",
                    recorded.ref.account_id,
                    recorded.commitment_id,
                    recorded.fee.amount_minor,
                )
                await write_entry(conn, recorded.ref.account_id, recorded.fee)
                await conn.execute(
                    "UPDATE accounts SET outstanding_minor = $2, updated_at = now() WHERE account_id = $1",
                    recorded.ref.account_id,
                    recorded.outstanding_minor,
                )
            await log_skipped(
                conn,
                recorded.ref,
                recorded.skipped,
                f"fell due while {recorded.kind} {recorded.commitment_id} was open",
            )
        activity_logger().info(
            "commitment recorded", kind=recorded.kind, commitment_id=recorded.commitment_id, status=recorded.status
        )


async def write_entry(conn: asyncpg.Connection, account_id: str, entry: LedgerEntry) -> None:
    """The audit row of one movement of the balance (a retried activity writes it once)."""
    before, after = entry.before, entry.after
    await conn.execute(
        """
        INSERT INTO ledger_entries (account_id, kind, entry_id, amount_minor, invoices, at,
            principal_before_minor, interest_before_minor, late_fee_before_minor, overpaid_before_minor,
            outstanding_before_minor, principal_after_minor, interest_after_minor, late_fee_after_minor,
            overpaid_after_minor, outstanding_after_minor)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
        ON CONFLICT DO NOTHING
        """,
        account_id,
        entry.kind,
        entry.entry_id,
        entry.amount_minor,
        json.dumps(entry.invoices),
        entry.at,
        before.principal_minor,
        before.interest_minor,
        before.late_fee_minor,
        before.overpaid_minor,
        before.outstanding_minor,
        after.principal_minor,
        after.interest_minor,
        after.late_fee_minor,
        after.overpaid_minor,
        after.outstanding_minor,
    )


async def _balance_moved(
    conn: asyncpg.Connection, recorded: MoneyRecord, entry: LedgerEntry | None, outstanding_minor: int
) -> None:
    """What every change of the balance writes besides its own row: its audit row, the invoices as they stand, the
    account's balance, status and dpd's day (a reopened account is open again), and the steps the ladder skips."""
    account_id = recorded.ref.account_id
    if entry is not None:
        await write_entry(conn, account_id, entry)
    await conn.executemany(
        "INSERT INTO account_invoices (account_id, invoice_id, due_date, billed_minor, open_minor)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, invoice_id) DO UPDATE SET"
        " billed_minor = EXCLUDED.billed_minor, open_minor = EXCLUDED.open_minor, updated_at = now()",
        [(account_id, i.invoice_id, i.due_date, i.billed_minor, i.open_minor) for i in recorded.invoices],
    )
    await conn.execute(
        "UPDATE accounts SET outstanding_minor = $2, status = $3, dpd_from = $4,"
        " closed_at = CASE WHEN $3 = 'open' THEN NULL ELSE closed_at END, updated_at = now()"
        " WHERE account_id = $1",
        account_id,
        outstanding_minor,
        recorded.account_status,
        recorded.dpd_from,
    )
    await log_skipped(conn, recorded.ref, recorded.skipped, recorded.skip_reason)
