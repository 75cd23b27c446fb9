"""Activities that keep the account's own rows in PostgreSQL: opened, resumed, closed here; what happens to it in
between in the modules of its concerns (payments, pauses, contact, work orders), by the tables they write."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from temporalio import activity

from activities.contact_records import ContactRecords
from activities.pause_records import PauseRecords
from activities.payment_records import PaymentRecords
from activities.step_log import log_skipped
from activities.work_order_records import WorkOrderRecords
from dunning.orders import AccountClosed, AccountOpened, CollectionResumed
from infra.logging import activity_logger


class AccountActivities(PaymentRecords, PauseRecords, ContactRecords, WorkOrderRecords):
    """Every record-keeping activity of an account, registered by method name (the names in recorded histories)."""

    def __init__(self, pool: asyncpg.Pool, agency_drop_dir: Path) -> None:
        self._pool = pool
        self._agency_drop_dir = agency_drop_dir

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
                account.account_id,
                opened.workflow_id,
                opened.policy_ref,
                opened.policy_digest,
                account.currency,
                account.amount_due_minor,
                account.due_date,
                account.segment,
                account.time_zone,
                account.model_dump_json(),
                opened.opened_at,
                opened.collector_queue,
            )
            await conn.executemany(
                "INSERT INTO contact_points (account_id, value, kind, owner, relation, status)"
                " VALUES ($1, $2, $3, $4, $5, 'valid') ON CONFLICT (account_id, value) DO NOTHING",
                [(account.account_id, p.value, p.kind, p.owner, p.relation) for p in account.contact_points],
            )
            await log_skipped(
                conn,
                opened.ref,
                opened.skipped,
                "already past when the account opened",
            )
        activity_logger().info("account opened", policy=opened.policy_ref, skipped=len(opened.skipped))

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
