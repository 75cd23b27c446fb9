"""A small portfolio written by hand, row by row as the activities write them, whose measures are known (tests/
test_measures.py says what each comes to). Everything is in CNY, in Shanghai, at 10:00 local unless said.

  A1  due 02-28, opens 03-01 (dpd 1) owing 1,000; pays it all 03-10: cured
  A2  due 02-28, opens 03-01 owing 500; never pays: rolls 1-29, 30-59 (03-30), 60-89 (04-29), 90-119 (05-29)
  A3  due 01-31, opens 03-01 (dpd 29) owing 2,000; 30-59 on 03-02; pays 500 on 03-20, 60-89 on 04-01; pays the rest
      04-15: cured (placed with agency_b 03-25 at 25 %, settled at the cure)
  A4  due 03-01, opens 03-05 (dpd 4) owing 3,000; pays it all 03-20: cured; the payment bounces 04-05: reopened at
      dpd 35; 60-89 on 04-30, 90-119 on 05-30
  A5  due 03-15, opens 03-16 owing 800; cancelled 04-10 (a dispute)
  A6  due 02-20, opens 02-21 owing 1,200 (before the period); pays 200 on 03-15 while placed with agency_a (20 %)
  A7  b2b, due 04-10, opens 04-03 (dpd -7, current) owing 5,000; 1-29 on 04-11; pays it all 04-20: cured
  A8  due 01-01, opens 01-02, pays it all 02-10: cured before the period, in no measure
Experiment collect@1: A1, A3, A5, A7 champion, A2, A4, A6 gentle (segment high_risk); A8 has no assignment.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

SHANGHAI = ZoneInfo("Asia/Shanghai")
YEAR = 2026


def at(month_day: str, hour: int = 10) -> datetime:
    month, day = (int(part) for part in month_day.split("-"))
    return datetime.combine(date(YEAR, month, day), time(hour), SHANGHAI)


def day(month_day: str) -> date:
    return at(month_day).date()


async def open_account(
    conn: asyncpg.Connection,
    account_id: str,
    due: str,
    opened: str,
    owed: int,
    *,
    policy: str = "consumer_loan@v6",
    queue: str = "",
    creditor: str = "Lender A",
) -> None:
    await conn.execute(
        "INSERT INTO accounts (account_id, workflow_id, policy_ref, policy_digest, currency, amount_due_minor,"
        " outstanding_minor, due_date, segment, time_zone, status, document, opened_at, collector_queue)"
        " VALUES ($1, $2, $3, 'd', 'CNY', $4, $4, $5, 'retail', 'Asia/Shanghai', 'open', $6, $7, $8)",
        account_id,
        f"account-{account_id}",
        policy,
        owed,
        day(due),
        json.dumps({"creditor": creditor}),
        at(opened),
        queue,
    )


async def pay(conn: asyncpg.Connection, account_id: str, payment_id: str, amount: int, paid: str, owed_after: int):
    """As record_payment, then close_account when it cures."""
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
            owed_after,
            "cured" if owed_after == 0 else "open",
        )
    if owed_after == 0:
        await close(conn, account_id, "cured", paid, 0)


async def close(conn: asyncpg.Connection, account_id: str, status: str, closed: str, owed: int) -> None:
    await conn.execute(
        "UPDATE accounts SET status = $2, closed_at = $3, outstanding_minor = $4 WHERE account_id = $1",
        account_id,
        status,
        at(closed),
        owed,
    )


async def reverse(conn: asyncpg.Connection, account_id: str, payment_id: str, restored: int, reversed_on: str):
    """As record_reversal of a cured account's payment: it reopens."""
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO payment_reversals (account_id, payment_id, verdict, reason, restored_minor, reversed_at)"
            " VALUES ($1, $2, 'reversed', 'debit bounced', $3, $4)",
            account_id,
            payment_id,
            restored,
            at(reversed_on),
        )
        await conn.execute(
            "UPDATE accounts SET outstanding_minor = $2, status = 'open', closed_at = NULL WHERE account_id = $1",
            account_id,
            restored,
        )


async def step(conn: asyncpg.Connection, key: str, channel: str, taken: str, stage: str, result: str = "done"):
    account_id = key.split("-")[0].upper()
    await conn.execute(
        "INSERT INTO action_log (action_key, account_id, workflow_id, step_id, channel, dpd, stage, due_at,"
        " taken_at, result) VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $7, $8)",
        key,
        account_id,
        f"account-{account_id}",
        key,
        channel,
        stage,
        at(taken),
        result,
    )


