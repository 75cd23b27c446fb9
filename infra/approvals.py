"""The approvals table read back: the steps waiting for an approver, and what an approval's decision needs to know."""

from __future__ import annotations

import asyncpg


async def waiting(pool: asyncpg.Pool, creditors: list[str] | None = None) -> list[dict]:
    """The pending approvals of the creditors' accounts (None: every creditor's)."""
    rows = await pool.fetch(
        "SELECT p.approval_ref, p.account_id, p.step_id, p.approvers, p.requested_at FROM approvals p"
        " JOIN accounts a USING (account_id)"
        " WHERE p.status = 'pending' AND ($1::text[] IS NULL OR a.document->>'creditor' = ANY($1))"
        " ORDER BY p.requested_at",
        creditors,
    )
    return [dict(r) for r in rows]


async def to_decide(pool: asyncpg.Pool, approval_ref: str) -> asyncpg.Record | None:
    """The approval's account, its creditor and the approver roles its policy names."""
    return await pool.fetchrow(
        "SELECT p.account_id, p.approvers, a.document->>'creditor' AS creditor FROM approvals p"
        " JOIN accounts a USING (account_id) WHERE p.approval_ref = $1",
        approval_ref,
    )
