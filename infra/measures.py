"""The portfolio's measures (domain §12) in SQL: cure rates, roll rates, delinquency, recovery and liquidation.

Every query takes a period and a slice. Its first four parameters are always the same: the dpd bucket names and the
first dpd of each bucket after the first (reporting/buckets.yaml), then the period's first and last day. Days are each
account's local days, as its dpd is; history comes from migrations/021 (account_history and the views on it).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from dunning.measures import (
    ConcessionsGiven,
    CureRate,
    CureRates,
    Delinquency,
    Period,
    Recovery,
    RollBasis,
    RollCell,
    RollMatrix,
    Slice,
)
from dunning.reporting import EXITS, Bands, load_bands

SLICES: dict[Slice, str] = {
    "portfolio": "'portfolio'",
    "policy": "a.policy_ref",
    "segment": "coalesce(sa.segment, 'unassigned')",
    "arm": "coalesce(sa.experiment || '/' || sa.arm, sa.arm, 'unassigned')",  # as the Strategy search attribute
    "creditor": "coalesce(a.document->>'creditor', '')",
    "entry_bucket": "e.entry_bucket",
}


def sliced(by: Slice) -> str:
    """The CTE `sliced`: every account with what it is sliced by, its currency, zone, due date and queue."""
    return f"""sliced AS (
        SELECT a.account_id, a.currency, a.time_zone, a.due_date, a.collector_queue, {SLICES[by]} AS slice
        FROM accounts a
        LEFT JOIN strategy_assignments sa USING (account_id)
        CROSS JOIN LATERAL (SELECT dpd_bucket((a.opened_at AT TIME ZONE a.time_zone)::date - a.due_date,
                                              $1::text[], $2::int[]) AS entry_bucket) e)"""


async def fetch(pool: asyncpg.Pool, sql: str, period: Period, bands: Bands | None, *more: Any) -> list[asyncpg.Record]:
    bands = bands or load_bands()
    return await pool.fetch(sql, bands.bucket_names(), bands.bucket_starts(), period.first, period.last, *more)


async def cure_rates(
    pool: asyncpg.Pool, period: Period, by: Slice, *, window_days: int = 30, bands: Bands | None = None
) -> CureRates:
    """Of the accounts that entered each dpd bucket (and each amount band) in the period, those cured within
    `window_days` of entering, by count and by the balance owed on entering."""
    bands = bands or load_bands()
    band_rows = bands.band_rows()
    columns = [[row[i] for row in band_rows] for i in range(3)]  # currencies, names, first amounts
    rows = await fetch(pool, CURE_RATES.format(sliced=sliced(by)), period, bands, window_days, *columns)
    by_bucket, by_amount = [], []
    for r in rows:
        rate = CureRate(**{k: v for k, v in r.items() if k != "by_amount"})
        (by_amount if r["by_amount"] else by_bucket).append(rate)
    return CureRates(window_days=window_days, by_bucket=by_bucket, by_amount_band=by_amount)


CURE_RATES = """
WITH {sliced},
entries AS (
    -- the bucket a delinquency starts in (an opening or a reopening)
    SELECT d.account_id, d.started_at AS entered_at, d.ended_at, d.ended_as,
           dpd_bucket((d.started_at AT TIME ZONE s.time_zone)::date - s.due_date, $1, $2) AS bucket
    FROM delinquencies d JOIN sliced s USING (account_id)
    UNION ALL
    -- every later bucket it reaches while still open, as the local day of the bucket's first dpd begins
    SELECT d.account_id, b.starts_at, d.ended_at, d.ended_as, b.bucket
    FROM delinquencies d JOIN sliced s USING (account_id)
    CROSS JOIN LATERAL (SELECT u.name AS bucket,
                               (s.due_date + u.first_dpd)::timestamp AT TIME ZONE s.time_zone AS starts_at
                        FROM unnest(($1::text[])[2:], $2::int[]) AS u(name, first_dpd)) b
    WHERE b.starts_at > d.started_at AND (d.ended_at IS NULL OR b.starts_at < d.ended_at)
),
facts AS (
    SELECT s.slice, s.currency, e.bucket,
           (SELECT h.outstanding_minor FROM account_history h WHERE h.account_id = e.account_id AND h.at <= e.entered_at
            ORDER BY h.at DESC, h.change_id DESC LIMIT 1) AS owed_minor,
           coalesce(e.ended_as = 'cured' AND {ended} <= {entered} + $5::int, false) AS cured
    FROM entries e JOIN sliced s USING (account_id)
    WHERE {entered} BETWEEN $3 AND $4
),
banded AS (
    SELECT f.*, coalesce(b.name, 'unbanded') AS amount_band, coalesce(b.from_minor, -1) AS band_from
    FROM facts f
    LEFT JOIN LATERAL (SELECT u.name, u.from_minor FROM unnest($6::text[], $7::text[], $8::bigint[])
                       AS u(currency, name, from_minor)
                       WHERE u.currency = f.currency AND u.from_minor <= f.owed_minor
                       ORDER BY u.from_minor DESC LIMIT 1) b ON true
)
SELECT GROUPING(bucket) = 1 AS by_amount, slice, currency, coalesce(bucket, amount_band) AS band,
       count(*) AS entered, count(*) FILTER (WHERE cured) AS cured,
       sum(owed_minor) AS entered_minor, coalesce(sum(owed_minor) FILTER (WHERE cured), 0) AS cured_minor