async def letter(conn: asyncpg.Connection, key: str, delivery: str) -> None:
    await conn.execute(
        "INSERT INTO letter_jobs (action_key, account_id, letter_kind, template, locale, delivery, address,"
        " amount_minor, currency) VALUES ($1, $2, 'collection', 't', 'zh', $3, '1 Road', 1, 'CNY')",
        key,
        key.split("-")[0].upper(),
        delivery,
    )


async def event(conn, account_id: str, event_id: str, kind: str, code: str, source: str, on: str, verdict="applied"):
    await conn.execute(
        "INSERT INTO contact_events (account_id, event_id, kind, code, source, occurred_at, verdict)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        account_id,
        event_id,
        kind,
        code,
        source,
        at(on),
        verdict,
    )


async def commitment(conn, account_id: str, commitment_id: str, kind: str, status: str, due: dict[str, int], paid: int):
    """A promise (one instalment) or a plan; `due` maps each instalment's day to its amount."""
    instalments = [{"amount_minor": amount, "due_date": day(d).isoformat()} for d, amount in due.items()]
    await conn.execute(
        "INSERT INTO commitments (account_id, commitment_id, kind, status, instalments, total_minor, paid_minor,"
        " taken_by, made_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'agent7', $8)",
        account_id,
        commitment_id,
        kind,
        status,
        json.dumps(instalments),
        sum(due.values()),
        paid,
        MADE[commitment_id],
    )


MADE = {c: at(d) for c, d in {"P1": "03-06", "P2": "03-10", "PL1": "03-25", "P3": "03-08", "P4": "04-10"}.items()}
MADE |= {"P5": at("03-20"), "P6": at("03-05")}


async def placement(conn, key: str, agency: str, placed: str, owed: int, rate: str, ended: str | None = None):
    await conn.execute(
        "INSERT INTO agency_placements (action_key, account_id, agency_id, placed_minor, currency, commission_rate,"
        " placed_at, recall_at, status, placement_ref, ended_at) VALUES ($1, $2, $3, $4, 'CNY', $5::numeric, $6, $7,"
        " $8, $9, $10)",
        key,
        key.split("-")[0].upper(),
        agency,
        owed,
        rate,
        at(placed),
        at(placed) + timedelta(days=90),
        "settled" if ended else "placed",
        f"P{key}",
        at(ended) if ended else None,
    )


