"""`bureau`: the reports to credit bureaus the accounts filed, and the bureau feed marking them sent."""

from __future__ import annotations

import click

from cli.common import choice, database, json_option, run_async, show
from cli.signed_in import reference_argument, signed_in, who
from client import InputError, inputs
from dunning.bureau import ReportStatus
from dunning.money import format_amount
from infra import bureau_reports

NO_REPORT = "no bureau report {!r}"


@click.group()
def bureau() -> None:
    """Reports to credit bureaus: waiting for the furnishing gate, ready, sent, or withdrawn."""


@bureau.command("list")
@click.option("--status", type=choice(ReportStatus), help="only these (the bureau feed takes the ready ones)")
@json_option
@run_async
async def list_reports(status: str | None, as_json: bool) -> None:
    """The reports filed, oldest first, with the gate's word (signed in: on the accounts of the operator's
    creditors)."""
    async with database() as pool:
        operator = await signed_in(pool)
        reports = await bureau_reports.listed(pool, status, operator.creditors if operator else None)
    lines = [
        f"{r['report_ref']}  {r['account_id']}  {r['status']}  {r['reason']}"
        f"  {format_amount(r['amount_minor'], r['currency'])} at {r['dpd']} dpd"
        f"  ({r['withdrawn_because'] or r['released_because'] or r['waited_because']})"
        for r in reports
    ]
    show(reports, as_json, lines or ["no bureau report"])


@bureau.command()
@reference_argument("report_ref", "bureau report", NO_REPORT)
@click.option("--bureau-ref", required=True, help="the bureau's reference for the submission")
@click.option("--by", help="who furnished it (default: the signed-in operator)")
@click.option("--at", help="when it was furnished, e.g. 2026-11-22T10:00:00+08:00 (default now)")
@run_async
async def sent(report_ref: str, bureau_ref: str, by: str | None, at: str | None) -> None:
    """The bureau feed furnished a ready report: it is marked sent (a report still waiting for its gate is not)."""
    sender = who(by, "--by")
    when = inputs.check_furnished(bureau_ref, sender, at)
    async with database() as pool:
        try:
            account_id = await bureau_reports.mark_sent(pool, report_ref, bureau_ref, sender, when)
        except bureau_reports.NotSendable as err:
            raise InputError(str(err)) from None
    click.echo(f"bureau report {report_ref} on account {account_id} sent ({bureau_ref})")
