"""The concessions table read back: those waiting for an approver, and what a decision needs to know (what was given
in a period is a measure: infra/measures.py)."""

from __future__ import annotations

import asyncpg


async def waiting(pool: asyncpg.Pool, creditors: list[str] | None = None) -> list[dict]:
    """The concessions awaiting an approver on the creditors' accounts (None: every creditor's)."""
    rows = await pool.fetch(
        "SELECT c.account_id, c.concession_id, c.kind, c.amount_minor, c.days, a.currency, c.granted_by, c.approvers,"
        " c.granted_at FROM concessions c JOIN accounts a USING (account_id)"
        " WHERE c.status = 'awaiting_approval' AND ($1::text[] IS NULL OR a.document->>'creditor' = ANY($1))"
        " ORDER BY c.granted_at",
        creditors,
    )
    return [dict(r) for r in rows]


async def to_decide(pool: asyncpg.Pool, account_id: str, concession_id: str) -> asyncpg.Record | None:
    """The concession's creditor and the approver roles it waits for."""
    return await pool.fetchrow(
        "SELECT c.approvers, a.document->>'creditor' AS creditor FROM concessions c JOIN accounts a USING (account_id)"
        " WHERE c.account_id = $1 AND c.concession_id = $2",
        account_id,
        concession_id,
    )
