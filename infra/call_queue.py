"""The collectors' side of call tasks: a collector takes the next call of their team's queue that may be made now,
and reports how each attempt ended.

A call is either a call task (a ladder stage's, a strategy's reaction, a promise confirmation: rows of `call_tasks`)
or a follow-up day of a ladder call task (`follow_ups`, domain §4). Each is worked on its own day in the debtor's
time zone: the contact guard counted its attempts against that day's caps, so a call left over is not carried into
the next day (the cadence plans the days after it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import get_args
from zoneinfo import ZoneInfo

import asyncpg

# CallScriptsError: what take_next raises when the hints of a call's stage or purpose are missing.
from dunning.call_scripts import CallScripts, CallScriptsError, load_call_scripts  # noqa: F401
from dunning.channels import work_order_ref
from dunning.money import format_amount
from dunning.outcomes import ContactOutcome, OutcomeCode

# The outcomes a call can have: not those of a visit at the door or of an e-mail.
CALL_OUTCOMES: tuple[str, ...] = tuple(
    code for code in get_args(OutcomeCode) if code not in ("not_found", "address_invalid", "invalid_email")
)
# Where each kind of call is kept.
CALL_TABLES = {"call_task": "call_tasks", "follow_up": "follow_ups"}
# A call reference that names no call taken (or, to an operator, another creditor's call: told alike).
NO_CALL = "no call {!r} taken from a collector queue (`calls next` gives the reference)"


def task_ref(action_key: str) -> str:
    return work_order_ref("C", action_key)


def follow_up_ref(task_key: str, day: date) -> str:
    return work_order_ref("C", f"{task_key}@{day.isoformat()}")


def _may_call_now(due: str, day: str, windows: str, filed: str) -> str:
    """Whether a call may be made now ($1: the queue, $2: now, $3: the creditors whose accounts the collector works,
    NULL: every creditor), in the debtor's local time: the account is one of those creditors', with the team and
    open (not closed, not on hold for a disputed debt or a death or bankruptcy report), the call is due, it is its
    day, the debtor's clock is inside one of its attempt windows (none given: any time once due), and nothing since
    stops calls - a cease on calls, an open fraud claim, or a promise or plan made after the call was filed (it holds
    the ladder back; a confirmation filed after the promise is the promise's own)."""
    local = "($2::timestamptz AT TIME ZONE a.time_zone)"
    return f"""
        a.collector_queue = $1 AND a.status = 'open' AND {due} <= $2::timestamptz
        AND ($3::text[] IS NULL OR a.document->>'creditor' = ANY($3))
        AND {day} = {local}::date
        AND (jsonb_array_length({windows}) = 0 OR EXISTS (
            SELECT 1 FROM jsonb_array_elements_text({windows}) AS w(span)
            WHERE {local}::time >= split_part(w.span, '-', 1)::time
              AND {local}::time < split_part(w.span, '-', 2)::time))
        AND NOT EXISTS (SELECT 1 FROM contact_ceases cc WHERE cc.account_id = a.account_id
                        AND 'call' = ANY (cc.channels))
        AND NOT EXISTS (SELECT 1 FROM fraud_claims fc WHERE fc.account_id = a.account_id
                        AND fc.status NOT IN ('rejected', 'lapsed'))
        AND NOT EXISTS (SELECT 1 FROM commitments pc WHERE pc.account_id = a.account_id AND pc.status = 'open'
                        AND pc.made_at > {filed})
    """


# The collector's own book first ($4: the collector; accounts of nobody's book count as theirs), then the earliest.
# SKIP LOCKED: a task another collector is taking this instant is passed over, so two never get the same one.
_NEXT_TASK = f"""
    SELECT t.action_key, t.due_from AS due_at, coalesce(a.collector, $4) = $4 AS own
    FROM accounts a JOIN call_tasks t ON t.account_id = a.account_id
    WHERE t.status = 'open'
      AND {
    _may_call_now("t.due_from", "(t.due_from AT TIME ZONE a.time_zone)::date", "t.attempt_windows", "t.due_from")
}
    ORDER BY coalesce(a.collector, $4) = $4 DESC, t.due_from, t.action_key
    LIMIT 1 FOR UPDATE OF t SKIP LOCKED
"""
_NEXT_FOLLOW_UP = f"""
    SELECT f.account_id, f.day, f.task_key, f.starts_at AS due_at, coalesce(a.collector, $4) = $4 AS own
    FROM accounts a JOIN follow_ups f ON f.account_id = a.account_id JOIN call_tasks t ON t.action_key = f.task_key
    WHERE f.status = 'planned' AND f.assigned_to IS NULL
      AND {_may_call_now("f.starts_at", "f.day", "t.attempt_windows", "f.planned_at")}
    ORDER BY coalesce(a.collector, $4) = $4 DESC, f.starts_at, f.account_id
    LIMIT 1 FOR UPDATE OF f SKIP LOCKED
"""
# What the collector works from: the call, its phone order less any number found invalid since it was filed (as
# collector_worklist shows it) and any contact person's phone the guard took off since, and the account's facts.
_CALL_SHEET = """
    SELECT c.call_ref, c.kind, c.account_id, c.day, c.due_at, c.attempts, c.assigned_to, c.assigned_at,
           t.stage, t.tone, t.purpose, t.third_parties, t.attempt_windows,
           (SELECT coalesce(jsonb_agg(p.phone ORDER BY p.n), '[]'::jsonb)
            FROM jsonb_array_elements(t.phone_order) WITH ORDINALITY AS p(phone, n)
            WHERE NOT p.phone ? 'withheld' AND NOT EXISTS (SELECT 1 FROM contact_points cp
                  WHERE cp.account_id = c.account_id AND cp.value = p.phone->>'number' AND cp.status <> 'valid'))
           AS phone_order,
           a.document->>'debtor_name' AS debtor_name, split_part(a.policy_ref, '@', 1) AS policy,
           coalesce(a.document->>'locale', 'en') AS locale, a.outstanding_minor, a.currency, a.time_zone,
           (SELECT coalesce(jsonb_agg(jsonb_build_object('month', s.month, 'confirm_by', s.confirm_by)
                                      ORDER BY s.month), '[]'::jsonb)
            FROM statements s WHERE s.account_id = c.account_id AND s.confirmed_at IS NULL) AS unconfirmed_statements
    FROM taken_calls c JOIN call_tasks t ON t.action_key = c.task_key JOIN accounts a ON a.account_id = c.account_id
    WHERE c.call_ref = $1
"""


async def take_next(
    pool: asyncpg.Pool,
    queue: str,
    collector: str,
    now: datetime,
    scripts: CallScripts | None = None,
    creditors: list[str] | None = None,
) -> dict | None:
    """Assigns to `collector` the call of `queue` that may be made now, of their own book first (infra/books.py),
    then with the earliest due time, on an account of `creditors` (None: every creditor), and returns what they work
    from (see `_call_sheet`); None when no such call may be made now."""
    scripts = scripts or load_call_scripts()
    async with pool.acquire() as conn, conn.transaction():
        task = await conn.fetchrow(_NEXT_TASK, queue, now, creditors, collector)
        # Both stay locked until this commits: another collector passes over them for that instant.
        follow_up = await conn.fetchrow(_NEXT_FOLLOW_UP, queue, now, creditors, collector)
        if follow_up is not None and (task is None or _first(follow_up) < _first(task)):
            call_ref = follow_up_ref(follow_up["task_key"], follow_up["day"])
            await conn.execute(
                "UPDATE follow_ups SET call_ref = $3, assigned_to = $4, assigned_at = $5"
                " WHERE account_id = $1 AND day = $2",
                follow_up["account_id"],
                follow_up["day"],
                call_ref,
                collector,
                now,
            )
        elif task is not None:
            call_ref = task_ref(task["action_key"])
            await conn.execute(
                "UPDATE call_tasks SET status = 'assigned', call_ref = $2, assigned_to = $3,"
                " assigned_at = $4 WHERE action_key = $1",
                task["action_key"],
                call_ref,
                collector,
                now,
            )
        else:
            return None
        # Inside the transaction: a call whose hints are missing is not handed out half-described.
        return _call_sheet(await conn.fetchrow(_CALL_SHEET, call_ref), scripts)


def _first(call: asyncpg.Record) -> tuple[bool, datetime]:
    """What comes first: the collector's own book, then the earliest due."""
    return (not call["own"], call["due_at"])


def _call_sheet(row: asyncpg.Record, scripts: CallScripts) -> dict:
    phones = json.loads(row["phone_order"])
    for phone in phones:
        # Tasks filed without a contact rule set carry no marks: only the debtor hears of the debt.
        phone.setdefault("may_disclose", phone["owner"] == "debtor")
    due_at: datetime = row["due_at"]
    return {
        "call_ref": row["call_ref"],
        "kind": row["kind"],
        "account_id": row["account_id"],
        "debtor_name": row["debtor_name"],
        "stage": row["stage"],
        "tone": row["tone"],
        "purpose": row["purpose"],
        "third_parties": row["third_parties"],
        "phone_order": phones,
        "attempts_per_day": row["attempts"],
        "attempt_windows": json.loads(row["attempt_windows"]),
        "due_at": due_at.isoformat(),
        "day": (row["day"] or due_at.astimezone(ZoneInfo(row["time_zone"])).date()).isoformat(),
        "time_zone": row["time_zone"],
        "outstanding_minor": row["outstanding_minor"],
        "currency": row["currency"],
        "outstanding": format_amount(row["outstanding_minor"], row["currency"]),
        "locale": row["locale"],
        "script_hints": scripts.for_call(row["policy"], row["stage"], row["purpose"], row["locale"]),
        # B2B: statements the customer has not confirmed, for the day's call to raise (domain §9: e-mail and phone).
        "unconfirmed_statements": json.loads(row["unconfirmed_statements"]),
        "assigned_to": row["assigned_to"],
        "assigned_at": row["assigned_at"].isoformat(),
    }


# --- reporting an attempt ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TakenCall:
    """A call as taken from the queue: what a reported attempt is checked against."""

    call_ref: str
    kind: str
    account_id: str
    attempts: int
    assigned_to: str
    numbers: tuple[str, ...]  # the phone order as filed


async def call_on_file(pool: asyncpg.Pool, call_ref: str) -> TakenCall | None:
    row = await pool.fetchrow(
        "SELECT c.call_ref, c.kind, c.account_id, c.attempts, c.assigned_to, t.phone_order FROM taken_calls c"
        " JOIN call_tasks t ON t.action_key = c.task_key WHERE c.call_ref = $1",
        call_ref,
    )
    if row is None:
        return None
    return TakenCall(
        call_ref=row["call_ref"],
        kind=row["kind"],
        account_id=row["account_id"],
        attempts=row["attempts"],
        assigned_to=row["assigned_to"],
        numbers=tuple(phone["number"] for phone in json.loads(row["phone_order"])),
    )


def attempt_problem(call: TakenCall, outcome: ContactOutcome) -> str:
    """Why this outcome cannot be reported on this call ('' if it can). Never echoes the number."""
    if outcome.code not in CALL_OUTCOMES:
        return f"{outcome.code} is not an outcome of a call; one of: {', '.join(CALL_OUTCOMES)}"
    if outcome.reported_by != call.assigned_to:
        return f"call {call.call_ref} was taken by another collector: they report its attempts"
    if outcome.contact_point not in call.numbers:
        return (
            f"the number is not on the phone order of call {call.call_ref}: report the number dialled, "
            "as the call lists it"
        )
    return ""


async def record_attempt(pool: asyncpg.Pool, call: TakenCall, outcome: ContactOutcome) -> str:
    """Records the attempt and marks the call done; '' when recorded, or already recorded alike (a resend: the
    account is told again and counts it once), else why it was not recorded."""
    table = CALL_TABLES[call.kind]
    async with pool.acquire() as conn, conn.transaction():
        # One report at a time per call, so two cannot both take its last attempt.
        await conn.execute(f"SELECT 1 FROM {table} WHERE call_ref = $1 FOR UPDATE", call.call_ref)
        earlier = await conn.fetchrow(
            "SELECT call_ref, number, code, collector FROM call_attempts WHERE account_id = $1 AND outcome_id = $2",
            call.account_id,
            outcome.outcome_id,
        )
        if earlier is not None:
            if tuple(earlier.values()) == (call.call_ref, outcome.contact_point, outcome.code, outcome.reported_by):
                return ""
            return _id_taken(outcome)
        # The account counts an outcome id once, whoever sent it: a reused id would be dropped there silently.
        if await conn.fetchval(
            "SELECT 1 FROM contact_events WHERE account_id = $1 AND event_id = $2", call.account_id, outcome.outcome_id
        ):
            return _id_taken(outcome)
        made = await conn.fetchval("SELECT count(*) FROM call_attempts WHERE call_ref = $1", call.call_ref)
        if made >= call.attempts:
            return (
                f"call {call.call_ref} allows {call.attempts} attempt(s) that day and {made} were reported: "
                "the contact guard counted no more"
            )
        await conn.execute(
            "INSERT INTO call_attempts (account_id, outcome_id, call_ref, number, code, collector, at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            call.account_id,
            outcome.outcome_id,
            call.call_ref,
            outcome.contact_point,
            outcome.code,
            outcome.reported_by,
            outcome.occurred_at,
        )
        if call.kind == "call_task":
            await conn.execute("UPDATE call_tasks SET status = 'done' WHERE call_ref = $1", call.call_ref)
        else:
            await conn.execute(
                "UPDATE follow_ups SET done_at = coalesce(done_at, $2) WHERE call_ref = $1",
                call.call_ref,
                outcome.occurred_at,
            )
    return ""


def _id_taken(outcome: ContactOutcome) -> str:
    return f"outcome id {outcome.outcome_id!r} is already used on this account: give each attempt an id of its own"
