"""Reading the contact evidence back: one account's trail, and the compliance report over a date range."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import asyncpg

from dunning.channels import Channel
from dunning.compliance import ContactMade, RulesError, breaches, load_rules, local_stamp
from dunning.outcomes import CONVERSATIONS


async def contacts(pool: asyncpg.Pool, account_id: str) -> list[dict]:
    """Every contact the account attempted, oldest first: when (also in the debtor's local time), what, the verdict
    and why."""
    rows = await pool.fetch(
        "SELECT evaluated_at, local_time, step_id, channel, rule_set, verdict, rule, allowed_at FROM contact_checks"
        " WHERE account_id = $1",
        account_id,
    )
    follow_ups = await pool.fetch(
        "SELECT f.starts_at, f.attempts, f.status, f.rule_set, a.time_zone FROM follow_ups f"
        " JOIN accounts a USING (account_id) WHERE f.account_id = $1",
        account_id,
    )
    checked = [
        {
            "at": r["evaluated_at"],
            "local_time": r["local_time"],
            "channel": r["channel"],
            "step": r["step_id"],
            "verdict": r["verdict"],
            "rule": r["rule"],
            "allowed_at": r["allowed_at"],
            "rule_set": r["rule_set"],
        }
        for r in rows
    ]
    worked = [
        {
            "at": r["starts_at"],
            "local_time": local_stamp(r["starts_at"], r["time_zone"]),
            "channel": "call",
            "step": "follow-up",
            "verdict": r["status"],
            "rule": f"{r['attempts']} attempts that day",
            "allowed_at": None,
            "rule_set": r["rule_set"],
        }
        for r in follow_ups
    ]
    return sorted(checked + worked + await _segments(pool, account_id), key=lambda contact: contact["at"])


async def _segments(pool: asyncpg.Pool, account_id: str) -> list[dict]:
    """The segment the account opened in and each change, with the reason codes, in the trail's shape."""
    rows = await pool.fetch(
        "SELECT s.assigned_at AS at, 'opened' AS event, s.segment, s.segment_reason AS reason,"
        " coalesce(s.experiment || '/', '') || s.arm AS strategy, a.time_zone FROM strategy_assignments s"
        " JOIN accounts a USING (account_id) WHERE s.account_id = $1"
        " UNION ALL SELECT c.changed_at, c.event, c.to_segment, c.reason, 're-assessed', a.time_zone"
        " FROM segment_changes c JOIN accounts a USING (account_id) WHERE c.account_id = $1",
        account_id,
    )
    return [
        {
            "at": r["at"],
            "local_time": local_stamp(r["at"], r["time_zone"]),
            "channel": "segment",
            "step": r["event"],
            "verdict": r["segment"],
            "rule": r["reason"],
            "allowed_at": None,
            "rule_set": r["strategy"],
        }
        for r in rows
    ]


async def trail(pool: asyncpg.Pool, account_id: str) -> list[str]:
    return trail_lines(await contacts(pool, account_id))


def trail_lines(contacts: list[dict]) -> list[str]:
    """`contacts` for a person, one line each."""
    return [
        f"{c['local_time']}  {c['channel']:<11} {c['step']:<28} {c['verdict']:<8} {c['rule']}"
        + (f" -> {c['allowed_at'].isoformat()}" if c["allowed_at"] else "")
        + f"  [{c['rule_set']}]"
        for c in contacts
    ]


async def compliance_report(pool: asyncpg.Pool, first: date, last: date) -> tuple[list[str], list[str]]:
    """`compliance` for a person: one line per debtor, channel and week; and the breaches."""
    weekly, found = await compliance(pool, first, last)
    return weekly_lines(weekly), found


def weekly_lines(weekly: list[dict]) -> list[str]:
    return [f"{c['account_id']}  {c['channel']:<11} week of {c['week_of']}  {c['attempts']} attempts" for c in weekly]


async def compliance(pool: asyncpg.Pool, first: date, last: date) -> tuple[list[dict], list[str]]:
    """(contacts per debtor per channel per 7 days from `first`, breaches) for contacts allowed in [first, last]."""
    since = datetime.combine(first, time(0), tzinfo=UTC)
    until = datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)
    # Contacts the steps made, and the days collectors work each case (a day's attempts count from its start).
    rows = await pool.fetch(
        "SELECT c.account_id, a.time_zone, c.rule_set, c.channel, c.evaluated_at, c.attempts FROM contact_checks c"
        " JOIN accounts a USING (account_id) WHERE c.verdict = 'allowed' AND c.evaluated_at >= $1"
        " AND c.evaluated_at < $2"
        " UNION ALL SELECT f.account_id, a.time_zone, f.rule_set, 'call', f.starts_at, f.attempts FROM follow_ups f"
        " JOIN accounts a USING (account_id) WHERE f.rule_set <> ''"
        # A day stopped once it had begun counts as worked.
        " AND (f.status = 'planned' OR (f.status = 'stopped' AND f.starts_at <= f.planned_at))"
        " AND f.starts_at >= $1 AND f.starts_at < $2 ORDER BY 1, 5",
        since,
        until,
    )
    # Conversations with the debtor: not at a visit, nor with a contact person who answered their phone.
    spoken = await pool.fetch(
        "SELECT e.account_id, LEAST(e.occurred_at, e.settled_at) AS spoken, e.settled_at FROM contact_events e"
        " WHERE e.kind = 'outcome' AND e.code = ANY($1) AND e.source <> 'field_visit' AND e.verdict = 'applied'"
        " AND NOT EXISTS (SELECT 1 FROM contact_points cp WHERE cp.account_id = e.account_id"
        " AND cp.value = e.contact_point AND cp.owner = 'contact')",
        list(CONVERSATIONS),
    )
    conversations: dict[str, list[tuple[datetime, datetime]]] = {}
    for row in spoken:
        conversations.setdefault(row["account_id"], []).append((row["spoken"], row["settled_at"] or row["spoken"]))
    by_account: dict[str, list] = {}
    for row in rows:
        by_account.setdefault(row["account_id"], []).append(row)
    counts: Counter[tuple[str, str, int]] = Counter()
    found: list[str] = []
    for account_id, contacts in by_account.items():
        made = [
            ContactMade(channel=Channel(r["channel"]), at=r["evaluated_at"], attempts=r["attempts"]) for r in contacts
        ]
        for contact in made:
            counts[(account_id, contact.channel.value, (contact.at - since).days // 7)] += contact.attempts
        try:
            rules = load_rules(contacts[0]["rule_set"])
        except RulesError as err:
            found.append(f"{account_id}: {err}")
            continue
        found += [
            f"{account_id}: {breach}"
            for breach in breaches(rules, contacts[0]["time_zone"], made, conversations.get(account_id, []))
        ]
    # Calls reported on contact persons' phones that the rule set did not allow then (the account judged each).
    third_party = await pool.fetch(
        "SELECT e.account_id, e.occurred_at, e.third_party_breach, a.time_zone FROM contact_events e"
        " JOIN accounts a USING (account_id) WHERE e.third_party_breach <> '' AND e.occurred_at >= $1"
        " AND e.occurred_at < $2 ORDER BY e.account_id, e.occurred_at",
        since,
        until,
    )
    found += [
        f"{r['account_id']}: call to a contact person at {local_stamp(r['occurred_at'], r['time_zone'])}:"
        f" {r['third_party_breach']}"
        for r in third_party
    ]
    weekly = [
        {"account_id": account_id, "channel": channel, "week_of": first + timedelta(days=7 * week), "attempts": count}
        for (account_id, channel, week), count in sorted(counts.items())
    ]
    return weekly, found
