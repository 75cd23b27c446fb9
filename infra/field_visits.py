"""The field team's side of visit orders: an agent takes the next order of their queue, and reports on it."""

from __future__ import annotations

import json

import asyncpg


async def take_next(pool: asyncpg.Pool, queue: str, agent: str, creditors: list[str] | None = None) -> dict | None:
    """Assigns the open order of `queue` with the nearest deadline, on an account of `creditors` (None: every
    creditor), to `agent` (two agents never get the same one); None when the queue has no such order."""
    row = await pool.fetchrow(
        """
        UPDATE field_visit_orders o SET status = 'assigned', assigned_to = $2, assigned_at = now()
        FROM accounts a
        WHERE o.action_key = (SELECT v.action_key FROM field_visit_orders v JOIN accounts va USING (account_id)
                              WHERE v.field_queue = $1 AND v.status = 'open'
                                AND ($3::text[] IS NULL OR va.document->>'creditor' = ANY($3))
                              ORDER BY v.deadline, v.created_at LIMIT 1 FOR UPDATE OF v SKIP LOCKED)
          AND a.account_id = o.account_id
        RETURNING o.visit_ref, o.account_id, o.purpose, o.address, o.reason, o.deadline, o.invalid_addresses,
                  a.document->>'debtor_name' AS debtor_name
        """,
        queue,
        agent,
        creditors,
    )
    if row is None:
        return None
    order = dict(row)
    order["deadline"] = order["deadline"].isoformat() if order["deadline"] else None
    order["do_not_visit"] = json.loads(order.pop("invalid_addresses"))
    return order


async def visit_on_file(pool: asyncpg.Pool, visit_ref: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT account_id, address, status FROM field_visit_orders WHERE visit_ref = $1", visit_ref
    )
