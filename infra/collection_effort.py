"""What collecting took and what it bought (domain §12), in SQL: promises kept, contact rates, contacts per account
and per cure, the cost of each action, collector queues and agencies. Parameters as in infra/measures.py."""

from __future__ import annotations

import json

import asyncpg

from dunning.measures import (
    ATTEMPT_SOURCES,
    CONTACT_CHANNELS,
    REGISTERED_DELIVERIES,
    ActionCost,
    AgencyPerformance,
    ContactIntensity,
    ContactRate,
    Period,
    PromiseKept,
    QueuePerformance,
    Slice,
    attempt_keys,
)
from dunning.reporting import Bands, UnitCosts, load_unit_costs, unpriced
from infra.measures import fetch, sliced

# Call and visit attempts with their outcome as `kind:code` ($5: the sources whose outcomes are attempts).
ATTEMPTS = """attempts AS (
    SELECT e.account_id, e.occurred_at AS at, e.kind || ':' || e.code AS outcome,
           e.kind = 'visit' OR e.source = 'field_visit' AS visit
    FROM contact_events e
    WHERE e.verdict = 'applied' AND (e.kind = 'visit' OR (e.kind = 'outcome' AND e.source = ANY($5::text[]))))"""

# Every action that costs money, named as reporting/unit_costs.yaml prices it ($6: registered letter deliveries).
COSTED = """costed AS (
    SELECT l.account_id, coalesce(l.taken_at, l.due_at) AS at,
           CASE WHEN l.channel = 'sms' THEN 'text' WHEN l.channel = 'email' THEN 'email'
                WHEN j.delivery = ANY($6::text[]) THEN 'registered_letter' ELSE 'letter' END AS action
    FROM action_log l LEFT JOIN letter_jobs j USING (action_key)
    WHERE l.result = 'done' AND l.channel IN ('sms', 'email', 'letter')
    UNION ALL
    SELECT account_id, at, CASE WHEN visit THEN 'field_visit' ELSE 'call_attempt' END FROM attempts)"""

# Money that came in while an account was placed, with the placement's agency and commission rate.
PLACED_MONEY = """placed_money AS (
    SELECT p.account_id, p.action_key, p.agency_id, p.commission_rate, m.at, m.amount_minor
    FROM agency_placements p JOIN money_in m USING (account_id)
    WHERE p.placement_ref IS NOT NULL AND m.at >= p.placed_at AND (p.ended_at IS NULL OR m.at <= p.ended_at))"""


async def promises_kept(
    pool: asyncpg.Pool, period: Period, by: Slice, *, bands: Bands | None = None
) -> list[PromiseKept]:
    """Promises and plans whose last instalment fell due in the period and that were judged (kept, kept in part,
    broken); those still open, replaced or closed with their account are left out."""
    rows = await fetch(pool, PROMISES.format(sliced=sliced(by)), period, bands)
    return [PromiseKept(**r) for r in rows]


PROMISES = """
WITH {sliced}
SELECT s.slice, c.kind, s.currency, count(*) AS came_due,
       count(*) FILTER (WHERE c.status = 'kept') AS kept,
       count(*) FILTER (WHERE c.status = 'kept_in_part') AS kept_in_part,
       count(*) FILTER (WHERE c.status = 'broken') AS broken,
       sum(c.total_minor) AS due_minor, coalesce(sum(c.total_minor) FILTER (WHERE c.status = 'kept'), 0) AS kept_minor,
       sum(c.paid_minor) AS paid_minor
FROM commitments c JOIN sliced s USING (account_id)
WHERE c.kind IN ('promise', 'plan') AND c.status IN ('kept', 'kept_in_part', 'broken')
  AND (SELECT max((i->>'due_date')::date) FROM jsonb_array_elements(c.instalments) i) BETWEEN $3 AND $4
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""


async def contact_rates(
    pool: asyncpg.Pool, period: Period, by: Slice, *, bands: Bands | None = None
) -> list[ContactRate]:
    """Call and visit attempts in the period; those that reached anyone, and the debtor (right-party contacts)."""
    anyone, debtor = attempt_keys("debtor", "someone_else"), attempt_keys("debtor")
    sql = CONTACT_RATES.format(sliced=sliced(by), attempts=ATTEMPTS)
    rows = await fetch(pool, sql, period, bands, list(ATTEMPT_SOURCES), anyone, debtor)
    return [ContactRate(**r) for r in rows]


CONTACT_RATES = """
WITH {sliced}, {attempts}
SELECT s.slice, count(*) AS attempts, count(*) FILTER (WHERE a.outcome = ANY($6::text[])) AS reached_anyone,
       count(*) FILTER (WHERE a.outcome = ANY($7::text[])) AS reached_debtor
