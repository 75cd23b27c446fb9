"""Activities that keep the account's own rows in PostgreSQL: opened, paid, closed."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from dunning.contact import CeaseContact
from dunning.disputes import DisputeOpened
from dunning.ladder import PlannedStep
from dunning.orders import (
    AccountClosed, AccountOpened, DisputeRecorded, PaymentRecorded, ReversalRecorded, VerificationRecorded,
    action_key,
)
from infra.logging import activity_logger


class AccountActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn
    async def open_account(self, opened: AccountOpened) -> None:
        account = opened.account
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                INSERT INTO accounts (account_id, workflow_id, policy_ref, policy_digest, currency, amount_due_minor,
                    outstanding_minor, due_date, segment, time_zone, status, document, opened_at, collector_queue)
                VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, 'open', $10, $11, $12)
                ON CONFLICT (account_id) DO UPDATE SET
                    workflow_id = EXCLUDED.workflow_id, policy_ref = EXCLUDED.policy_ref,
                    policy_digest = EXCLUDED.policy_digest, currency = EXCLUDED.currency,
                    amount_due_minor = EXCLUDED.amount_due_minor, outstanding_minor = EXCLUDED.outstanding_minor,
                    due_date = EXCLUDED.due_date, segment = EXCLUDED.segment, time_zone = EXCLUDED.time_zone,
                    status = 'open', document = EXCLUDED.document, opened_at = EXCLUDED.opened_at,
                    collector_queue = EXCLUDED.collector_queue, closed_at = NULL, updated_at = now()
                """,
                account.account_id, opened.workflow_id, opened.policy_ref, opened.policy_digest, account.currency,
                account.amount_due_minor, account.due_date, account.segment, account.time_zone,
                account.model_dump_json(), opened.opened_at, opened.collector_queue,
            )
            await _log_skipped(conn, account.account_id, opened.workflow_id, opened.ladder_life, opened.skipped,
                               "already past when the account opened")
        activity_logger().info("account opened", policy=opened.policy_ref, skipped=len(opened.skipped))

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
                recorded.account_id, outcome.payment_id, outcome.verdict, outcome.reason, outcome.amount_minor,
                outcome.applied_minor, outcome.overpaid_minor, recorded.currency, recorded.paid_at,
            )
            await conn.execute(
                "UPDATE accounts SET outstanding_minor = $2, status = $3, updated_at = now() WHERE account_id = $1",
                recorded.account_id, outcome.outstanding_after_minor, recorded.account_status,
            )
        activity_logger().info("payment recorded", payment_id=outcome.payment_id, verdict=outcome.verdict,
                               overpaid_minor=outcome.overpaid_minor)

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
                recorded.account_id, outcome.payment_id, outcome.verdict, outcome.reason, outcome.restored_minor,
                recorded.reversed_at,
            )
            await conn.execute(
                "UPDATE accounts SET outstanding_minor = $2, status = $3,"
                " closed_at = CASE WHEN $3 = 'open' THEN NULL ELSE closed_at END, updated_at = now()"
                " WHERE account_id = $1",
                recorded.account_id, outcome.outstanding_after_minor, recorded.account_status,
            )
            await _log_skipped(conn, recorded.account_id, recorded.workflow_id, recorded.ladder_life,
                               recorded.skipped, "fell due while the account was closed")
        activity_logger().info("payment reversal recorded", payment_id=outcome.payment_id, verdict=outcome.verdict,
                               account_status=recorded.account_status)

    @activity.defn
    async def record_dispute(self, recorded: DisputeRecorded) -> None:
        event = recorded.event
        async with self._pool.acquire() as conn, conn.transaction():
            if isinstance(event, DisputeOpened):
                await conn.execute(
                    "INSERT INTO disputes (account_id, dispute_id, subject, details, opened_at)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, dispute_id) DO NOTHING",
                    recorded.account_id, event.dispute_id, event.subject, event.details, event.opened_at,
                )
            elif recorded.verdict == "applied":
                await conn.execute(
                    "UPDATE disputes SET outcome = $3, resolved_at = $4 WHERE account_id = $1 AND dispute_id = $2",
                    recorded.account_id, event.dispute_id, event.outcome, event.resolved_at,
                )
            await conn.execute(
                "UPDATE accounts SET collector_queue = $2, status = $3, updated_at = now() WHERE account_id = $1",
                recorded.account_id, recorded.collector_queue, recorded.account_status,
            )
            await _log_skipped(conn, recorded.account_id, recorded.workflow_id, recorded.ladder_life,
                               recorded.skipped, "fell due while a dispute of the debt was open")
        activity_logger().info("dispute recorded", dispute_id=event.dispute_id, verdict=recorded.verdict,
                               collector_queue=recorded.collector_queue)

    @activity.defn
    async def record_verification(self, recorded: VerificationRecorded) -> None:
        report = recorded.report
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO debtor_events (account_id, report_id, event, details, reported_at, review_by, status,"
                " decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (account_id, report_id) DO UPDATE SET status = EXCLUDED.status,"
                " decided_at = EXCLUDED.decided_at",
                recorded.account_id, report.report_id, report.event, report.details, report.reported_at,
                recorded.review_by, recorded.status, recorded.decided_at,
            )
            await conn.execute(
                "UPDATE accounts SET status = $2, updated_at = now() WHERE account_id = $1",
                recorded.account_id, recorded.account_status,
            )
            await _log_skipped(conn, recorded.account_id, recorded.workflow_id, recorded.ladder_life,
                               recorded.skipped, f"fell due while a {report.event} report was verified")
        activity_logger().info("debtor event recorded", report_id=report.report_id, debtor_event=report.event,
                               status=recorded.status)

    @activity.defn
    async def record_cease(self, account_id: str, request: CeaseContact) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO contact_ceases (account_id, request_id, channels, reason, received_at)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, request_id) DO NOTHING",
                account_id, request.request_id, sorted(c.value for c in request.ceased()), request.reason,
                request.received_at,
            )
        activity_logger().info("contact ceased", request_id=request.request_id,
                               channels=sorted(c.value for c in request.ceased()))

    @activity.defn
    async def close_account(self, closed: AccountClosed) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "UPDATE accounts SET status = $2, closed_at = $3, outstanding_minor = $4, updated_at = now()"
                " WHERE account_id = $1",
                closed.account_id, closed.status, closed.closed_at, closed.outstanding_minor,
            )
        activity_logger().info("account closed", status=closed.status)


async def _log_skipped(conn: asyncpg.Connection, account_id: str, workflow_id: str, ladder_life: str,
                       skipped: list[PlannedStep], reason: str) -> None:
    await conn.executemany(
        """
        INSERT INTO action_log (action_key, account_id, workflow_id, step_id, channel, dpd, stage, due_at,
            result, detail)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'skipped', $9)
        ON CONFLICT (action_key) DO NOTHING
        """,
        [(action_key(account_id, ladder_life, p.key), account_id, workflow_id, p.step_id, p.channel, p.dpd, p.stage,
          p.due_at, reason) for p in skipped],
    )
