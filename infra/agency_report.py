"""Agencies' side of placements: a placement on file, and how each agency does with what it was given (domain §12:
agency performance)."""

from __future__ import annotations

import asyncpg

from dunning.money import format_amount


async def placement_on_file(pool: asyncpg.Pool, placement_ref: str) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT account_id, currency FROM agency_placements WHERE placement_ref = $1", placement_ref
    )


async def by_agency(pool: asyncpg.Pool) -> list[dict]:
    """Per agency and currency: placements (still open), balance placed, recovered, commission (minor units)."""
    rows = await pool.fetch(
        """
        SELECT p.agency_id, p.currency, count(*) AS placements, count(*) FILTER (WHERE p.status = 'placed') AS open,
               sum(p.placed_minor) AS placed_minor, sum(p.recovered_minor) AS recovered_minor,
               coalesce(sum(r.commission), 0) AS commission_minor
        FROM agency_placements p
        LEFT JOIN (SELECT placement_ref, sum(commission_minor) AS commission FROM agency_reports
                   GROUP BY placement_ref) r USING (placement_ref)
        WHERE p.placement_ref IS NOT NULL
        GROUP BY p.agency_id, p.currency ORDER BY p.agency_id, p.currency
        """
    )
    return [dict(r) for r in rows]


async def performance(pool: asyncpg.Pool) -> list[str]:
    return describe(await by_agency(pool))


def describe(rows: list[dict]) -> list[str]:
    """`by_agency` for a person: amounts in major units, and the recovery rate."""
    return [_line(r) for r in rows]


def _line(r: dict) -> str:
    placed, recovered, commission = (
        format_amount(r[column], r["currency"]) for column in ("placed_minor", "recovered_minor", "commission_minor")
    )
    return (
        f"{r['agency_id']} {r['currency']}: {r['placements']} placements ({r['open']} open), placed {placed}, "
        f"recovered {recovered} ({r['recovered_minor'] / r['placed_minor']:.1%}), commission {commission}"
    )
