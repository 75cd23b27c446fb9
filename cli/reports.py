"""The strategy loop's commands: the report, and the operators who read it in a browser."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from cli.common import database, period_options, run_async
from client import InputError, inputs
from dunning.measures import Period
from infra import operators
from infra.strategy_report import write_report


@click.group("operators")
def operator_accounts() -> None:
    """People who sign in on the worker's HTTP server: /reports, and the codec server the Web UI opens payloads with."""


@operator_accounts.command("add")
@click.argument("name")
@click.password_option(help="asked for twice when not given (or piped in on standard input)")
@run_async
async def add(name: str, password: str) -> None:
    """Adds an operator, or sets a new password (which ends the sessions the old one opened)."""
    async with database() as pool:
        try:
            await operators.add_operator(pool, name, password)
        except operators.OperatorError as err:
            raise InputError(str(err)) from None
    click.echo(f"operator {name} may sign in at /reports")


@operator_accounts.command()
@click.argument("name")
@click.password_option(confirmation_prompt=False, help="asked for when not given (or piped in on standard input)")
@run_async
async def session(name: str, password: str) -> None:
    """Signs in and prints a session token, for the codec server from the CLI:
    `temporal workflow show ... --codec-endpoint <worker>/codec --codec-auth "Bearer <token>"`."""
    async with database() as pool:
        token = await operators.sign_in(pool, name, password)
    if token is None:
        raise InputError("wrong operator name or password")
    click.echo(token)


@click.group()
def reports() -> None:
    """The strategy report: the measures of domain §12, and each experiment's arms against the champion."""


@reports.command("write")
@period_options
@click.option("--out", "out_dir", default=".run/reports", show_default=True, help="folder for the HTML and CSV")
@run_async
async def write(first_day: str, last_day: str, out_dir: str) -> None:
    """Writes the report now: its HTML (charts inline) and CSV files, and the copy /reports shows."""
    first, last = inputs.parse_period(first_day, last_day)
    async with database() as pool:
        report_id = await write_report(pool, Period(first=first, last=last), datetime.now(UTC), Path(out_dir))
    click.echo(f"{Path(out_dir) / report_id}.html\n{Path(out_dir) / report_id}.csv")
