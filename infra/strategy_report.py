"""The strategy report a head of collections reads: every measure of domain §12 over a period, each running
experiment's arms set against its champion, the charts, and the same numbers as CSV. Written off the workflow path
(a scheduled job, or `collections reports write`); `/reports` only reads the latest."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime
from pathlib import Path

import asyncpg
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel

from dunning.comparison import Comparison, compare_arms
from dunning.measures import (
    ActionCost,
    AgencyPerformance,
    ConcessionsGiven,
    ContactIntensity,
    ContactRate,
    CureRates,
    Delinquency,
    Period,
    PromiseKept,
    QueuePerformance,
    Recovery,
    RollMatrix,
)
from dunning.money import to_major
from dunning.reporting import load_bands, load_sample_rules
from infra import collection_effort, measures
from infra.experiments import arm_results

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "reports"
_pages = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(), undefined=StrictUndefined, trim_blocks=True
)


class ArmsReport(BaseModel):
    """One experiment's arms in one currency: how many accounts, each arm's cure curve, and the comparisons."""

    experiment: str
    currency: str
    accounts: dict[str, int]
    cure_curves: dict[str, list[float]]
    comparisons: list[Comparison]


class StrategyFigures(BaseModel):
    period: Period
    window_days: int
    written_at: datetime
    experiments: list[ArmsReport]
    cures: CureRates  # by arm
    rolls: RollMatrix  # the portfolio
    promises: list[PromiseKept]  # by arm
    contacts: list[ContactRate]  # by arm
    intensity: list[ContactIntensity]  # by arm
    costs: list[ActionCost]  # by arm
    recovery: list[Recovery]  # by segment
    delinquency: list[Delinquency]  # by segment
    queues: list[QueuePerformance]
    agencies: list[AgencyPerformance]
    concessions: list[ConcessionsGiven] = []  # by arm (reports written before concessions have none)


async def gather(pool: asyncpg.Pool, period: Period, written_at: datetime, window_days: int = 30) -> StrategyFigures:
    rules = load_sample_rules()
    experiments = []
    for row in await pool.fetch(
        "SELECT DISTINCT s.experiment, a.currency FROM strategy_assignments s JOIN accounts a USING (account_id)"
        " WHERE s.experiment IS NOT NULL ORDER BY 1, 2"
    ):
        results = await arm_results(pool, period, row["experiment"], row["currency"], window_days=window_days)
        if not results.outcomes:
            continue
        experiments.append(
            ArmsReport(
                experiment=results.experiment,
                currency=results.currency,
                accounts={arm: sum(1 for o in results.outcomes if o.arm == arm) for arm in results.arms()},
                cure_curves={arm: results.cure_curve(arm) for arm in results.arms()},
                comparisons=compare_arms(results, rules),
            )
        )
    return StrategyFigures(
        period=period,
        window_days=window_days,
        written_at=written_at,
        experiments=experiments,
        cures=await measures.cure_rates(pool, period, "arm", window_days=window_days),
        rolls=await measures.roll_rates(pool, period, "portfolio"),
        promises=await collection_effort.promises_kept(pool, period, "arm"),
        contacts=await collection_effort.contact_rates(pool, period, "arm"),
        intensity=await collection_effort.contact_intensity(pool, period, "arm"),
        costs=await collection_effort.action_costs(pool, period, "arm"),
        recovery=await measures.recovery(pool, period, "segment"),
        delinquency=await measures.delinquency(pool, period, "segment"),
        queues=await collection_effort.queue_performance(pool, period, "portfolio"),
        agencies=await collection_effort.agency_performance(pool, period, "portfolio"),
        concessions=await measures.concessions(pool, period, "arm"),
    )


def charts(figures: StrategyFigures) -> dict[str, str]:
    """Every chart of the page, by name (the page marks each figure with it)."""
    from infra import report_charts  # matplotlib: imported when a report is drawn, not by every CLI command

    drawn = {
        f"cure_curves_{n}": report_charts.cure_curves(
            arms.cure_curves, f"{arms.experiment} ({arms.currency}): cured by days since entry"
        )
        for n, arms in enumerate(figures.experiments)
    }
    currencies = Counter(c.currency for c in figures.rolls.cells for _ in range(c.accounts))
    currency = currencies.most_common(1)[0][0] if currencies else ""
    drawn["roll_rates"] = report_charts.roll_heat_map(
        figures.rolls.rates("portfolio", currency) if currency else {},
        load_bands().bucket_names(),
        f"Roll rates month over month, the period's months pooled ({currency})",
    )
    drawn["promise_outcomes"] = report_charts.promise_outcomes(figures.promises, "Promises by arm")
    drawn["cost_per_cure"] = report_charts.bars(
        {
            f"{c.slice} ({c.currency})": float(to_major(round(c.cost_per_cure), c.currency))
            for c in figures.costs
            if c.cost_per_cure is not None
        },
        "Cost per cure by arm",
        "major units",
    )
    drawn["agency_yield"] = report_charts.agency_yield(figures.agencies, "Agency yield")
    return drawn


def render_html(figures: StrategyFigures) -> str:
    return _pages.get_template("strategy.html.j2").render(figures=figures, charts=charts(figures), major=to_major)


def render_csv(figures: StrategyFigures) -> str:
    """The report's numbers, one per line: section, slice, currency, what, value."""
    out = io.StringIO()
    table = csv.writer(out, lineterminator="\n")
    table.writerow(["section", "slice", "currency", "measure", "value"])
    for arms in figures.experiments:
        for c in arms.comparisons:
            for what in ("champion_value", "challenger_value", "difference", "low", "high", "p_value"):
                table.writerow(
                    [
                        "experiment",
                        f"{arms.experiment}/{c.challenger}",
                        arms.currency,
                        f"{c.measure}.{what}",
                        getattr(c, what),
                    ]
                )
            table.writerow(
                [
                    "experiment",
                    f"{arms.experiment}/{c.challenger}",
                    arms.currency,
                    f"{c.measure}.too_small",
                    c.too_small,
                ]
            )
    for section, rows, values in (
        ("cure_by_bucket", figures.cures.by_bucket, ("entered", "cured", "by_count", "by_amount")),
        ("cure_by_amount", figures.cures.by_amount_band, ("entered", "cured", "by_count", "by_amount")),
        ("promises", figures.promises, ("came_due", "kept", "kept_in_part", "broken", "by_count", "by_amount")),
        (
            "contacts",
            figures.contacts,
            ("attempts", "reached_anyone", "reached_debtor", "contact_rate", "right_party_rate"),
        ),
        ("intensity", figures.intensity, ("contacts", "accounts", "cures", "per_account", "per_cure")),
        ("costs", figures.costs, ("cost_minor", "recovered_minor", "cures", "cost_per_cure", "yield_per_cost")),
        ("recovery", figures.recovery, ("recovered_minor", "balance_at_start_minor", "liquidation_rate")),
        ("delinquency", figures.delinquency, ("accounts", "started", "cured", "mean_days_to_cure", "frequency")),
        (
            "concessions",
            figures.concessions,
            (
                "granted",
                "applied",
                "given_minor",
                "days_given",
                "approved",
                "awaiting_approval",
                "rejected",
                "reversed",
            ),
        ),
    ):
        for row in rows:
            label = getattr(row, "band", None) or getattr(row, "kind", None)
            for what in values:
                measure = f"{label}.{what}" if label else what
                table.writerow([section, row.slice, getattr(row, "currency", ""), measure, getattr(row, what)])
    for cell in figures.rolls.cells:
        table.writerow(["rolls", cell.month_end, cell.currency, f"{cell.from_bucket}>{cell.to_bucket}", cell.accounts])
    for queue in figures.queues:
        for what in ("call_tasks", "attempts", "reached_debtor", "promises", "cures", "right_party_rate"):
            table.writerow(["queues", queue.queue, "", what, getattr(queue, what)])
    for agency in figures.agencies:
        for what in ("placements", "placed_minor", "recovered_minor", "commission_minor", "recovery_rate"):
            table.writerow(["agencies", agency.agency, agency.currency, what, getattr(agency, what)])
    return out.getvalue()


async def write_report(
    pool: asyncpg.Pool, period: Period, written_at: datetime, out_dir: Path | None = None, window_days: int = 30
) -> str:
    """Computes, renders and stores the report (the latest is what /reports shows); with `out_dir`, also writes
    the HTML and CSV files there. Returns the report's id."""
    figures = await gather(pool, period, written_at, window_days)
    html, table = render_html(figures), render_csv(figures)
    report_id = f"strategy-{period.first}-{period.last}-{written_at:%Y%m%dT%H%M%S}"
    await pool.execute(
        "INSERT INTO strategy_reports (report_id, period_start, period_end, html, csv) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (report_id) DO UPDATE SET html = EXCLUDED.html, csv = EXCLUDED.csv",
        report_id,
        period.first,
        period.last,
        html,
        table,
    )
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"{report_id}.html").write_text(html, encoding="utf-8")
        (out_dir / f"{report_id}.csv").write_text(table, encoding="utf-8")
    return report_id
