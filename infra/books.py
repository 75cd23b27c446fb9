"""Collectors' own books in PostgreSQL: an account is assigned to a named collector of its queue when it opens or
moves queue, a collector away hands their book to the others, and each collector's day is measured."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from dunning.books import Teams, choose_collector, load_teams

ASSIGN_LOCK = 7_317_001  # one assignment at a time: two accounts opening at once must not both see the same books


async def assign(
    conn: asyncpg.Connection,
    account_id: str,
    reason: str,
    day: date,
    unavailable: frozenset[str] = frozenset(),
    teams: Teams | None = None,
) -> str | None:
    """Assigns the account to a collector of its queue (the smallest book of those who may take it, not away on `day`
    nor in `unavailable`); records it, and returns the collector (None: the account is not on file yet, its queue has
    no team, or nobody may)."""
    teams = teams or load_teams()
    account = await conn.fetchrow(
        "SELECT collector_queue, collector, coalesce(document->>'locale', 'en') AS locale, segment FROM accounts"
        " WHERE account_id = $1",
        account_id,
    )
    team = teams.queues.get(account["collector_queue"]) if account else None
    if account is None or team is None:
        return None
    await conn.execute("SELECT pg_advisory_xact_lock($1)", ASSIGN_LOCK)
    away = {
        row["collector"]
        for row in await conn.fetch(
            "SELECT collector FROM collector_absences WHERE $1 BETWEEN first_day AND last_day", day
        )
    }
    books = dict(
        await conn.fetch(
            "SELECT collector, count(*) FROM accounts WHERE collector_queue = $1 AND status = 'open'"
            " AND collector IS NOT NULL AND account_id <> $2 GROUP BY collector",
            account["collector_queue"],
            account_id,
        )
    )
    chosen = choose_collector(team, account["locale"], account["segment"], books, unavailable | away)
    await conn.execute("UPDATE accounts SET collector = $2 WHERE account_id = $1", account_id, chosen)
    await conn.execute(
        "INSERT INTO collector_assignments (account_id, collector, collector_queue, previous, reason)"
        " VALUES ($1, $2, $3, $4, $5)",
        account_id,
        chosen,
        account["collector_queue"],
        account["collector"],
        reason,
    )
    return chosen


async def away(
    pool: asyncpg.Pool, collector: str, first_day: date, last_day: date, reason: str
) -> list[tuple[str, str | None]]:
    """Records the collector away and hands their open accounts to the others of each queue; returns (account,
    new collector) for each account moved."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO collector_absences (collector, first_day, last_day, reason) VALUES ($1, $2, $3, $4)",
            collector,
            first_day,
            last_day,
            reason,
        )
        accounts = await conn.fetch(
            "SELECT account_id FROM accounts WHERE collector = $1 AND status = 'open' ORDER BY account_id", collector
        )
        return [
            (row["account_id"], await assign(conn, row["account_id"], f"{collector} away: {reason}", first_day))
            for row in accounts
        ]


async def book_size(conn: asyncpg.Connection | asyncpg.Pool, account_id: str) -> int | None:
    """The open accounts of the account's collector (None: the account has none)."""
    return await conn.fetchval(
        "SELECT (SELECT count(*) FROM accounts o WHERE o.collector = a.collector AND o.status = 'open')"
        " FROM accounts a WHERE a.account_id = $1 AND a.collector IS NOT NULL",
        account_id,
    )


async def collectors_day(pool: asyncpg.Pool, queue: str, day: date, now: datetime) -> list[dict]:
    """Each collector of the queue: book size, accounts dialled on `day` (UTC) against the daily target, promises
    taken that day and this month, and kept this month."""
    teams = load_teams()
    team = teams.queues.get(queue)
    if team is None:
        return []
    names = [c.name for c in team.collectors]
    rows = await pool.fetch(
        """
        SELECT c.name,
               (SELECT count(*) FROM accounts a WHERE a.collector = c.name AND a.status = 'open') AS book,
               (SELECT count(DISTINCT account_id) FROM call_attempts t
                 WHERE t.collector = c.name AND t.at::date = $2) AS dialled,
               (SELECT count(*) FROM commitments m
                 WHERE m.taken_by = c.name AND m.made_at::date = $2) AS promised_today,
               (SELECT count(*) FROM commitments m WHERE m.taken_by = c.name
                 AND m.made_at >= date_trunc('month', $3::timestamptz)) AS promised_month,
               (SELECT count(*) FROM commitments m WHERE m.taken_by = c.name AND m.status = 'kept'
                 AND m.made_at >= date_trunc('month', $3::timestamptz)) AS kept_month,
               EXISTS (SELECT 1 FROM collector_absences x WHERE x.collector = c.name
                       AND $2 BETWEEN x.first_day AND x.last_day) AS away
        FROM unnest($1::text[]) AS c(name)
        """,
        names,
        day,
        now,
    )
    return [dict(row) | {"dials_target": teams.daily_dials_target} for row in rows]
