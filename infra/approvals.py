"""The approvals table read back: the steps waiting for an approver, and the account an approval belongs to."""

from __future__ import annotations

import asyncpg


async def waiting(pool: asyncpg.Pool) -> list[dict]:
    rows = await pool.fetch(
        "SELECT approval_ref, account_id, step_id, approvers, requested_at FROM approvals"
        " WHERE status = 'pending' ORDER BY requested_at"
    )
    return [dict(r) for r in rows]


async def account_of(pool: asyncpg.Pool, approval_ref: str) -> str | None:
    return await pool.fetchval("SELECT account_id FROM approvals WHERE approval_ref = $1", approval_ref)
