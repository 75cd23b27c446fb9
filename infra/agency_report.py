"""`starter.py agencies`: how each agency does with what it was given (domain §12: agency performance)."""

from __future__ import annotations

import asyncpg

from dunning.money import format_amount


async def performance(pool: asyncpg.Pool) -> list[str]:
    """Per agency and currency: placements (still open), balance placed, recovered, recovery rate, commission."""
    rows = await pool.fetch(
        """
        SELECT p.agency_id, p.currency, count(*) AS placements, count(*) FILTER (WHERE p.status = 'placed') AS open,
               sum(p.placed_minor) AS placed, sum(p.recovered_minor) AS recovered,
               coalesce(sum(r.commission), 0) AS commission
        FROM agency_placements p
        LEFT JOIN (SELECT placement_ref, sum(commission_minor) AS commission FROM agency_reports
                   GROUP BY placement_ref) r USING (placement_ref)
        WHERE p.placement_ref IS NOT NULL
        GROUP BY p.agency_id, p.currency ORDER BY p.agency_id, p.currency
        """
    )
    return [
        f"{r['agency_id']} {r['currency']}: {r['placements']} placements ({r['open']} open), placed "
        f"{format_amount(r['placed'], r['currency'])}, recovered {format_amount(r['recovered'], r['currency'])} "
        f"({r['recovered'] / r['placed']:.1%}), commission {format_amount(r['commission'], r['currency'])}"
        for r in rows
    ]
