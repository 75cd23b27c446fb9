"""`accounts` and `payments`: what billing sends, and what an account looks like now."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import choice, connect, database, json_option, read_text, run_async, show
from cli.signed_in import account_argument, may_open
from client import InputError, inputs
from dunning.account import BalanceKind
from dunning.money import format_amount
from dunning.view import AccountView
from infra import audit


@click.group()
def accounts() -> None:
    """Open accounts; read their state and contact evidence."""


@accounts.command("open")
@click.argument("file")
@run_async
async def open_account(file: str) -> None:
    """Open one account from a JSON document (FILE, or - for stdin)."""
    document = inputs.parse_json_document(read_text(file))
    await may_open({document.creditor})
    await (await connect()).open(document)
    click.echo(f"opened {document.workflow_id}")


@accounts.command("import")
@click.argument("file", type=Path)
@run_async
async def import_accounts(file: Path) -> None:
    """Open every account of a CSV file (all rows valid, or none)."""
    if not file.is_file():
        raise InputError(f"{file}: no such file")
    documents = inputs.parse_csv(file)
    await may_open({d.creditor for d in documents})
    await (await connect()).open_many(documents)
    click.echo(f"opened {len(documents)} accounts")


@accounts.command()
@account_argument()
@json_option
@run_async
async def status(account: str, as_json: bool) -> None:
    """The account's state: balance, stage, next step, what it waits for."""
    view = await (await connect()).state(account)
    show(view, as_json, _summary(view))


def _summary(view: AccountView) -> list[str]:
    def money(minor: int) -> str:
        return format_amount(minor, view.currency)

    waiting = [
        *(f"dispute {d.dispute_id} ({d.subject})" for d in view.open_disputes),
        *(f"approval {a.approval_ref}" for a in view.awaiting_approval),
        *(f"fraud claim {c.claim_id}" for c in view.fraud_claims),
    ]
    return [
        f"account {view.account_id}: {view.status} ({view.policy}), stage {view.stage}, {view.dpd} days past due",
        f"outstanding {view.outstanding}",
        *(
            [f"since opening: charged {money(view.charged_minor)}, credited {money(view.credited_minor)}"]
            if view.charged_minor or view.credited_minor
            else []
        ),
        *(
            f"invoice {i.invoice_id} due {i.due_date}: owes {money(i.open_minor)} of {money(i.billed_minor)}"
            for i in view.invoices
        ),
        *([f"waived {money(view.waived_minor)} (concessions in force)"] if view.waived_minor else []),
        *(
            f"concession {c.grant.concession_id} ({c.grant.kind}): {c.status}"
            + (f", awaiting {' or '.join(c.approvers)}" if c.status == "awaiting_approval" else "")
            for c in view.concessions
        ),
        *([f"segment {view.segment} ({view.segment_reason}); strategy {view.strategy}"] if view.segment else []),
        f"next: {view.next_action or 'nothing'}"
        + (f" at {view.next_action_at:%Y-%m-%d %H:%M %Z}" if view.next_action_at else ""),
        f"actions taken: {view.actions_taken}; collector queue: {view.collector_queue or '-'}",
        *([f"ceased channels: {', '.join(str(c) for c in view.ceased_channels)}"] if view.ceased_channels else []),
        *([f"waiting for: {', '.join(waiting)}"] if waiting else []),
        *(f"refused: {reason}" for reason in view.rejected_signals),
        "(--json for everything)",
    ]


@accounts.command("audit")
@account_argument()
@json_option
@run_async
async def audit_trail(account: str, as_json: bool) -> None:
    """Every contact the account attempted, and the contact guard's verdict (from PostgreSQL)."""
    async with database() as pool:
        contacts = await audit.contacts(pool, account)
    if not contacts:
        raise InputError(f"no contact evidence for account {account!r}")
    show(contacts, as_json, audit.trail_lines(contacts))


@click.group()
def payments() -> None:
    """Payments received, and payments taken back."""


@payments.command()
@account_argument()
@click.option("--amount", required=True, help="in major units, e.g. 12.34")
@click.option("--payment-id", required=True)
@click.option("--paid-at", help="ISO 8601 with offset; default now")
@click.option("--invoice", "invoice_id", help="the invoice the customer pays (default: the policy's order)")
@run_async
async def pay(account: str, amount: str, payment_id: str, paid_at: str | None, invoice_id: str | None) -> None:
    """Report a payment received (on a closed account it is recorded as an overpayment)."""
    inputs.check_payment_args(amount, payment_id, paid_at)
    collections = await connect()
    payment = inputs.parse_payment(amount, payment_id, await collections.currency(account), paid_at, invoice_id)
    await collections.pay(account, payment)
    click.echo(f"payment {payment.payment_id} sent to account {account}")


@payments.command()
@account_argument()
@click.option("--payment-id", required=True)
@click.option("--reason", required=True)
@click.option("--reversed-at", help="ISO 8601 with offset; default now")
@run_async
async def reverse(account: str, payment_id: str, reason: str, reversed_at: str | None) -> None:
    """A payment was taken back (bounced debit, chargeback)."""
    reversal = inputs.parse_reversal(payment_id, reason, reversed_at)
    await (await connect()).reverse(account, reversal)
    click.echo(f"reversal of payment {reversal.payment_id} sent to account {account}")


@click.group()
def balance() -> None:
    """What billing changes on an open account: charges, interest, credit notes, write-downs."""


@balance.command()
@account_argument()
@click.option("--id", "change_id", required=True, help="billing's id: a resend changes nothing")
@click.option("--kind", required=True, type=choice(BalanceKind))
@click.option("--amount", required=True, help="in major units, positive whichever way it goes, e.g. 12.34")
@click.option("--reason", required=True)
@click.option("--invoice", "invoice_id", help="the invoice it is for (B2B); a new one with --due-date")
@click.option("--due-date", help="the due date of the new invoice a charge opens, e.g. 2026-12-01")
@click.option("--effective-at", help="ISO 8601 with offset; default now")
@run_async
async def post(
    account: str,
    change_id: str,
    kind: str,
    amount: str,
    reason: str,
    invoice_id: str | None,
    due_date: str | None,
    effective_at: str | None,
) -> None:
    """Post billing's change to the account (refusals show in `accounts status`)."""
    collections = await connect()
    currency = await collections.currency(account)
    change = inputs.parse_balance_change(change_id, kind, amount, currency, reason, invoice_id, due_date, effective_at)
    await collections.change_balance(account, change)
    click.echo(f"{change.kind} {change.change_id} sent to account {account} (refusals show in `accounts status`)")