FROM banded
GROUP BY GROUPING SETS ((slice, currency, bucket), (slice, currency, amount_band))
ORDER BY 1, 2, 3, array_position($1, bucket), min(band_from)
""".replace("{entered}", "(e.entered_at AT TIME ZONE s.time_zone)::date").replace(
    "{ended}", "(e.ended_at AT TIME ZONE s.time_zone)::date"
)


async def roll_rates(
    pool: asyncpg.Pool, period: Period, by: Slice, *, basis: RollBasis = "dpd", bands: Bands | None = None
) -> RollMatrix:
    """Where the accounts open at the end of each month stood at the end of the next (a bucket, cured or closed),
    for the months whose next month also ends in the period. By stage: the stage of the last step logged."""
    exits = list(EXITS)
    sql = ROLL_RATES.format(sliced=sliced(by), standing=STANDING[basis], order=ORDER[basis])
    rows = await fetch(pool, sql, period, bands, exits)
    return RollMatrix(basis=basis, cells=[RollCell(**r) for r in rows])


STANDING: dict[RollBasis, str] = {
    "dpd": "standing(d.status, d.dpd, $1, $2)",
    "stage": """CASE WHEN d.status <> 'open' THEN standing(d.status, d.dpd, $1, $2) ELSE coalesce(
        (SELECT l.stage FROM action_log l
         WHERE l.account_id = d.account_id AND l.due_at < (d.day + 1)::timestamp AT TIME ZONE s.time_zone
         ORDER BY l.due_at DESC LIMIT 1), 'no step yet') END""",
}

# Buckets in the file's order then the exits; stages by name (they differ from policy to policy), then the exits.
ORDER: dict[RollBasis, str] = {
    "dpd": "array_position($1, m.from_standing), array_position($1 || $5::text[], m.to_standing)",
    "stage": "m.from_standing, array_position($5::text[], m.to_standing) NULLS FIRST, m.to_standing",
}

ROLL_RATES = """
WITH {sliced},
months AS (
    SELECT (m + interval '1 month' - interval '1 day')::date AS month_end,
           (m + interval '2 month' - interval '1 day')::date AS next_end
    FROM generate_series(date_trunc('month', $3::date), $4::date, interval '1 month') AS m
),
pairs AS (SELECT * FROM months WHERE month_end >= $3 AND next_end <= $4),
-- From the first month end on (an argument without a subquery, so the function is planned inline).
states AS (
    SELECT d.account_id, d.day, d.status, d.outstanding_minor, {standing} AS standing
    FROM account_days((date_trunc('month', $3::date) + interval '1 month - 1 day')::date, $4) d
    JOIN sliced s USING (account_id)
    WHERE d.day IN (SELECT month_end FROM pairs UNION SELECT next_end FROM pairs)
),
moves AS (
    SELECT p.month_end, st.account_id,
           bool_or(st.day = p.month_end AND st.status = 'open') AS was_open,
           max(st.standing) FILTER (WHERE st.day = p.month_end) AS from_standing,
           max(st.outstanding_minor) FILTER (WHERE st.day = p.month_end) AS balance_minor,
           max(st.standing) FILTER (WHERE st.day = p.next_end) AS to_standing
    FROM pairs p JOIN states st ON st.day IN (p.month_end, p.next_end)
    GROUP BY 1, 2
)
SELECT s.slice, s.currency, m.month_end, m.from_standing AS from_bucket, m.to_standing AS to_bucket,
       count(*) AS accounts, sum(m.balance_minor) AS balance_minor
