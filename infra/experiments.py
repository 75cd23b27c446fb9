"""An experiment's arms as dunning/comparison.py compares them: each delinquency that started in the period, followed
for the same window from its start whatever its arm, and each arm's promises and attempts in the period."""

from __future__ import annotations

import asyncpg

from dunning.measures import (
    ATTEMPT_SOURCES,
    CONTACT_CHANNELS,
    REGISTERED_DELIVERIES,
    ArmCounts,
    ArmOutcome,
    ArmResults,
    Period,
    attempt_keys,
)
from dunning.reporting import Bands, UnitCosts, load_unit_costs
from infra.collection_effort import ATTEMPTS, COSTED, PLACED_MONEY
from infra.measures import fetch, sliced


async def arm_results(
    pool: asyncpg.Pool,
    period: Period,
    experiment: str,
    currency: str,
    *,
    window_days: int = 30,
    unit_costs: UnitCosts | None = None,
    bands: Bands | None = None,
) -> ArmResults:
    """The accounts of `experiment` (name@version) billed in `currency`, arm by arm."""
    unit_costs = unit_costs or load_unit_costs()
    prices = unit_costs.in_currency(currency)
    sources = list(ATTEMPT_SOURCES)
    outcomes = await fetch(
        pool,
        OUTCOMES.format(sliced=sliced("portfolio"), attempts=ATTEMPTS, costed=COSTED, placed_money=PLACED_MONEY),
        period,
        bands,
        sources,
        list(REGISTERED_DELIVERIES),
        experiment,
        currency,
        window_days,
        list(CONTACT_CHANNELS),
        list(prices),
        list(prices.values()),
    )
    counts = await fetch(
        pool,
        COUNTS.format(sliced=sliced("portfolio"), attempts=ATTEMPTS),
        period,
        bands,
        sources,
        experiment,
        currency,
        attempt_keys("debtor"),
    )
    return ArmResults(
        experiment=experiment,
        currency=currency,
        window_days=window_days,
        outcomes=[ArmOutcome(**r) for r in outcomes],
        counts=[ArmCounts(**r) for r in counts],
    )


# $7 experiment, $8 currency, $9 window days, $10 contact channels, $11 and $12 the unit costs in that currency.
OUTCOMES = """
WITH {sliced}, {attempts}, {costed}, {placed_money},
spells AS (
    SELECT d.account_id, d.started_at, d.ended_at, d.ended_as, sa.arm, s.time_zone,
           (d.started_at AT TIME ZONE s.time_zone)::date AS started_on,
           ((d.started_at AT TIME ZONE s.time_zone)::date + $9::int + 1)::timestamp AT TIME ZONE s.time_zone
               AS window_ends
    FROM delinquencies d JOIN sliced s USING (account_id) JOIN strategy_assignments sa USING (account_id)
    WHERE sa.experiment = $7 AND s.currency = $8
      AND (d.started_at AT TIME ZONE s.time_zone)::date BETWEEN $3 AND $4
),
contacts AS (
    SELECT sp.account_id, sp.started_at, count(*) AS n
    FROM spells sp JOIN action_log l ON l.account_id = sp.account_id
    WHERE l.result = 'done' AND l.channel = ANY($10::text[])
      AND coalesce(l.taken_at, l.due_at) >= sp.started_at AND coalesce(l.taken_at, l.due_at) < sp.window_ends
    GROUP BY 1, 2
),
costs AS (
    SELECT sp.account_id, sp.started_at, sum(p.unit_minor) AS minor
    FROM spells sp JOIN costed c ON c.account_id = sp.account_id
    JOIN unnest($11::text[], $12::bigint[]) AS p(action, unit_minor) ON p.action = c.action
    WHERE c.at >= sp.started_at AND c.at < sp.window_ends
    GROUP BY 1, 2
    UNION ALL
    SELECT sp.account_id, sp.started_at, round(sum(m.amount_minor * m.commission_rate))
    FROM spells sp JOIN placed_money m ON m.account_id = sp.account_id
    WHERE m.at >= sp.started_at AND m.at < sp.window_ends
    GROUP BY 1, 2
),
judged AS (
    SELECT sp.*, coalesce(sp.ended_as = 'cured' AND sp.ended_at < sp.window_ends, false) AS cured FROM spells sp
),
costs_per_spell AS (SELECT account_id, started_at, sum(minor) AS minor FROM costs GROUP BY 1, 2)
SELECT j.arm, j.cured,
       CASE WHEN j.cured THEN (j.ended_at AT TIME ZONE j.time_zone)::date - j.started_on END AS days_to_cure,
       coalesce(c.n, 0) AS contacts, coalesce(k.minor, 0)::bigint AS cost_minor
FROM judged j
LEFT JOIN contacts c USING (account_id, started_at)
LEFT JOIN costs_per_spell k USING (account_id, started_at)
ORDER BY j.arm, j.account_id, j.started_at
"""

# $6 experiment, $7 currency, $8 the attempt outcomes that reached the debtor.
COUNTS = """
WITH {sliced}, {attempts},
arms AS (
    SELECT s.account_id, s.time_zone, sa.arm FROM sliced s JOIN strategy_assignments sa USING (account_id)
    WHERE sa.experiment = $6 AND s.currency = $7
),
tallies AS (
    SELECT r.arm, 1 AS promises_due, (c.status = 'kept')::int AS promises_kept, 0 AS attempts, 0 AS reached_debtor
    FROM commitments c JOIN arms r USING (account_id)
    WHERE c.kind IN ('promise', 'plan') AND c.status IN ('kept', 'kept_in_part', 'broken')
      AND (SELECT max((i->>'due_date')::date) FROM jsonb_array_elements(c.instalments) i) BETWEEN $3 AND $4
    UNION ALL
    SELECT r.arm, 0, 0, 1, (a.outcome = ANY($8::text[]))::int
    FROM attempts a JOIN arms r USING (account_id)
    WHERE (a.at AT TIME ZONE r.time_zone)::date BETWEEN $3 AND $4
)
SELECT arm, sum(promises_due) AS promises_due, sum(promises_kept) AS promises_kept, sum(attempts) AS attempts,
       sum(reached_debtor) AS reached_debtor
FROM tallies
GROUP BY 1
ORDER BY 1
"""
