"""What the accounts did to their debtors since the simulator last looked, read back from PostgreSQL as production
writes it: the action log's steps done (a text is done once Twilio took it, so it reached the handset), and the days
the collectors work each case (a ladder call task's follow-up days, domain §4).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache

import asyncpg

from dunning.policy import Policy, load_policy
from simulation.debtors import AccountToday, Contact, ContactKind

# How a debtor is offered a plan: a text of this template, or the hardship review a collector holds after hearing
# "I cannot pay" (consumer_loan's strategies).
PLAN_OFFER_TEMPLATE = "plan_offer"
PLAN_OFFER_TASK = "hardship_plan_offer"
KIND_OF_CHANNEL: dict[str, ContactKind] = {"sms": "text", "letter": "letter"}

_STEPS_DONE = """
SELECT l.account_id, l.action_key, l.channel, l.step_id, a.policy_ref
FROM action_log l JOIN accounts a USING (account_id)
WHERE l.result = 'done' AND l.taken_at > $1 AND l.taken_at <= $2 AND l.channel IN ('sms', 'letter', 'call', 'internal')
ORDER BY l.account_id, l.taken_at, l.action_key
"""
_FOLLOW_UP_DAYS = "SELECT account_id FROM follow_ups WHERE day = $1 AND status = 'planned'"
# Accounts still owing: open, or on hold (a dispute waits for the creditor's answer).
_OWING = """
SELECT account_id, segment, currency, outstanding_minor, due_date, status = 'on_hold' AS on_hold,
       (SELECT p->>'value' FROM jsonb_array_elements(document->'contact_points') p
        WHERE p->>'kind' = 'mobile' AND coalesce(p->>'owner', 'debtor') = 'debtor' LIMIT 1) AS mobile
FROM accounts WHERE status IN ('open', 'on_hold') ORDER BY account_id
"""


@cache
def _policy(policy_ref: str) -> Policy:
    return load_policy(policy_ref.split("@")[0])


def _contacts_of_step(row: asyncpg.Record) -> list[Contact]:
    """A text, a letter, and a plan offered (by a text, which is a text too, or in the hardship review); calls are
    counted by the day (contacts_since)."""
    action, key = _policy(row["policy_ref"]).action(row["step_id"]), row["action_key"]
    offered = action.template == PLAN_OFFER_TEMPLATE or action.task == PLAN_OFFER_TASK
    kind = KIND_OF_CHANNEL.get(row["channel"])
    return ([Contact("plan_offer", key)] if offered else []) + ([Contact(kind, key)] if kind else [])


async def contacts_since(pool: asyncpg.Pool, since: datetime, until: datetime, today: date) -> dict[str, list[Contact]]:
    """Per account, what reached the debtor in (since, until], in order; all the calls of the day are one contact
    keyed by the day (the collector's outcome for the day)."""
    contacts: dict[str, list[Contact]] = {}
    called: set[str] = set()
    for row in await pool.fetch(_STEPS_DONE, since, until):
        contacts.setdefault(row["account_id"], []).extend(_contacts_of_step(row))
        if row["channel"] == "call":
            called.add(row["account_id"])
    called |= {row["account_id"] for row in await pool.fetch(_FOLLOW_UP_DAYS, today)}
    for account_id in called:
        contacts.setdefault(account_id, []).insert(0, Contact("call", f"call:{today}"))
    return contacts


async def accounts_owing(pool: asyncpg.Pool, today: date) -> list[AccountToday]:
    return [
        AccountToday(
            account_id=row["account_id"],
            segment=row["segment"],
            dpd=(today - row["due_date"]).days,
            owed_minor=row["outstanding_minor"],
            currency=row["currency"],
            on_hold=row["on_hold"],
            mobile=row["mobile"],
        )
        for row in await pool.fetch(_OWING)
    ]
