"""`concessions`: what a collector gives (late fees waived, a settlement discount, a plan reduced or put off), the
approver's decision above the collector's limit, reversals, and what was given in a period."""

from __future__ import annotations

import click

from cli.common import choice, connect, database, json_option, period_options, run_async, show
from cli.signed_in import (
    account_argument,
    decider,
    may_cover_every_creditor,
    operator_who_may,
    roles,
    signed_in,
)
from client import InputError, inputs
from dunning.concessions import Concession
from dunning.measures import ConcessionsGiven, Period
from dunning.money import format_amount
from dunning.operators import approval_refusal, deciding_role, sees_creditor
from dunning.policy_rules import ConcessionKind
from infra import concessions as concessions_table
from infra import measures


@click.group()
def concessions() -> None:
    """Fees waived, settlement discounts, plans reduced or put off: granted, approved, reversed."""


@concessions.command()
@account_argument()
@click.option("--id", "concession_id", required=True)
@click.option("--kind", required=True, type=choice(ConcessionKind))
@click.option("--amount", help="what is given up, in major units (not for a plan extension)")
@click.option("--days", type=click.IntRange(min=1), help="how much later the plan's unpaid instalments fall due")
@click.option("--reason", required=True)
@run_async
async def grant(account: str, concession_id: str, kind: str, amount: str | None, days: int | None, reason: str) -> None:
    """The signed-in operator grants a concession: applied within their roles' limit, else it waits for an approver."""
    operator = decider("grant concessions")
    collections = await connect()
    currency = await collections.currency(account)
    given = inputs.parse_concession(concession_id, kind, amount, days, currency, reason, operator.name, operator.roles)
    answer = await collections.grant_concession(account, given)
    click.echo(f"concession {concession_id} on account {account}: {_standing(answer)}")


@concessions.command()
@account_argument("approve")
@click.argument("concession_id")
@click.option("--reject", is_flag=True, help="reject rather than approve")
@click.option("--note", default="", help="why (required to reject)")
@run_async
async def decide(account: str, concession_id: str, reject: bool, note: str) -> None:
    """The signed-in operator approves (or --reject) a concession waiting for an approver, as one of its roles."""
    async with database() as pool:
        operator = await operator_who_may(pool, "approve", "decide approvals")
        waiting = await concessions_table.to_decide(pool, account, concession_id)
    if waiting is None or not sees_creditor(operator, waiting["creditor"]):
        raise InputError(f"no concession {concession_id!r} on account {account!r}")
    role = deciding_role(roles(), operator, waiting["approvers"])
    if role is None:
        raise InputError(approval_refusal(roles(), operator, waiting["approvers"]))
    decision = inputs.parse_concession_decision(concession_id, not reject, role, note, operator.name)
    answer = await (await connect()).decide_concession(account, decision)
    click.echo(f"concession {concession_id} on account {account}: {_standing(answer)}, by {operator.name} ({role})")


@concessions.command()
@account_argument()
@click.argument("concession_id")
@click.option("--reason", required=True)
@run_async
async def reverse(account: str, concession_id: str, reason: str) -> None:
    """The signed-in operator takes a concession back (or withdraws one still waiting for an approver)."""
    operator = decider("reverse concessions")
    reversal = inputs.parse_concession_reversal(concession_id, reason, operator.name)
    answer = await (await connect()).reverse_concession(account, reversal)
    click.echo(f"concession {concession_id} on account {account}: {_standing(answer)}")


@concessions.command("list")
@json_option
@run_async
async def list_waiting(as_json: bool) -> None:
    """Concessions waiting for an approver (signed in: on the accounts of the operator's creditors)."""
    async with database() as pool:
        operator = await signed_in(pool)
        waiting = await concessions_table.waiting(pool, operator.creditors if operator else None)
    lines = [
        f"{r['concession_id']}  {r['account_id']}  {r['kind']}"
        f"  {format_amount(r['amount_minor'], r['currency']) if r['amount_minor'] else str(r['days']) + ' days'}"
        f"  by {r['granted_by']} since {r['granted_at']:%Y-%m-%d}  approvers: {', '.join(r['approvers'])}"
        for r in waiting
    ]
    show(waiting, as_json, lines or ["no concession waits for approval"])


@concessions.command("given")
@period_options
@json_option
@run_async
async def given(first_day: str, last_day: str, as_json: bool) -> None:
    """What was given in a period, per policy, currency and kind (every creditor's accounts)."""
    await may_cover_every_creditor("read_reports", "read what every creditor gave")
    first, last = inputs.parse_period(first_day, last_day)
    async with database() as pool:
        rows = await measures.concessions(pool, Period(first=first, last=last), "policy")
    lines = [
        f"{r.slice}  {r.kind}: {r.granted} granted, {r.applied} in force ({_given(r)}), {r.approved} approved,"
        f" {r.awaiting_approval} awaiting approval, {r.rejected} rejected, {r.reversed} reversed"
        for r in rows
    ]
    show(rows, as_json, lines or [f"no concessions from {first} to {last}"])


def _given(row: ConcessionsGiven) -> str:
    return f"{row.days_given} days" if row.kind == "plan_extension" else format_amount(row.given_minor, row.currency)


def _standing(concession: Concession) -> str:
    if concession.status == "awaiting_approval":
        return f"awaiting approval by {' or '.join(concession.approvers)}"
    return concession.status
