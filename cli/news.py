"""What the debtor, collectors and the creditor tell an account: disputes, reports, contacts, promises, plans, fraud."""

from __future__ import annotations

import click

from cli.common import choice, connect, field_choice, run_async, verdict
from cli.signed_in import account_argument, decider, who
from client import inputs
from dunning.account import ContactKind, ContactPoint
from dunning.commitments import HardshipCause, PromiseChannel
from dunning.contact import CONTACT_CHANNELS
from dunning.disputes import DisputeOutcome, DisputeSubject
from dunning.fraud import DeclarationSigned
from dunning.outcomes import OutcomeCode
from dunning.verification import DebtorEvent

# People and dialers report outcomes here; those of texts, e-mails and letters come from their channels.
OUTCOME_SOURCES = ("collector", "dialer", "field_visit")


@click.group()
def disputes() -> None:
    """Disputes of the debt and complaints, and their resolution."""


@disputes.command("open")
@account_argument()
@click.option("--id", "dispute_id", required=True)
@click.option("--subject", required=True, type=choice(DisputeSubject))
@click.option("--details", required=True)
@run_async
async def open_dispute(account: str, dispute_id: str, subject: str, details: str) -> None:
    """The debtor disputes the debt, or complains."""
    dispute = inputs.parse_dispute(dispute_id, subject, details)
    await (await connect()).signal(account, "dispute_opened", dispute)
    click.echo(f"dispute {dispute.dispute_id} opened on account {account}")


@disputes.command()
@account_argument()
@click.option("--id", "dispute_id", required=True)
@click.option("--outcome", required=True, type=choice(DisputeOutcome))
@run_async
async def resolve(account: str, dispute_id: str, outcome: str) -> None:
    """A dispute or complaint was resolved."""
    resolution = inputs.parse_resolution(dispute_id, outcome)
    await (await connect()).signal(account, "dispute_resolved", resolution)
    click.echo(f"dispute {resolution.dispute_id} resolved ({resolution.outcome}) on account {account}")


@click.group()
def debtors() -> None:
    """Death and bankruptcy reports, and their documents."""


@debtors.command()
@account_argument()
@click.option("--id", "report_id", required=True)
@click.option("--event", required=True, type=choice(DebtorEvent))
@click.option("--details", required=True)
@run_async
async def report(account: str, report_id: str, event: str, details: str) -> None:
    """The debtor is reported deceased or bankrupt: contact stops until the documents are checked."""
    reported = inputs.parse_debtor_event(report_id, event, details)
    await (await connect()).signal(account, "debtor_event_reported", reported)
    click.echo(f"{reported.event} report {reported.report_id} opened on account {account}: contact stopped")


@debtors.command()
@account_argument()
@click.option("--id", "report_id", required=True)
@verdict("--confirmed", "--not-confirmed", "what the documents showed")
@run_async
async def verify(account: str, report_id: str, confirmed: bool) -> None:
    """The documents of a death or bankruptcy report were checked."""
    documents = inputs.parse_documents(report_id, confirmed)
    await (await connect()).signal(account, "documents_verified", documents)
    click.echo(f"report {documents.report_id} {'confirmed' if documents.confirmed else 'not confirmed'}")


@click.group()
def contacts() -> None:
    """Stop contact, report how one ended, add or correct a point."""


@contacts.command()
@account_argument()
@click.option(
    "--channel",
    "channels",
    multiple=True,
    type=click.Choice([c.value for c in CONTACT_CHANNELS]),
    help="repeat for several; none means every channel",
)
@click.option("--reason", required=True)
@click.option("--request-id", help="makes a resent request count once; default: a new id")
@run_async
async def cease(account: str, channels: tuple[str, ...], reason: str, request_id: str | None) -> None:
    """The debtor asked us to stop contacting them."""
    request = inputs.parse_cease(list(channels), reason, request_id)
    await (await connect()).cease(account, request)
    ceased = ", ".join(sorted(c.value for c in request.ceased()))
    click.echo(f"contact ceased on {ceased} for account {account}")


@contacts.command()
@account_argument()
@click.option("--id", "outcome_id", required=True)
@click.option("--code", required=True, type=choice(OutcomeCode))
@click.option("--source", required=True, type=click.Choice(OUTCOME_SOURCES))
@click.option("--reported-by", help="who reports it (default: the signed-in operator)")
@click.option("--point", help="the number dialled or address visited, as on file")
@click.option("--note", default="")
@run_async
async def outcome(
    account: str, outcome_id: str, code: str, source: str, reported_by: str | None, point: str | None, note: str
) -> None:
    """How a call or visit ended (the outcome tree)."""
    reported = inputs.parse_outcome(outcome_id, code, source, who(reported_by, "--reported-by"), point, note)
    await (await connect()).signal(account, "contact_outcome", reported)
    click.echo(f"outcome {reported.outcome_id} ({reported.code}) sent to account {account}")


