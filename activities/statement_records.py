"""B2B statements in PostgreSQL (dunning/statements.py): a row when the month's statement went to the customer, brought
up to date when it is escalated unconfirmed and when the customer confirms it. Each write is idempotent on (account,
month), so a retried activity changes nothing."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from dunning.orders import StatementRecorded
from infra.logging import activity_logger


class StatementRecords:
    """The statements the customers were sent, and their confirmations."""

    _pool: asyncpg.Pool

    @activity.defn
    async def record_statement(self, recorded: StatementRecorded) -> None:
        statement = recorded.statement
        async with self._pool.acquire() as conn:
            if recorded.event == "sent":
                await conn.execute(
                    """
                    INSERT INTO statements (account_id, month, sent_at, confirm_by, invoice_by)
                    VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (account_id, month) DO NOTHING
                    """,
                    recorded.ref.account_id,
                    statement.month,
                    statement.sent_at,
                    statement.confirm_by,
                    statement.invoice_by,
                )
            else:  # escalated or confirmed: the row follows the statement as it stands
                await conn.execute(
                    "UPDATE statements SET escalated_at = $3, confirmed_at = $4, confirmed_by = $5,"
                    " confirmed_late = $6, note = coalesce(nullif($7, ''), note) WHERE account_id = $1 AND month = $2",
                    recorded.ref.account_id,
                    statement.month,
                    statement.escalated_at,
                    statement.confirmed_at,
                    statement.confirmed_by or None,
                    statement.confirmed_late if statement.confirmed_at else None,
                    recorded.note,
                )
        activity_logger().info("statement recorded", month=statement.month, statement_event=recorded.event)
