"""`agencies`, `approvals` and `compliance`: placed accounts, steps waiting for a person, and the regulator's view."""

from __future__ import annotations

import click

from cli.common import connect, database, field_choice, json_option, period_options, run_async, show
from cli.signed_in import (
    account_argument,
    may_cover_every_creditor,
    operator_who_may,
    reference_argument,
    roles,
    signed_in,
    who,
)
from client import InputError, inputs
from dunning.operators import approval_refusal, deciding_role, sees_creditor
from dunning.placements import AgencyReport
from infra import agency_report, audit
from infra import approvals as approvals_table

# What a reference to nothing is told; signed in, so is one to another creditor's placement.
NO_PLACEMENT = "no placement {!r}"


@click.group()
def agencies() -> None:
    """Collection agencies: reports, recalls, how each does."""


@agencies.command()
@reference_argument("placement_ref", "placement", NO_PLACEMENT)
@click.option("--id", "report_id", required=True)
@click.option("--kind", required=True, type=field_choice(AgencyReport, "kind"))
@click.option("--amount", help="what the agency collected (payment only)")
@click.option("--note", default="")
@click.option("--at", help="when it happened, e.g. 2026-11-22T10:00:00+08:00 (default now)")
@run_async
async def report(placement_ref: str, report_id: str, kind: str, amount: str | None, note: str, at: str | None) -> None:
    """An agency reports a payment, news, or hands an account back."""
    async with database() as pool:
        placed = await agency_report.placement_on_file(pool, placement_ref)
    if placed is None:
        raise InputError(NO_PLACEMENT.format(placement_ref))
    reported = inputs.parse_agency_report(report_id, placement_ref, kind, amount, placed["currency"], note, at)
    await (await connect()).signal(placed["account_id"], "agency_reported", reported)
    click.echo(f"agency report {reported.report_id} ({reported.kind}) sent to account {placed['account_id']}")


@agencies.command()
@account_argument()
@click.option("--id", "request_id", required=True)
@click.option("--reason", required=True)
@click.option("--by", "requested_by", help="who asks (default: the signed-in operator)")
@run_async
async def recall(account: str, request_id: str, reason: str, requested_by: str | None) -> None:
    """Take a placed account back from its agency now (refusals show in `accounts status`)."""
    request = inputs.parse_recall(request_id, reason, who(requested_by, "--by"))
    await (await connect()).signal(account, "recall_placement", request)
    click.echo(f"recall {request.request_id} sent to account {account} (refusals show in `accounts status`)")


@agencies.command()
@json_option
@run_async
async def performance(as_json: bool) -> None:
    """Placed balance, recovered amount and rate per agency (every creditor's placements)."""
    await may_cover_every_creditor("read_reports", "read the agencies' performance")
    async with database() as pool:
        rows = await agency_report.by_agency(pool)
    show(rows, as_json, agency_report.describe(rows) or ["no placements yet"])


@click.group()
def approvals() -> None:
    """Steps waiting for an approver, and the approver's decision."""


@approvals.command("list")
@json_option
@run_async
async def list_approvals(as_json: bool) -> None:
    """Steps waiting for an approver's decision (signed in: on the accounts of the operator's creditors)."""
    async with database() as pool:
        operator = await signed_in(pool)
        waiting = await approvals_table.waiting(pool, operator.creditors if operator else None)
    lines = [
        f"{r['approval_ref']}  {r['account_id']}  {r['step_id']}  since {r['requested_at']:%Y-%m-%d}"
        f"  approvers: {', '.join(r['approvers'])}"
        for r in waiting
    ]
    show(waiting, as_json, lines or ["no step waits for approval"])


@approvals.command()
@click.argument("approval_ref")
@click.option("--reject", is_flag=True, help="reject rather than approve")
@click.option("--note", default="", help="why (required to reject)")
@run_async
async def decide(approval_ref: str, reject: bool, note: str) -> None:
    """The signed-in operator approves (or --reject) a step waiting for approval, as one of the approver roles the
    account's policy names."""
    async with database() as pool:
        operator = await operator_who_may(pool, "approve", "decide approvals")
        waiting = await approvals_table.to_decide(pool, approval_ref)
    if waiting is None or not sees_creditor(operator, waiting["creditor"]):
        raise InputError(f"no approval {approval_ref!r}")
    role = deciding_role(roles(), operator, waiting["approvers"])
    if role is None:
        raise InputError(approval_refusal(roles(), operator, waiting["approvers"]))
    decision = inputs.parse_approval(approval_ref, not reject, role, note, operator=operator.name)
    answer = await (await connect()).decide_approval(waiting["account_id"], decision)
    click.echo(f"{decision.approval_ref} {answer} by {operator.name} ({role}) on account {waiting['account_id']}")


@click.group()
def compliance() -> None:
    """The contact rules' evidence, for the regulator."""


@compliance.command("report")
@period_options
@json_option
@run_async
async def compliance_report(first_day: str, last_day: str, as_json: bool) -> None:
    """Contacts per debtor per channel per 7 days, and breaches (every creditor's accounts)."""
    await may_cover_every_creditor("read_reports", "read the compliance report")
    first, last = inputs.parse_period(first_day, last_day)
    async with database() as pool:
        counts, found = await audit.compliance(pool, first, last)
    lines = [
        *(audit.weekly_lines(counts) or [f"no contacts from {first} to {last}"]),
        f"breaches: {len(found)}",
        *(f"  {breach}" for breach in found),
    ]
    show({"from": first, "to": last, "weekly_contacts": counts, "breaches": found}, as_json, lines)
