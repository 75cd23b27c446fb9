"""`simulate`: try a strategy before promoting it, on a synthetic portfolio through the real workflows (issue 12)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import click

from cli.common import run_async, settings
from client import InputError
from dunning.measures import Period
from infra.logging import configure
from infra.strategy_report import write_report
from simulation.behaviour import BehaviourError
from simulation.report import lines, simulation_report, write
from simulation.run import Scenario, fresh_database, simulate, simulation_settings


@click.command("simulate")
@click.option("--accounts", default=2000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--days", default=90, show_default=True, type=click.IntRange(1, 365))
@click.option("--seed", default=7, show_default=True, type=int, help="the same seed gives the same debtors and draws")
@click.option("--behaviour", default="standard", show_default=True, help="a file of behaviours/ by its name")
@click.option(
    "--out",
    default=".run/simulation/report",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="the table and its CSV, and the strategy report (HTML and CSV) as production writes it",
)
@run_async
async def simulation(accounts: int, days: int, seed: int, behaviour: str, out: Path) -> None:
    """Run a synthetic portfolio through the real workflows and activities on time-skipping servers, under the
    running experiment's champion, challengers and hold-out, its debtors answering as the behaviour file says; print
    each arm's cure rate, contacts and cost per cure against the champion's, and the compliance report.

    PostgreSQL: a fresh database `simulation` on DATABASE_URL's server, or on an embedded one under .run/simulation.
    """
    base = settings()
    configure(base.log_format, logging.WARNING)  # a portfolio's every step at INFO would drown the figures
    scenario = Scenario(accounts=accounts, days=days, seed=seed, behaviour=behaviour)
    async with fresh_database(base.database_url) as (url, pool):
        try:
            run = await simulate(scenario, simulation_settings(base, url), pool)
        except BehaviourError as err:
            raise InputError(str(err)) from None
        report = await simulation_report(pool, run)
        period = Period(first=run.first_day, last=run.last_day)
        page = await write_report(pool, period, datetime.now(UTC), out, window_days=days)
    click.echo(f"{accounts} accounts from {run.first_day} to {run.last_day} (seed {seed}, behaviour {behaviour})")
    click.echo("the debtors told the accounts: " + ", ".join(f"{n} {what}" for what, n in sorted(run.told.items())))
    click.echo("\n".join(lines(report)))
    click.echo("written: " + ", ".join(str(path) for path in write(report, out)))
    click.echo(f"the strategy report: {out / page}.html (and .csv)")
    click.echo(f"database: {url}")