FROM moves m JOIN sliced s USING (account_id)
WHERE m.was_open
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 2, 3, {order}
"""


async def delinquency(
    pool: asyncpg.Pool, period: Period, by: Slice, *, bands: Bands | None = None
) -> list[Delinquency]:
    """Delinquencies started in the period (how often, how much), and those that ended in it (how long, how many
    cured, days to cure)."""
    rows = await fetch(pool, DELINQUENCY.format(sliced=sliced(by)), period, bands)
    return [Delinquency(**r) for r in rows]


DELINQUENCY = """
WITH {sliced},
spells AS (
    SELECT s.slice, s.currency, d.account_id, d.reopened, d.started_minor, d.ended_as,
           (d.started_at AT TIME ZONE s.time_zone)::date AS started_on,
           (d.ended_at AT TIME ZONE s.time_zone)::date AS ended_on
    FROM delinquencies d JOIN sliced s USING (account_id)
),
marked AS (
    SELECT *, started_on BETWEEN $3 AND $4 AS started, coalesce(ended_on BETWEEN $3 AND $4, false) AS ended,
           coalesce(ended_on BETWEEN $3 AND $4 AND ended_as = 'cured', false) AS cured, ended_on - started_on AS days
    FROM spells
)
SELECT slice, currency,
       count(DISTINCT account_id) FILTER (WHERE started) AS accounts,
       count(*) FILTER (WHERE started) AS started,
       count(*) FILTER (WHERE started AND reopened) AS reopened,
       coalesce(sum(started_minor) FILTER (WHERE started), 0) AS started_minor,
       count(*) FILTER (WHERE ended) AS ended,
       count(*) FILTER (WHERE cured) AS cured,
       avg(days) FILTER (WHERE ended)::float AS mean_days,
       avg(days) FILTER (WHERE cured)::float AS mean_days_to_cure,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY days) FILTER (WHERE cured) AS median_days_to_cure
FROM marked
WHERE started OR ended
GROUP BY slice, currency
ORDER BY slice, currency
"""


async def recovery(pool: asyncpg.Pool, period: Period, by: Slice, *, bands: Bands | None = None) -> list[Recovery]:
    """Money in during the period net of reversals, and the liquidation rate: what the accounts that owed at the end
    of the day before the period paid in it, over what they owed then."""
    rows = await fetch(pool, RECOVERY.format(sliced=sliced(by)), period, bands)
    return [Recovery(**r) for r in rows]


RECOVERY = """
WITH {sliced},
money AS (
    SELECT m.account_id, coalesce(sum(m.amount_minor) FILTER (WHERE m.amount_minor > 0), 0) AS collected,
           coalesce(-sum(m.amount_minor) FILTER (WHERE m.amount_minor < 0), 0) AS reversed,
           sum(m.amount_minor) AS net
    FROM money_in m JOIN sliced s USING (account_id)
    WHERE (m.at AT TIME ZONE s.time_zone)::date BETWEEN $3 AND $4
    GROUP BY m.account_id
),
owed AS (SELECT account_id, outstanding_minor FROM account_days($3::date - 1, $3::date - 1) WHERE status = 'open')
SELECT s.slice, s.currency,
       coalesce(sum(m.collected), 0) AS collected_minor, coalesce(sum(m.reversed), 0) AS reversed_minor,
       coalesce(sum(o.outstanding_minor), 0) AS balance_at_start_minor,
       coalesce(sum(m.net) FILTER (WHERE o.account_id IS NOT NULL), 0) AS collected_from_start_minor
FROM sliced s
LEFT JOIN money m USING (account_id)
LEFT JOIN owed o USING (account_id)
WHERE m.account_id IS NOT NULL OR o.account_id IS NOT NULL
GROUP BY s.slice, s.currency
ORDER BY s.slice, s.currency
"""


async def concessions(
    pool: asyncpg.Pool, period: Period, by: Slice, *, bands: Bands | None = None
) -> list[ConcessionsGiven]:
    """The concessions granted in the period (each account's days in its own zone), by kind: what took effect and
    what it gave up, what needed an approver, what was rejected or taken back."""
    rows = await fetch(pool, CONCESSIONS.format(sliced=sliced(by)), period, bands)
    return [ConcessionsGiven(**r) for r in rows]


CONCESSIONS = """
WITH {sliced}
SELECT s.slice, s.currency, c.kind,
       count(*) AS granted,
       count(*) FILTER (WHERE c.status = 'applied') AS applied,
       coalesce(sum(c.amount_minor) FILTER (WHERE c.status = 'applied'), 0) AS given_minor,
       coalesce(sum(c.days) FILTER (WHERE c.status = 'applied'), 0) AS days_given,
       count(*) FILTER (WHERE c.decided_by IS NOT NULL AND c.status <> 'rejected') AS approved,
       count(*) FILTER (WHERE c.status = 'awaiting_approval') AS awaiting_approval,
       count(*) FILTER (WHERE c.status = 'rejected') AS rejected,
       count(*) FILTER (WHERE c.status IN ('reversed', 'withdrawn')) AS reversed
FROM concessions c JOIN sliced s USING (account_id)
WHERE c.status <> 'refused' AND (c.granted_at AT TIME ZONE s.time_zone)::date BETWEEN $3 AND $4
GROUP BY s.slice, s.currency, c.kind
ORDER BY s.slice, s.currency, c.kind
"""
