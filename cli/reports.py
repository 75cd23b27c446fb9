"""The strategy loop's commands: operators who read the reports in a browser."""

from __future__ import annotations

import click

from cli.common import database, run_async
from client import InputError
from infra import operators


@click.group("operators")
def operator_accounts() -> None:
    """People who sign in to /reports on the worker's HTTP server."""


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