@contacts.command()
@account_argument()
@click.option("--id", "update_id", required=True)
@click.option("--kind", required=True, type=choice(ContactKind))
@click.option("--value", required=True, help="a phone in E.164 or as written in the account's country; an e-mail ...")
@click.option("--owner", default="debtor", show_default=True, type=field_choice(ContactPoint, "owner"))
@click.option("--relation", help="the contact's relation to the debtor, e.g. spouse")
@click.option("--replaces", help="the value on file that this corrects")
@click.option("--source", required=True, help="who found it: debtor, tracing, field_visit ...")
@run_async
async def update(
    account: str,
    update_id: str,
    kind: str,
    value: str,
    owner: str,
    relation: str | None,
    replaces: str | None,
    source: str,
) -> None:
    """Add or correct a contact point."""
    updated = inputs.parse_contact_update(update_id, kind, value, owner, relation, replaces, source)
    updated = await (await connect()).update_contact(account, updated)
    click.echo(f"contact update {updated.update_id} sent to account {account}")


@click.group()
def promises() -> None:
    """Promises to pay."""


@promises.command()
@account_argument()
@click.option("--id", "promise_id", required=True)
@click.option("--amount", required=True, help="in major units, e.g. 500.00")
@click.option("--date", "promised_date", required=True, help="the promised date, e.g. 2026-12-01")
@click.option("--hour", help="the promised local time, e.g. 14:00")
@click.option("--channel", required=True, type=choice(PromiseChannel))
@click.option("--taken-by", help="who took it (default: the signed-in operator)")
@run_async
async def make(
    account: str, promise_id: str, amount: str, promised_date: str, hour: str | None, channel: str, taken_by: str | None
) -> None:
    """The debtor promised to pay an amount on a date (refusals show in `accounts status`)."""
    taker = who(taken_by, "--taken-by")
    collections = await connect()
    currency = await collections.currency(account)
    promise = inputs.parse_promise(promise_id, amount, currency, promised_date, hour, channel, taker)
    await collections.signal(account, "promise_made", promise)
    click.echo(f"promise {promise.promise_id} sent to account {account} (refusals show in `accounts status`)")


@click.group()
def plans() -> None:
    """Repayment plans."""


@plans.command()
@account_argument()
@click.option("--id", "plan_id", required=True)
@click.option("--instalment", "instalments", multiple=True, required=True, help="DATE=AMOUNT; repeat, in date order")
@click.option("--cause", required=True, type=choice(HardshipCause))
@click.option("--agreed-by", help="who agreed it (default: the signed-in operator)")
@run_async
async def agree(account: str, plan_id: str, instalments: tuple[str, ...], cause: str, agreed_by: str | None) -> None:
    """Agree a repayment plan (answered at once: agreed, or why not)."""
    agreer = who(agreed_by, "--agreed-by")
    collections = await connect()
    currency = await collections.currency(account)
    plan = inputs.parse_plan(plan_id, list(instalments), currency, cause, agreer)
    agreed = await collections.agree_plan(account, plan)
    click.echo(f"plan {agreed.commitment_id} agreed on account {account}: {len(agreed.instalments)} instalments")


@click.group()
def fraud() -> None:
    """Never applied: the claim, the declaration, the decision."""


@fraud.command()
@account_argument()
@click.option("--id", "claim_id", required=True)
@click.option("--clues", required=True)
@click.option("--taken-by", help="who took it (default: the signed-in operator)")
@run_async
async def claim(account: str, claim_id: str, clues: str, taken_by: str | None) -> None:
    """The debtor says they never applied: contact stops."""
    claimed = inputs.parse_fraud_claim(claim_id, clues, who(taken_by, "--taken-by"))
    await (await connect()).signal(account, "fraud_claimed", claimed)
    click.echo(f"fraud claim {claimed.claim_id} opened on account {account}: contact stopped")


@fraud.command()
@account_argument()
@click.option("--id", "claim_id", required=True)
@click.option("--place", required=True, type=field_choice(DeclarationSigned, "place"))
@run_async
async def sign(account: str, claim_id: str, place: str) -> None:
    """The debtor signed the did-not-apply declaration."""
    await (await connect()).signal_claim(account, claim_id, "declaration_signed", inputs.parse_declaration(place))
    click.echo(f"declaration of fraud claim {claim_id} signed")


@fraud.command()
@account_argument("decide_fraud")
@click.option("--id", "claim_id", required=True)
@verdict("--confirmed", "--rejected", "the creditor's decision")
@click.option("--reference", required=True, help="the creditor's reference for its decision")
@run_async
async def decide(account: str, claim_id: str, confirmed: bool, reference: str) -> None:
    """A signed-in operator records the creditor's decision on a fraud claim."""
    operator = decider("record fraud decisions")
    decision = inputs.parse_creditor_decision(confirmed, reference, recorded_by=operator.name)
    await (await connect()).signal_claim(account, claim_id, "creditor_decided", decision)
    answer = "confirmed" if decision.confirmed else "rejected"
    click.echo(f"fraud claim {claim_id} {answer} by the creditor, recorded by {operator.name}")
