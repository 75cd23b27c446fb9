"""Activities that keep the account's own rows in PostgreSQL: opened, resumed, closed here; what happens to it in
between in the modules of its concerns (payments, pauses, contact, work orders), by the tables they write."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import asyncpg
from temporalio import activity

from activities.bureau_records import BureauRecords
from activities.contact_records import ContactRecords
from activities.pause_records import PauseRecords
from activities.payment_records import PaymentRecords
from activities.statement_records import StatementRecords
from activities.step_log import log_skipped
from activities.work_order_records import WorkOrderRecords
from dunning.account import AccountDocument
from dunning.books import Teams, load_teams
from dunning.orders import AccountClosed, AccountOpened, CollectionResumed, SegmentRecorded
from dunning.state import AccountRun
from dunning.treatment import Treatment
from infra import books
from infra import retention as kept_runs
from infra.logging import activity_logger


class AccountActivities(
    PaymentRecords, PauseRecords, ContactRecords, WorkOrderRecords, BureauRecords, StatementRecords
):
    """Every record-keeping activity of an account, registered by method name (the names in recorded histories)."""

    def __init__(self, pool: asyncpg.Pool, agency_drop_dir: Path, teams: Teams | None = None) -> None:
        self._pool = pool
        self._agency_drop_dir = agency_drop_dir
        self._teams = teams or load_teams()

    @activity.defn
    async def open_account(self, opened: AccountOpened) -> None:
        account = opened.account
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                INSERT INTO accounts (account_id, workflow_id, policy_ref, policy_digest, currency, amount_due_minor,
                    outstanding_minor, due_date, segment, time_zone, status, document, opened_at, collector_queue,
                    retention_class)
                VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, 'open', $10, $11, $12, $13)
                ON CONFLICT (account_id) DO UPDATE SET
                    workflow_id = EXCLUDED.workflow_id, policy_ref = EXCLUDED.policy_ref,
                    policy_digest = EXCLUDED.policy_digest, currency = EXCLUDED.currency,
                    amount_due_minor = EXCLUDED.amount_due_minor, outstanding_minor = EXCLUDED.outstanding_minor,
                    due_date = EXCLUDED.due_date, segment = EXCLUDED.segment, time_zone = EXCLUDED.time_zone,
                    status = 'open', document = EXCLUDED.document, opened_at = EXCLUDED.opened_at,
                    collector_queue = EXCLUDED.collector_queue, closed_at = NULL, updated_at = now(),
                    retention_class = EXCLUDED.retention_class
                """,
                account.account_id,
                opened.workflow_id,
                opened.policy_ref,
                opened.policy_digest,
                account.currency,
                account.amount_due_minor,
                account.due_date,
                opened.treatment.segment if opened.treatment else account.segment,
                account.time_zone,
                account.model_dump_json(),
                opened.opened_at,
                opened.collector_queue,
                opened.retention_class,
            )
            if await conn.fetchval("SELECT collector IS NULL FROM accounts WHERE account_id = $1", account.account_id):
                await books.assign(conn, account.account_id, "opened", opened.opened_at.date(), teams=self._teams)
            await conn.executemany(
                "INSERT INTO contact_points (account_id, value, kind, owner, relation, line_type, status)"
                " VALUES ($1, $2, $3, $4, $5, $6, 'valid') ON CONFLICT (account_id, value) DO NOTHING",
                [
                    (account.account_id, p.value, p.kind, p.owner, p.relation, p.line_type)
                    for p in account.contact_points
                ],
            )
            await conn.executemany(
                "INSERT INTO account_invoices (account_id, invoice_id, due_date, billed_minor, open_minor)"
                " VALUES ($1, $2, $3, $4, $4) ON CONFLICT (account_id, invoice_id) DO NOTHING",
                [(account.account_id, i.invoice_id, i.due_date, i.amount_minor) for i in account.invoices],
            )
            if opened.treatment is not None:
                await _assign_strategy(conn, opened.account, opened.policy_ref, opened.treatment, opened.opened_at)
            await log_skipped(
                conn,
                opened.ref,
                opened.skipped,
                "already past when the account opened",
            )
        activity_logger().info("account opened", policy=opened.policy_ref, skipped=len(opened.skipped))

    @activity.defn
    async def record_segment_change(self, recorded: SegmentRecorded) -> None:
        change = recorded.change
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO segment_changes (account_id, changed_at, event, from_segment, to_segment, reason)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                recorded.ref.account_id,
                change.at,
                change.event,
                change.from_segment,
                change.to_segment,
                change.reason,
            )
            await conn.execute(
                "UPDATE accounts SET segment = $2, updated_at = now() WHERE account_id = $1",
                recorded.ref.account_id,
                change.to_segment,
            )
            await log_skipped(conn, recorded.ref, change.skipped, f"not in the {change.to_segment} variant then")
        activity_logger().info("segment changed", because=change.event, segment=change.to_segment)

    @activity.defn
    async def record_resumption(self, resumed: CollectionResumed) -> None:
        async with self._pool.acquire() as conn:
            await log_skipped(conn, resumed.ref, resumed.skipped, resumed.reason)
        activity_logger().info("collection resumed", skipped=len(resumed.skipped))

    @activity.defn
    async def close_account(self, closed: AccountClosed) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "UPDATE accounts SET status = $2, closed_at = $3, outstanding_minor = $4, updated_at = now()"
                " WHERE account_id = $1",
                closed.ref.account_id,
                closed.status,
                closed.closed_at,
                closed.outstanding_minor,
            )
        activity_logger().info("account closed", status=closed.status)

    @activity.defn
    async def keep_closed_run(self, run: AccountRun) -> None:
        """What a payment or reversal needs to reopen the account after Temporal has dropped the run's history, with
        the day its personal data may be erased."""
        erase_after = await kept_runs.keep(self._pool, run)
        activity_logger().info("closed run kept", erase_after=erase_after and erase_after.isoformat())


async def _assign_strategy(
    conn: asyncpg.Connection, account: AccountDocument, policy_ref: str, treatment: Treatment, at: datetime
) -> None:
    """The pinned strategy, as first assigned: a resent opening keeps the row it wrote."""
    await conn.execute(
        """
        INSERT INTO strategy_assignments (account_id, segmentation, segment, segment_reason, billing_segment,
            experiment, arm, policy_ref, assigned_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (account_id) DO NOTHING
        """,
        account.account_id,
        treatment.segmentation.ref if treatment.segmentation else None,
        treatment.segment,
        treatment.segment_reason,
        treatment.billing_segment,
        treatment.experiment,
        treatment.arm,
        policy_ref,
        at,
    )
