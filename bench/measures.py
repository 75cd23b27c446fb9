"""The collections measures on a generated portfolio: each account's bucket on each of 90 days (account_days, with
EXPLAIN ANALYZE), then every measure over the same quarter.

    python -m bench.measures [--accounts 2000]

Rows are written as the activities write them, so the history trigger keeps them: openings over four months, a third
paying part, two in five curing, one in twenty-five reopening, with steps, attempts and promises. Target: the 90 days
of buckets of 2,000 accounts in well under a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import uuid
from datetime import date, datetime, time, timedelta
from time import perf_counter
from zoneinfo import ZoneInfo

import asyncpg

from bench.stack import ROOT
from dunning.measures import Period
from infra import collection_effort, db, measures
from infra.experiments import arm_results

SHANGHAI = ZoneInfo("Asia/Shanghai")
QUARTER = Period(first=date(2026, 3, 1), last=date(2026, 5, 29))  # 90 days
CHANNELS = ("sms", "call", "sms", "letter", "email", "call", "field_visit", "sms")
CODES = ("no_answer", "reached", "busy", "promised", "wrong_number")


def at(day: date) -> datetime:
    return datetime.combine(day, time(10), SHANGHAI)


async def generate(pool: asyncpg.Pool, count: int) -> None:
    rng = random.Random(12)
    accounts = []
    for i in range(count):
        due = date(2026, 1, 1) + timedelta(days=rng.randrange(120))
        accounts.append((f"G{i:05d}", due, due + timedelta(days=rng.randrange(1, 30)), rng.randrange(10_000, 600_000)))
    await pool.executemany(
        "INSERT INTO accounts (account_id, workflow_id, policy_ref, policy_digest, currency, amount_due_minor,"
        " outstanding_minor, due_date, segment, time_zone, status, document, opened_at, collector_queue)"
        " VALUES ($1, $1, $2, 'd', 'CNY', $3, $3, $4, 'retail', 'Asia/Shanghai', 'open', $5, $6, $7)",
        [
            (a, f"consumer_loan@v{1 + n % 2}", owed, due, json.dumps({"creditor": "Lender A"}), at(opened), "team")
            for n, (a, due, opened, owed) in enumerate(accounts)
        ],
    )
    await pool.executemany(
        "INSERT INTO strategy_assignments (account_id, segment, segment_reason, billing_segment, experiment, arm,"
        " policy_ref, assigned_at) VALUES ($1, 'low', 'r', 'retail', 'collect@1', $2, 'p', now())",
        [(a, "champion" if n % 2 else "gentle") for n, (a, *_) in enumerate(accounts)],
    )
    async with pool.acquire() as conn:
        for n, (account_id, _, opened, owed) in enumerate(accounts):
            if n % 3 == 0:
                await pay(conn, account_id, "part", owed // 4, opened + timedelta(days=10), owed - owed // 4)
            if n % 5 < 2:
                left = owed - owed // 4 if n % 3 == 0 else owed
                cured = opened + timedelta(days=rng.randrange(12, 60))
                await pay(conn, account_id, "rest", left, cured, 0)
                await conn.execute("UPDATE accounts SET closed_at = $2 WHERE account_id = $1", account_id, at(cured))
                if n % 25 == 0:
                    await reverse(conn, account_id, left, cured + timedelta(days=7))
        await write_steps(conn, accounts, rng)


async def pay(conn: asyncpg.Connection, account_id: str, payment_id: str, amount: int, paid: date, left: int) -> None:
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO payments (account_id, payment_id, verdict, amount_minor, applied_minor, overpaid_minor,"
            " currency, paid_at) VALUES ($1, $2, 'applied', $3, $3, 0, 'CNY', $4)",
            account_id,
            payment_id,
            amount,
            at(paid),
        )
        await conn.execute(
            "UPDATE accounts SET outstanding_minor = $2, status = $3 WHERE account_id = $1",
            account_id,
            left,
            "open" if left else "cured",
        )


async def reverse(conn: asyncpg.Connection, account_id: str, restored: int, reversed_on: date) -> None:
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO payment_reversals (account_id, payment_id, verdict, reason, restored_minor, reversed_at)"
            " VALUES ($1, 'rest', 'reversed', 'bounced', $2, $3)",
            account_id,
            restored,
            at(reversed_on),
        )
        await conn.execute(
            "UPDATE accounts SET outstanding_minor = $2, status = 'open', closed_at = NULL WHERE account_id = $1",
            account_id,
            restored,
        )


async def write_steps(conn: asyncpg.Connection, accounts: list, rng: random.Random) -> None:
    steps, events, promises = [], [], []
    for account_id, _, opened, owed in accounts:
        for k, channel in enumerate(CHANNELS):
            steps.append((f"{account_id}-{k}", account_id, channel, at(opened + timedelta(days=3 * k))))
        for k in range(4):
            code = rng.choice(CODES)
            events.append((account_id, f"O{k}", code, at(opened + timedelta(days=2 + 5 * k))))
        due = json.dumps([{"amount_minor": owed // 2, "due_date": (opened + timedelta(days=20)).isoformat()}])
        promises.append((account_id, rng.choice(("kept", "kept_in_part", "broken")), due, owed // 2, at(opened)))
    await conn.executemany(
        "INSERT INTO action_log (action_key, account_id, workflow_id, step_id, channel, dpd, stage, due_at, taken_at,"
        " result) VALUES ($1, $2, $2, $1, $3, 0, 's', $4, $4, 'done')",
        steps,
    )
    await conn.executemany(
        "INSERT INTO contact_events (account_id, event_id, kind, code, source, occurred_at, verdict)"
        " VALUES ($1, $2, 'outcome', $3, 'collector', $4, 'applied')",
        events,
    )
    await conn.executemany(
        "INSERT INTO commitments (account_id, commitment_id, kind, status, instalments, total_minor, taken_by,"
        " made_at) VALUES ($1, 'P1', 'promise', $2, $3, $4, 'agent', $5)",
        promises,
    )


async def main(count: int) -> None:
    server_url = db.embedded_database_url(ROOT / ".run" / "bench-postgres")
    name = f"collections_bench_{uuid.uuid4().hex[:8]}"
    pool = await db.create_pool(await db.create_database(server_url, name))
    try:
        await db.migrate(pool)
        started = perf_counter()
        await generate(pool, count)
        print(f"{count} accounts generated in {perf_counter() - started:.1f} s")
        await pool.execute("ANALYZE")
        plan = await pool.fetch(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT standing(status, dpd, $1, $2), count(*) FROM account_days($3, $4)"
            " GROUP BY 1",
            ["current", "1-29", "30-59", "60-89", "90-119", "120-179", "180+"],
            [1, 30, 60, 90, 120, 180],
            QUARTER.first,
            QUARTER.last,
        )
        print("\n".join(r[0] for r in plan))
        for label, measure in MEASURES.items():
            started = perf_counter()
            await measure(pool)
            print(f"{label:<22} {1000 * (perf_counter() - started):7.0f} ms")
    finally:
        await pool.close()
        await db.drop_database(server_url, name)


MEASURES = {
    "cure rates": lambda pool: measures.cure_rates(pool, QUARTER, "arm"),
    "roll rates": lambda pool: measures.roll_rates(pool, QUARTER, "policy"),
    "stage migration": lambda pool: measures.roll_rates(pool, QUARTER, "policy", basis="stage"),
    "delinquency": lambda pool: measures.delinquency(pool, QUARTER, "segment"),
    "recovery": lambda pool: measures.recovery(pool, QUARTER, "entry_bucket"),
    "promises kept": lambda pool: collection_effort.promises_kept(pool, QUARTER, "arm"),
    "contact rates": lambda pool: collection_effort.contact_rates(pool, QUARTER, "arm"),
    "contact intensity": lambda pool: collection_effort.contact_intensity(pool, QUARTER, "arm"),
    "action costs": lambda pool: collection_effort.action_costs(pool, QUARTER, "arm"),
    "queues": lambda pool: collection_effort.queue_performance(pool, QUARTER, "portfolio"),
    "agencies": lambda pool: collection_effort.agency_performance(pool, QUARTER, "portfolio"),
    "arm results": lambda pool: arm_results(pool, QUARTER, "collect@1", "CNY"),
}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    asyncio.run(main(parser.parse_args().accounts))
