"""The B2B statements the accounts sent (migrations/036_statements.sql), read back for the receivables desk."""

from __future__ import annotations

import asyncpg


async def listed(pool: asyncpg.Pool, unconfirmed: bool = False, creditors: list[str] | None = None) -> list[dict]:
    """The statements of the creditors' accounts (None: every creditor's), oldest confirm-by day first, each with the
    chase contacts that went out for it (its steps of a chase day: '<month>+<day>' ends their keys)."""
    rows = await pool.fetch(
        "SELECT s.account_id, s.month, s.sent_at, s.confirm_by, s.invoice_by, s.escalated_at, s.confirmed_at,"
        " s.confirmed_by, s.confirmed_late,"
        " (SELECT count(*) FROM action_log l WHERE l.account_id = s.account_id AND l.result = 'done'"
        "  AND l.action_key LIKE '%:' || s.month || '+%') AS chases"
        " FROM statements s JOIN accounts a USING (account_id)"
        " WHERE (NOT $1 OR s.confirmed_at IS NULL) AND ($2::text[] IS NULL OR a.document->>'creditor' = ANY($2))"
        " ORDER BY s.confirm_by, s.account_id",
        unconfirmed,
        creditors,
    )
    return [dict(r) for r in rows]
