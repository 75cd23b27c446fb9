"""The simulation's figures, read back as production reads them: each running experiment's arms compared against its
champion by the collections measures (infra/experiments.py, dunning/comparison.py), and the compliance report
(infra/audit.py). Nothing here computes a measure; it picks the rows and lays them out.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg

from dunning.comparison import Comparison, compare_arms
from dunning.measures import ArmResults, Period
from dunning.money import exponent, to_major
from dunning.reporting import load_sample_rules, load_unit_costs
from infra import audit
from infra.experiments import arm_results
from simulation.run import SimulationRun

# The measures the table shows, as dunning/comparison.py names them, and how each is written.
SHOWN = {"cure_rate": "cure rate", "contacts_per_account": "contacts per account", "cost_per_cure": "cost per cure"}
_EXPERIMENTS = """
SELECT DISTINCT s.experiment, a.currency FROM strategy_assignments s JOIN accounts a USING (account_id)
WHERE s.experiment IS NOT NULL ORDER BY 1, 2
"""


@dataclass(frozen=True)
class ExperimentFigures:
    results: ArmResults
    comparisons: list[Comparison]

    def accounts(self) -> dict[str, int]:
        arms: dict[str, int] = {}
        for outcome in self.results.outcomes:
            arms[outcome.arm] = arms.get(outcome.arm, 0) + 1
        return dict(sorted(arms.items(), key=lambda arm: (arm[0] != "champion", arm[0])))


@dataclass(frozen=True)
class SimulationReport:
    run: SimulationRun
    experiments: list[ExperimentFigures]
    contacts_checked: int  # attempts the compliance report counted
    breaches: list[str]


async def simulation_report(pool: asyncpg.Pool, run: SimulationRun) -> SimulationReport:
    """Every running experiment in every priced currency, each account followed the run's days from arriving."""
    period, rules, costs = Period(first=run.first_day, last=run.last_day), load_sample_rules(), load_unit_costs()
    experiments = []
    for row in await pool.fetch(_EXPERIMENTS):
        if row["currency"] in costs.currencies():
            results = await arm_results(
                pool, period, row["experiment"], row["currency"], window_days=run.scenario.days, unit_costs=costs
            )
            experiments.append(ExperimentFigures(results, compare_arms(results, rules)))
    weekly, breaches = await audit.compliance(pool, run.first_day - timedelta(days=1), run.last_day)
    return SimulationReport(run, experiments, sum(week["attempts"] for week in weekly), breaches)


def _value(measure: str, value: float | None, currency: str, difference: bool = False) -> str:
    if value is None:
        return "-"
    sign = "+" if difference else ""
    if measure == "cure_rate":
        return f"{value * 100:{sign}.1f}" + (" pts" if difference else "%")
    if measure == "cost_per_cure":
        return f"{to_major(round(value), currency):{sign},.{exponent(currency)}f}"
    return f"{value:{sign}.2f}"


def lines(report: SimulationReport) -> list[str]:
    """The report for a person: per experiment and currency, each arm's figures, then each arm against the champion
    with the difference's interval; then the compliance report's verdict and the run's wall time."""
    run, out = report.run, []
    for figures in report.experiments:
        results, accounts = figures.results, figures.accounts()
        currency, arms = results.currency, list(accounts)
        out += [
            "",
            f"{results.experiment} in {currency}: accounts followed {results.window_days} days from arriving",
            f"{'':<24}" + "".join(f"{arm:>14}" for arm in arms),
            f"{'accounts':<24}" + "".join(f"{accounts[arm]:>14}" for arm in arms),
        ]
        by_measure = {(c.measure, c.challenger): c for c in figures.comparisons}
        for measure, name in SHOWN.items():
            values = [_arm_value(by_measure, measure, arm) for arm in arms]
            label = f"{name} ({currency})" if measure == "cost_per_cure" else name
            out.append(f"{label:<24}" + "".join(f"{_value(measure, v, currency):>14}" for v in values))
        confidence = f"{load_sample_rules().confidence:.0%}"
        out.append(f"against the champion ({confidence} interval of the difference):")
        for c in figures.comparisons:
            if c.measure not in SHOWN:
                continue
            what = f"  {c.challenger} {SHOWN[c.measure]}"
            if c.too_small:
                out.append(f"{what:<40} too small to tell: {c.why}")
                continue
            interval = f"{_value(c.measure, c.low, currency, True)} to {_value(c.measure, c.high, currency, True)}"
            p_value = f", p = {c.p_value:.3f}" if c.p_value is not None else ""
            out.append(f"{what:<40} {_value(c.measure, c.difference, currency, True)} ({interval}{p_value})")
    out += [
        "",
        f"compliance report {run.first_day - timedelta(days=1)} to {run.last_day}: {report.contacts_checked}"
        f" contacts checked, {len(report.breaches)} breaches",
        *(f"  {breach}" for breach in report.breaches),
        *(f"time-skipping lock released by the watchdog: {what}" for what in run.locks_released),
        f"wall time: {run.seconds:.0f} s ({run.scenario.accounts} accounts, {run.scenario.days} days)",
    ]
    return out


def _arm_value(by_measure: dict[tuple[str, str], Comparison], measure: str, arm: str) -> float | None:
    """An arm's own value of the measure, as its comparison with the champion carries it."""
    if arm == "champion":
        return next((c.champion_value for (m, _), c in by_measure.items() if m == measure), None)
    found = by_measure.get((measure, arm))
    return found.challenger_value if found else None


def write(report: SimulationReport, directory: Path) -> list[Path]:
    """The table as printed and every comparison as a CSV row. When the strategy report's writer lands (its HTML and
    CSV, `collections reports write`), write those here too: the simulation's database has every table it reads."""
    directory.mkdir(parents=True, exist_ok=True)
    table, rows = directory / "simulation.txt", directory / "comparisons.csv"
    table.write_text("\n".join(lines(report)) + "\n", encoding="utf-8")
    with rows.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=["experiment", "currency", *Comparison.model_fields])
        writer.writeheader()
        for figures in report.experiments:
            for comparison in figures.comparisons:
                writer.writerow(
                    {
                        "experiment": figures.results.experiment,
                        "currency": figures.results.currency,
                        **comparison.model_dump(),
                    }
                )
    return [table, rows]
