"""`statements`: the B2B statement cycle: the monthly statements sent, those not confirmed, and a confirmation."""

from __future__ import annotations

import click

from cli.common import connect, database, json_option, run_async, show
from cli.signed_in import account_argument, signed_in, who
from client import inputs
from infra import statements as sent_statements


@click.group()
def statements() -> None:
    """Monthly statements of B2B accounts: sent, chased while unconfirmed, confirmed."""


@statements.command("list")
@click.option("--unconfirmed", is_flag=True, help="only those the customer has not confirmed yet")
@json_option
@run_async
async def list_statements(unconfirmed: bool, as_json: bool) -> None:
    """The statements sent, the earliest confirm-by day first, with the chase so far (signed in: on the accounts of
    the operator's creditors)."""
    async with database() as pool:
        operator = await signed_in(pool)
        rows = await sent_statements.listed(pool, unconfirmed, operator.creditors if operator else None)
    lines = [
        f"{r['account_id']}  {r['month']}  sent {r['sent_at']:%Y-%m-%d}  confirm by {r['confirm_by']}  "
        + (
            f"confirmed {r['confirmed_at']:%Y-%m-%d} by {r['confirmed_by']}{' (late)' if r['confirmed_late'] else ''}"
            if r["confirmed_at"]
            else f"unconfirmed, chased {r['chases']} times"
            + (f", with the supervisor since {r['escalated_at']:%Y-%m-%d}" if r["escalated_at"] else "")
        )
        for r in rows
    ]
    show(rows, as_json, lines or ["no statement"])


@statements.command()
@account_argument()
@click.option("--month", required=True, help="the statement's month, e.g. 2026-11")
@click.option("--by", help="who records it (default: the signed-in operator)")
@click.option("--note", default="", help="the invoicing details the customer gave, or a difference they raised")
@run_async
async def confirm(account: str, month: str, by: str | None, note: str) -> None:
    """The customer confirmed a month's statement: its chase stops and finance is asked to invoice."""
    confirmation = inputs.parse_statement_confirmation(month, who(by, "--by"), note)
    await (await connect()).signal(account, "statement_confirmed", confirmation)
    click.echo(f"statement {confirmation.month} of account {account} confirmed")
