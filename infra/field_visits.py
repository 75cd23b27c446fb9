"""The field team's side of visit orders: agents take the next order of their queue (as many as it needs go), the
team lead hands the open orders out so each agent's month moves towards its target alike, and agents report."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from dunning.visits import hand_out

# The order as the agents work it: where, why, by when, which addresses never to visit, who goes.
_ORDER_SHEET = """
    SELECT o.visit_ref, o.account_id, o.purpose, o.address, o.reason, o.deadline, o.invalid_addresses,
           o.staff_required, o.agents, a.document->>'debtor_name' AS debtor_name
    FROM field_visit_orders o JOIN accounts a USING (account_id) WHERE o.visit_ref = ANY($1::text[])
    ORDER BY o.deadline, o.created_at
"""
# Open orders of a queue ($1) on accounts of the creditors ($2, NULL: every creditor), nearest deadline first.
_OPEN = """
    SELECT v.visit_ref, v.staff_required FROM field_visit_orders v JOIN accounts va USING (account_id)
    WHERE v.field_queue = $1 AND v.status = 'open' AND ($2::text[] IS NULL OR va.document->>'creditor' = ANY($2))
"""


async def take_next(
    pool: asyncpg.Pool, queue: str, agents: list[str], now: datetime, creditors: list[str] | None = None
) -> dict | None:
    """Assigns to `agents` (the one taking it first) the open order of `queue` with the nearest deadline that they
    are enough to carry out, on an account of `creditors` (None: every creditor); two teams never get the same one.
    None when no such order is open."""
    async with pool.acquire() as conn, conn.transaction():
        ref = await conn.fetchval(
            f"{_OPEN} AND v.staff_required <= $3 ORDER BY v.deadline, v.created_at LIMIT 1 FOR UPDATE OF v SKIP LOCKED",
            queue,
            creditors,
            len(agents),
        )
        if ref is None:
            return None
        await _assign(conn, ref, agents, now)
        return _sheet((await conn.fetch(_ORDER_SHEET, [ref]))[0])


async def most_staff_waiting(pool: asyncpg.Pool, queue: str, creditors: list[str] | None = None) -> int:
    """The most agents any open order of the queue needs (0: none is open): why `take_next` found nothing."""
    return int(await pool.fetchval(f"SELECT coalesce(max(staff_required), 0) FROM ({_OPEN}) o", queue, creditors))


async def dispatch(
    pool: asyncpg.Pool, queue: str, agents: list[str], now: datetime, creditors: list[str] | None = None
) -> list[dict]:
    """Hands every open order of the queue to the agents at work, balancing their month (dunning.visits.hand_out);
    returns the orders handed out."""
    async with pool.acquire() as conn, conn.transaction():
        orders = await conn.fetch(
            f"{_OPEN} ORDER BY v.deadline, v.created_at FOR UPDATE OF v SKIP LOCKED", queue, creditors
        )
        month = dict.fromkeys(agents, 0)
        month.update(
            {m["agent"]: m["handed_out"] for m in await month_of_agents(conn, queue, now) if m["agent"] in month}
        )
        handed = hand_out([(o["visit_ref"], o["staff_required"]) for o in orders], month)
        for ref, team in handed.items():
            await _assign(conn, ref, team, now)
        return [_sheet(row) for row in await conn.fetch(_ORDER_SHEET, list(handed))]


async def month_of_agents(db: asyncpg.Pool | asyncpg.Connection, queue: str, now: datetime) -> list[dict]:
    """Each agent of the queue with visits this month: orders handed to them, visits reported, and the target."""
    rows = await db.fetch(
        """
        SELECT agent, count(*) AS handed_out, count(*) FILTER (WHERE o.status = 'reported') AS reported,
               max(o.monthly_target) AS target
        FROM field_visit_orders o, unnest(o.agents) AS agent
        WHERE o.field_queue = $1 AND o.assigned_at >= date_trunc('month', $2::timestamptz)
        GROUP BY agent ORDER BY agent
        """,
        queue,
        now,
    )
    return [dict(row) for row in rows]


async def _assign(conn: asyncpg.Connection, ref: str, agents: list[str], now: datetime) -> None:
    await conn.execute(
        "UPDATE field_visit_orders SET status = 'assigned', assigned_to = $2, agents = $3, assigned_at = $4"
        " WHERE visit_ref = $1",
        ref,
        agents[0],
        agents,
        now,
    )


def _sheet(row: asyncpg.Record) -> dict:
    order = dict(row)
    order["deadline"] = order["deadline"].isoformat() if order["deadline"] else None
    order["do_not_visit"] = json.loads(order.pop("invalid_addresses"))
    return order


async def visit_on_file(pool: asyncpg.Pool, visit_ref: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT account_id, address, status, agents FROM field_visit_orders WHERE visit_ref = $1", visit_ref
    )