async def build(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await open_account(conn, "A8", "01-01", "01-02", 90_000)
        await pay(conn, "A8", "pay-a8", 90_000, "02-10", 0)
        await open_account(conn, "A6", "02-20", "02-21", 120_000, queue="phone_team_2")
        await step(conn, "a6-sms0", "sms", "02-25", "1-5")
        await open_account(conn, "A1", "02-28", "03-01", 100_000)
        await open_account(conn, "A2", "02-28", "03-01", 50_000, queue="phone_team_1")
        await open_account(conn, "A3", "01-31", "03-01", 200_000, queue="phone_team_1")
        await open_account(conn, "A4", "03-01", "03-05", 300_000)
        await open_account(conn, "A5", "03-15", "03-16", 80_000)
        await open_account(conn, "A7", "04-10", "04-03", 500_000, policy="b2b_receivables@v3", creditor="Seller B")
        await build_money(conn)
        await build_steps(conn)
        await build_contact(conn)
        await build_assignments(conn)


async def build_money(conn: asyncpg.Connection) -> None:
    await pay(conn, "A1", "pay-a1", 100_000, "03-10", 0)
    await step(conn, "a6-agency", "agency", "03-10", "18-29")
    await placement(conn, "a6-agency", "agency_a", "03-10", 120_000, "0.2000")
    await pay(conn, "A6", "pay-a6", 20_000, "03-15", 100_000)
    await pay(conn, "A3", "pay-a3-1", 50_000, "03-20", 150_000)
    await pay(conn, "A4", "pay-a4", 300_000, "03-20", 0)
    await step(conn, "a3-agency", "agency", "03-25", "30-59")
    await placement(conn, "a3-agency", "agency_b", "03-25", 150_000, "0.2500", ended="04-15")
    await reverse(conn, "A4", "pay-a4", 300_000, "04-05")
    await close(conn, "A5", "cancelled", "04-10", 80_000)
    await pay(conn, "A3", "pay-a3-2", 150_000, "04-15", 0)
    await pay(conn, "A7", "pay-a7", 500_000, "04-20", 0)
    # Awaiting approval: never placed, so in no agency's figures.
    await step(conn, "a2-agency", "agency", "05-29", "90+")
    await conn.execute(
        "INSERT INTO agency_placements (action_key, account_id, agency_id, placed_minor, currency, commission_rate,"
        " placed_at, recall_at, status) VALUES ('a2-agency', 'A2', 'agency_a', 50000, 'CNY', 0.2, $1, $1,"
        " 'awaiting_approval')",
        at("05-29"),
    )


async def build_steps(conn: asyncpg.Connection) -> None:
    await step(conn, "a2-sms1", "sms", "03-02", "1-5")
    await step(conn, "a2-call1", "call", "03-06", "6-17")
    await step(conn, "a2-letter1", "letter", "03-11", "6-17")
    await letter(conn, "a2-letter1", "ordinary")
    await step(conn, "a2-email1", "email", "03-12", "6-17")
    await step(conn, "a2-sms2", "sms", "03-13", "6-17", result="rejected")
    await step(conn, "a2-int1", "internal", "03-20", "18-29")
    await step(conn, "a2-call2", "call", "04-29", "60-89")
    await step(conn, "a3-sms1", "sms", "03-03", "30-59")
    await step(conn, "a3-letter1", "letter", "03-15", "30-59")
    await letter(conn, "a3-letter1", "registered")
    await step(conn, "a4-sms1", "sms", "03-06", "1-5", result="skipped")
    await step(conn, "a6-visit", "field_visit", "04-01", "30-59")
    for key, due in (("a2-call1", "03-06"), ("a2-call2", "04-29")):
        await conn.execute(
            "INSERT INTO call_tasks (action_key, account_id, stage, tone, phone_order, attempts_per_day, min_numbers,"
            " due_from, collector_queue) VALUES ($1, 'A2', 's', 't', '[]', 3, 1, $2, 'phone_team_1')",
            key,
            at(due),
        )
    for on, status, done in (("03-07", "planned", True), ("03-08", "planned", False), ("03-09", "withdrawn", False)):
        await conn.execute(
            "INSERT INTO follow_ups (account_id, day, task_key, starts_at, attempts, status, planned_at, done_at)"
            " VALUES ('A2', $1, 'a2-call1', $2, 3, $3, $2, $4)",
            day(on),
            at(on),
            status,
            at(on, 11) if done else None,
        )


async def build_contact(conn: asyncpg.Connection) -> None:
    for event_id, code, source, on in (
        ("O1", "no_answer", "dialer", "03-05"),
        ("O2", "reached", "collector", "03-06"),
        ("O3", "wrong_number", "collector", "03-07"),
        ("O4", "busy", "dialer", "03-08"),
    ):
        await event(conn, "A2", event_id, "outcome", code, source, on)
    await event(conn, "A3", "O5", "outcome", "promised", "collector", "03-10")
    await event(conn, "A3", "O6", "outcome", "says_paid", "sms", "03-11")  # a reply, not an attempt
    await event(conn, "A4", "O7", "outcome", "reached", "collector", "03-12", verdict="rejected: not on file")
    await event(conn, "A4", "U1", "update", "added", "tracing", "03-12")
    await event(conn, "A5", "O8", "outcome", "moved", "collector", "03-20")
    await event(conn, "A6", "O9", "outcome", "no_answer", "dialer", "02-25")  # before the period
    await event(conn, "A6", "V1", "visit", "not_found", "field_visit", "04-02")
    await event(conn, "A6", "V2", "visit", "found", "field_visit", "04-09")
    await commitment(conn, "A2", "P1", "promise", "broken", {"03-20": 20_000}, 0)
    await commitment(conn, "A3", "P2", "promise", "kept", {"03-20": 50_000}, 50_000)
    await commitment(conn, "A3", "PL1", "plan", "kept", {"04-10": 75_000, "04-15": 75_000}, 150_000)
    await commitment(conn, "A6", "P3", "promise", "kept_in_part", {"03-15": 40_000}, 20_000)
    await commitment(conn, "A4", "P4", "promise", "open", {"06-10": 300_000}, 0)  # falls due after the period
    await commitment(conn, "A5", "P5", "promise", "closed", {"04-01": 80_000}, 0)  # never judged
    await commitment(conn, "A1", "P6", "promise", "kept", {"03-10": 100_000}, 100_000)


async def build_assignments(conn: asyncpg.Connection) -> None:
    for account_id, arm in (("A1", "champion"), ("A3", "champion"), ("A5", "champion"), ("A7", "champion")) + tuple(
        (a, "gentle") for a in ("A2", "A4", "A6")
    ):
        await conn.execute(
            "INSERT INTO strategy_assignments (account_id, segmentation, segment, segment_reason, billing_segment,"
            " experiment, arm, policy_ref, assigned_at) VALUES ($1, 'risk@1', $2, 'score=1', 'retail', 'collect@1',"
            " $3, 'p', now())",
            account_id,
            "high_risk" if arm == "gentle" else "low_risk",
            arm,
        )