FROM attempts a JOIN sliced s USING (account_id)
WHERE (a.at AT TIME ZONE s.time_zone)::date BETWEEN $3 AND $4
GROUP BY 1
ORDER BY 1
"""


async def contact_intensity(
    pool: asyncpg.Pool, period: Period, by: Slice, *, bands: Bands | None = None
) -> list[ContactIntensity]:
    """Contacts made in the period (steps taken on the debtor's channels), per account delinquent at some time in
    it and per cure in it."""
    rows = await fetch(pool, INTENSITY.format(sliced=sliced(by)), period, bands, list(CONTACT_CHANNELS))
    return [ContactIntensity(**r) for r in rows]


INTENSITY = """
WITH {sliced},
contacts AS (
    SELECT s.slice, count(*) AS contacts
    FROM action_log l JOIN sliced s USING (account_id)
    WHERE l.result = 'done' AND l.channel = ANY($5::text[])
      AND (coalesce(l.taken_at, l.due_at) AT TIME ZONE s.time_zone)::date BETWEEN $3 AND $4
    GROUP BY 1
),
spells AS (
    SELECT s.slice, count(DISTINCT d.account_id) AS accounts,
           count(*) FILTER (WHERE d.ended_as = 'cured' AND (d.ended_at AT TIME ZONE s.time_zone)::date >= $3) AS cures
    FROM delinquencies d JOIN sliced s USING (account_id)
    WHERE (d.started_at AT TIME ZONE s.time_zone)::date <= $4
      AND (d.ended_at IS NULL OR (d.ended_at AT TIME ZONE s.time_zone)::date >= $3)
    GROUP BY 1
)
SELECT slice, coalesce(c.contacts, 0) AS contacts, coalesce(p.accounts, 0) AS accounts, coalesce(p.cures, 0) AS cures
FROM contacts c FULL JOIN spells p USING (slice)
ORDER BY 1
"""


async def action_costs(
    pool: asyncpg.Pool,
    period: Period,
    by: Slice,
    *,
    unit_costs: UnitCosts | None = None,
    bands: Bands | None = None,
) -> list[ActionCost]:
    """What the period's actions cost (texts, e-mails, call attempts, letters, visits at their unit costs, and the
    agencies' commission on what came in while placed), against what was recovered and cured in it."""
    unit_costs = unit_costs or load_unit_costs()
    actions, currencies, prices = zip(*unit_costs.rows(), strict=True)
    sql = COSTS.format(sliced=sliced(by), attempts=ATTEMPTS, costed=COSTED, placed_money=PLACED_MONEY)
    more = (list(ATTEMPT_SOURCES), list(REGISTERED_DELIVERIES), list(actions), list(currencies), list(prices))
    rows = await fetch(pool, sql, period, bands, *more)
    if missing := sorted({r["currency"] for r in rows if r["unpriced"]}):
        raise ValueError(unpriced(missing))
    return [
        ActionCost(**{k: v for k, v in r.items() if k != "unpriced"} | {"actions": json.loads(r["actions"])})
        for r in rows
    ]


COSTS = """
WITH {sliced}, {attempts}, {costed}, {placed_money},
prices AS (SELECT * FROM unnest($7::text[], $8::text[], $9::bigint[]) AS u(action, currency, unit_minor)),
acted AS (
    SELECT s.slice, s.currency, c.action, count(*) AS times, coalesce(sum(p.unit_minor), 0) AS cost_minor,
           count(*) FILTER (WHERE p.unit_minor IS NULL) AS unpriced
    FROM costed c JOIN sliced s USING (account_id)
    LEFT JOIN prices p ON p.action = c.action AND p.currency = s.currency
    WHERE (c.at AT TIME ZONE s.time_zone)::date BETWEEN $3 AND $4
    GROUP BY 1, 2, 3
),
tallies AS (
    SELECT slice, currency, action, times, cost_minor, unpriced, 0 AS commission, 0 AS recovered, 0 AS cures
    FROM acted
    UNION ALL
    SELECT s.slice, s.currency, NULL, 0, 0, 0, round(sum(m.amount_minor * m.commission_rate)), 0, 0
    FROM placed_money m JOIN sliced s USING (account_id)
    WHERE (m.at AT TIME ZONE s.time_zone)::date BETWEEN $3 AND $4
    GROUP BY 1, 2
    UNION ALL
    SELECT s.slice, s.currency, NULL, 0, 0, 0, 0, sum(m.amount_minor), 0
    FROM money_in m JOIN sliced s USING (account_id)
    WHERE (m.at AT TIME ZONE s.time_zone)::date BETWEEN $3 AND $4
    GROUP BY 1, 2
    UNION ALL
    SELECT s.slice, s.currency, NULL, 0, 0, 0, 0, 0, count(*)
    FROM delinquencies d JOIN sliced s USING (account_id)
    WHERE d.ended_as = 'cured' AND (d.ended_at AT TIME ZONE s.time_zone)::date BETWEEN $3 AND $4
    GROUP BY 1, 2
)
SELECT slice, currency, coalesce(jsonb_object_agg(action, times) FILTER (WHERE action IS NOT NULL), '{{}}') AS actions,
       sum(cost_minor)::bigint AS action_cost_minor, sum(commission)::bigint AS commission_minor,
       sum(recovered)::bigint AS recovered_minor, sum(cures)::bigint AS cures, sum(unpriced) > 0 AS unpriced
FROM tallies
GROUP BY 1, 2
ORDER BY 1, 2
"""


async def queue_performance(
    pool: asyncpg.Pool, period: Period, by: Slice, *, bands: Bands | None = None
) -> list[QueuePerformance]:
    """Per collector queue: call tasks due and follow-up days planned in the period (by the task's queue), and the
    attempts, promises and cures of the accounts the queue now works."""
    anyone, debtor = attempt_keys("debtor", "someone_else"), attempt_keys("debtor")
    sql = QUEUES.format(sliced=sliced(by), attempts=ATTEMPTS)
    rows = await fetch(pool, sql, period, bands, list(ATTEMPT_SOURCES), anyone, debtor)
    return [QueuePerformance(**r) for r in rows]


QUEUES = """
WITH {sliced}, {attempts},
tallies AS (
    SELECT s.slice, t.collector_queue AS queue, 1 AS call_tasks, 0 AS follow_up_days, 0 AS days_worked,
           0 AS attempts, 0 AS reached_anyone, 0 AS reached_debtor, 0 AS promises, 0 AS cures
    FROM call_tasks t JOIN sliced s USING (account_id)
    WHERE (t.due_from AT TIME ZONE s.time_zone)::date BETWEEN $3 AND $4
    UNION ALL
    SELECT s.slice, t.collector_queue, 0, 1, (f.done_at IS NOT NULL)::int, 0, 0, 0, 0, 0
    FROM follow_ups f JOIN call_tasks t ON t.action_key = f.task_key JOIN sliced s ON s.account_id = f.account_id
    WHERE f.day BETWEEN $3 AND $4 AND (f.status = 'planned' OR f.done_at IS NOT NULL)
    UNION ALL
    SELECT s.slice, s.collector_queue, 0, 0, 0, 1,
           (a.outcome = ANY($6::text[]))::int, (a.outcome = ANY($7::text[]))::int, 0, 0
    FROM attempts a JOIN sliced s USING (account_id)
    WHERE (a.at AT TIME ZONE s.time_zone)::date BETWEEN $3 AND $4
    UNION ALL
    SELECT s.slice, s.collector_queue, 0, 0, 0, 0, 0, 0, 1, 0
    FROM commitments c JOIN sliced s USING (account_id)
    WHERE c.kind IN ('promise', 'plan') AND c.status <> 'rejected'
      AND (c.made_at AT TIME ZONE s.time_zone)::date BETWEEN $3 AND $4
    UNION ALL
    SELECT s.slice, s.collector_queue, 0, 0, 0, 0, 0, 0, 0, 1
    FROM delinquencies d JOIN sliced s USING (account_id)
    WHERE d.ended_as = 'cured' AND (d.ended_at AT TIME ZONE s.time_zone)::date BETWEEN $3 AND $4
)
SELECT slice, coalesce(nullif(queue, ''), 'no queue') AS queue, sum(call_tasks) AS call_tasks,
       sum(follow_up_days) AS follow_up_days, sum(days_worked) AS days_worked, sum(attempts) AS attempts,
       sum(reached_anyone) AS reached_anyone, sum(reached_debtor) AS reached_debtor, sum(promises) AS promises,
       sum(cures) AS cures
FROM tallies
GROUP BY 1, 2
ORDER BY 1, 2
"""


async def agency_performance(
    pool: asyncpg.Pool, period: Period, by: Slice, *, bands: Bands | None = None
) -> list[AgencyPerformance]:
    """Placements made in the period, per agency: the balance placed, what came in while placed (net of reversals,
    up to now), and the commission on it at each placement's rate."""
    rows = await fetch(pool, AGENCIES.format(sliced=sliced(by), placed_money=PLACED_MONEY), period, bands)
    return [AgencyPerformance(**r) for r in rows]


AGENCIES = """
WITH {sliced}, {placed_money},
placed AS (
    SELECT action_key, sum(amount_minor) AS recovered, round(sum(amount_minor * commission_rate)) AS commission
    FROM placed_money GROUP BY 1
)
SELECT s.slice, p.agency_id AS agency, s.currency, count(*) AS placements, sum(p.placed_minor) AS placed_minor,
       coalesce(sum(r.recovered), 0)::bigint AS recovered_minor,
       coalesce(sum(r.commission), 0)::bigint AS commission_minor
FROM agency_placements p JOIN sliced s USING (account_id) LEFT JOIN placed r USING (action_key)
WHERE p.placement_ref IS NOT NULL AND (p.placed_at AT TIME ZONE s.time_zone)::date BETWEEN $3 AND $4
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""
