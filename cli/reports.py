"""The strategy loop's commands: the report, and the operators who read it in a browser."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from cli.common import database, json_option, period_options, run_async, show
from cli.signed_in import forget_session, keep_session, may_cover_every_creditor, session_token
from client import InputError, inputs
from dunning.measures import Period
from infra import operators
from infra.strategy_report import write_report


@click.group("operators")
def operator_accounts() -> None:
    """People who sign in: on the command line (decisions, and their creditors' accounts), at /reports, and on the
    codec server the Web UI opens payloads with. What they may do is their roles' (roles/standard.yaml)."""


@operator_accounts.command("add")
@click.argument("name")
@click.option("--role", "role_names", multiple=True, required=True, help="a role of roles/standard.yaml; repeat")
@click.option("--creditor", "creditors", multiple=True, help="a creditor whose accounts they work; repeat")
@click.option("--all-creditors", is_flag=True, help="they work every creditor's accounts")
@click.password_option(help="asked for twice when not given (or piped in on standard input)")
@run_async
async def add(
    name: str, role_names: tuple[str, ...], creditors: tuple[str, ...], all_creditors: bool, password: str
) -> None:
    """Adds an operator, or sets their password, roles and creditors anew (which ends the sessions opened before)."""
    if all_creditors == bool(creditors):
        raise InputError("name the operator's creditors (--creditor, repeat) or give --all-creditors")
    async with database() as pool:
        try:
            await operators.add_operator(
                pool, name, password, list(role_names), None if all_creditors else list(creditors)
            )
        except operators.OperatorError as err:
            raise InputError(str(err)) from None
    scope = "every creditor" if all_creditors else ", ".join(creditors)
    click.echo(f"operator {name} ({', '.join(role_names)}; {scope}) may sign in")


@operator_accounts.command("list")
@json_option
@run_async
async def list_operators(as_json: bool) -> None:
    """Every operator, their roles and creditors."""
    async with database() as pool:
        found = await operators.all_operators(pool)
    lines = [f"{o.name}  roles: {', '.join(o.roles) or 'none'}  creditors: {o.scope()}" for o in found]
    show([o.model_dump() for o in found], as_json, lines or ["no operators yet"])


@operator_accounts.command()
@click.argument("name")
@click.password_option(confirmation_prompt=False, help="asked for when not given (or piped in on standard input)")
@run_async
async def login(name: str, password: str) -> None:
    """Signs in on this command line: the session is kept in a file only you may read, and commands act as you."""
    token = await _sign_in(name, password)
    click.echo(f"signed in as {name} (the session is kept in {keep_session(token)})")


@operator_accounts.command()
@run_async
async def logout() -> None:
    """Ends this command line's session."""
    if token := session_token():
        async with database() as pool:
            await operators.sign_out(pool, token)
    forget_session()
    click.echo("signed out")


@operator_accounts.command()
@click.argument("name")
@click.password_option(confirmation_prompt=False, help="asked for when not given (or piped in on standard input)")
@run_async
async def session(name: str, password: str) -> None:
    """Signs in and prints a session token: for the codec server from the CLI (`temporal workflow show ...
    --codec-endpoint <worker>/codec --codec-auth "Bearer <token>"`), or COLLECTIONS_SESSION for a script."""
    click.echo(await _sign_in(name, password))


async def _sign_in(name: str, password: str) -> str:
    async with database() as pool:
        token = await operators.sign_in(pool, name, password)
    if token is None:
        raise InputError("wrong operator name or password")
    return token


@click.group()
def reports() -> None:
    """The strategy report: the measures of domain §12, and each experiment's arms against the champion."""


@reports.command("write")
@period_options
@click.option("--out", "out_dir", default=".run/reports", show_default=True, help="folder for the HTML and CSV")
@run_async
async def write(first_day: str, last_day: str, out_dir: str) -> None:
    """Writes the report now: its HTML (charts inline) and CSV files, and the copy /reports shows."""
    await may_cover_every_creditor("read_reports", "write the strategy report")
    first, last = inputs.parse_period(first_day, last_day)
    async with database() as pool:
        report_id = await write_report(pool, Period(first=first, last=last), datetime.now(UTC), Path(out_dir))
    click.echo(f"{Path(out_dir) / report_id}.html\n{Path(out_dir) / report_id}.csv")
