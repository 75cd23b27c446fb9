"""What billing and ops do to accounts from outside Temporal: open them, report payments, read their state.

Every input is checked here first, so a bad request fails with one clear line and nothing reaches Temporal.
"""

from __future__ import annotations

import asyncio
import csv
import json
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

import asyncpg
from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from dunning.account import (
    PAYMENT_ID_MAX,
    AccountDocument,
    ContactPoint,
    DemoClock,
    PaymentReceived,
    PaymentReversed,
    problems,
    workflow_id,
)
from dunning.approvals import ApprovalDecision
from dunning.commitments import Commitment, PlanProposed, PromiseMade
from dunning.contact import CeaseContact
from dunning.disputes import DisputeOpened, DisputeResolved
from dunning.fraud import CreditorDecided, DeclarationSigned, FraudClaimed, claim_workflow_id
from dunning.letters import LetterDelivery
from dunning.money import exponent, to_minor
from dunning.outcomes import ContactOutcome, ContactUpdated
from dunning.placements import AgencyReport, RecallRequest
from dunning.policy import PolicyError, load_policy
from dunning.state import AccountRun
from dunning.verification import DebtorEventReported, DocumentsVerified
from dunning.view import AccountView
from dunning.visits import VisitReport
from infra import call_queue
from workflows import search_attributes as sa
from workflows.account import AccountWorkflow

CSV_CONTACT_COLUMNS = ("mobile", "home_phone", "work_phone", "email", "address")
CSV_REQUIRED = ("account_id", "debtor_name", "time_zone", "currency", "amount_due", "due_date", "policy")
CSV_OPTIONAL = ("segment", "locale", "creditor")


P = TypeVar("P", bound=BaseModel)


class InputError(ValueError):
    """Bad input from billing or ops; the message says what was wrong and where."""


def explain(err: ValidationError, where: str = "") -> str:
    return (f"{where}: " if where else "") + problems(err)


def parse_document(data: object, where: str = "account document") -> AccountDocument:
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object")
    try:
        document = AccountDocument.model_validate(data)
    except ValidationError as err:
        raise InputError(explain(err, where)) from None
    try:
        load_policy(document.policy)
    except PolicyError as err:
        raise InputError(f"{where}: {err}") from None
    return document


def parse_json_document(text: str) -> AccountDocument:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"account document is not valid JSON: {err}") from None
    return parse_document(data)


def parse_csv(path: Path) -> list[AccountDocument]:
    """All rows or none: the first bad row stops the import before any account is opened."""
    # utf-8-sig: spreadsheets save CSV with a byte-order mark.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        missing = [c for c in CSV_REQUIRED if c not in columns]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
        unknown = [c for c in columns if c not in CSV_REQUIRED + CSV_OPTIONAL + CSV_CONTACT_COLUMNS]
        if unknown:  # a misspelt column would otherwise drop its data silently
            raise InputError(f"{path}: unknown column(s) {', '.join(unknown)}")
        documents, seen = [], set()
        for row in reader:
            document = _csv_document(row, f"{path}, line {reader.line_num}")
            if document.account_id in seen:
                raise InputError(
                    f"{path}, line {reader.line_num}: account_id {document.account_id!r} appears twice in the file"
                )
            seen.add(document.account_id)
            documents.append(document)
    if not documents:
        raise InputError(f"{path}: no accounts in the file")
    return documents


def _csv_document(row: dict[str, str | None], where: str) -> AccountDocument:
    cell = {key: (value or "").strip() for key, value in row.items() if key is not None}
    empty = [column for column in CSV_REQUIRED if not cell.get(column)]
    if empty:
        raise InputError(f"{where}: empty {', '.join(empty)}")
    try:
        exponent(cell["currency"])
    except ValueError as err:
        raise InputError(f"{where}: currency: {err}") from None
    try:
        amount_minor = to_minor(cell["amount_due"], cell["currency"])
    except ValueError as err:
        raise InputError(f"{where}: amount_due: {err}") from None
    data = {
        **{column: cell[column] for column in CSV_REQUIRED if column != "amount_due"},
        "contact_points": [{"kind": kind, "value": cell[kind]} for kind in CSV_CONTACT_COLUMNS if cell.get(kind)],
        "amount_due_minor": amount_minor,
        **{column: cell[column] for column in CSV_OPTIONAL if cell.get(column)},
    }
    return parse_document(data, where)


def check_payment_args(amount: str, payment_id: str, paid_at: str | None) -> datetime:
    """What can be checked before asking Temporal for the account's currency; returns when it was paid."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise InputError(f"--amount: {amount!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise InputError(f"--amount must be positive, got {amount}")
    if not payment_id.strip() or len(payment_id) > PAYMENT_ID_MAX:
        raise InputError(f"--payment-id must be 1 to {PAYMENT_ID_MAX} characters")
    try:
        when = datetime.fromisoformat(paid_at) if paid_at else datetime.now(UTC)
    except ValueError:
        raise InputError(f"--paid-at: {paid_at!r} is not an ISO 8601 date-time") from None
    if when.tzinfo is None:
        raise InputError(f"--paid-at: {paid_at!r} needs a UTC offset, e.g. 2026-11-22T10:00:00+08:00")
    return when


def parse_payment(amount: str, payment_id: str, currency: str, paid_at: str | None = None) -> PaymentReceived:
    when = check_payment_args(amount, payment_id, paid_at)
    try:
        amount_minor = to_minor(amount, currency)
    except ValueError as err:
        raise InputError(f"--amount: {err}") from None
    return PaymentReceived(payment_id=payment_id, amount_minor=amount_minor, currency=currency, paid_at=when)


async def open_account(
    client: Client, task_queue: str, document: AccountDocument, clock: DemoClock | None = None
) -> None:
    """Signal-with-start: opening the same account twice leaves the running workflow (and its pinned policy) as is.
    An account that has closed is not reopened by a resend (a stale billing feed must not restart dunning)."""
    run = AccountRun(account=document, policy=load_policy(document.policy), clock=clock)
    try:
        await client.start_workflow(
            AccountWorkflow.run,
            run,
            id=document.workflow_id,
            task_queue=task_queue,
            start_signal="account_document_received",
            start_signal_args=[document],
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        status = await execution_status(client, document.account_id)
        raise InputError(
            f"account {document.account_id!r} is closed ({status.name.lower()}); "
            "a closed account is not reopened by sending it again"
        ) from None


async def open_accounts(
    client: Client,
    task_queue: str,
    documents: list[AccountDocument],
    clock: DemoClock | None = None,
    concurrency: int = 64,
) -> None:
    """Opens a batch with a bounded number of starts in flight: fast for a portfolio, gentle on the server."""
    slots = asyncio.Semaphore(concurrency)

    async def one(document: AccountDocument) -> None:
        async with slots:
            await open_account(client, task_queue, document, clock)

    await asyncio.gather(*(one(document) for document in documents))


async def _execution(client: Client, account_id: str):
    """The latest run's raw description: raw, so decoding no search attribute can fail it (the time-skipping test
    server stores unset datetime attributes as null)."""
    try:
        response = await client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id(account_id))
            )
        )
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise InputError(f"unknown account {account_id!r}") from None
        raise
    return response.workflow_execution_info


async def execution_status(client: Client, account_id: str) -> WorkflowExecutionStatus:
    return WorkflowExecutionStatus((await _execution(client, account_id)).status)


async def account_currency(client: Client, account_id: str) -> str:
    """From the Currency search attribute, so reporting a payment needs no worker to answer a query."""
    published = (await _execution(client, account_id)).search_attributes.indexed_fields.get(sa.CURRENCY.name)
    if published is None:  # the account's first workflow task has not run yet
        return (await account_state(client, account_id)).currency
    return json.loads(published.data)


async def account_state(client: Client, account_id: str) -> AccountView:
    await execution_status(client, account_id)
    return await client.get_workflow_handle(workflow_id(account_id)).query(AccountWorkflow.state)


async def pay(client: Client, task_queue: str, account_id: str, payment: PaymentReceived) -> None:
    """A payment for an account that has closed is recorded as an overpayment: money is never dropped."""
    await _deliver_to_any_run(client, task_queue, account_id, "payment_received", payment)


async def reverse_payment(client: Client, task_queue: str, account_id: str, reversal: PaymentReversed) -> None:
    """A reversal that leaves money owing on a closed account reopens it."""
    await _deliver_to_any_run(client, task_queue, account_id, "payment_reversed", reversal)


async def cease_contact(client: Client, task_queue: str, account_id: str, request: CeaseContact) -> None:
    """A closed account records it too: should a reversal reopen the account, the debtor is still not contacted."""
    await _deliver_to_any_run(client, task_queue, account_id, "cease_contact", request)


async def _deliver_to_any_run(client: Client, task_queue: str, account_id: str, signal: str, payload) -> None:
    """Signals the running account; for one that has closed, starts a new run of the same workflow id from the
    closed run's result with the signal, which records it (and reopens the account if money is owed again)."""
    status = await execution_status(client, account_id)
    handle = client.get_workflow_handle_for(AccountWorkflow.run, workflow_id(account_id))
    if status == WorkflowExecutionStatus.RUNNING:
        try:
            await handle.signal(signal, payload)
            return
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: it closed in between
                raise
    closed = await handle.result()
    await client.start_workflow(
        AccountWorkflow.run,
        closed,
        id=workflow_id(account_id),
        task_queue=task_queue,
        start_signal=signal,
        start_signal_args=[payload],
    )


def parse_reversal(payment_id: str, reason: str, reversed_at: str | None = None) -> PaymentReversed:
    return _payload(
        PaymentReversed,
        "reversal",
        payment_id=payment_id,
        reason=reason,
        reversed_at=_instant(reversed_at, "--reversed-at"),
    )


def _instant(text: str | None, flag: str) -> datetime:
    """A typed-in moment (now if none); the model checks it carries a UTC offset."""
    try:
        return datetime.fromisoformat(text) if text else _now()
    except ValueError:
        raise InputError(f"{flag}: {text!r} is not an ISO 8601 date-time") from None


def _payload(model: type[P], what: str, **fields) -> P:
    """A signal payload from typed-in fields; a bad field is an InputError that names it."""
    try:
        return model(**fields)
    except ValidationError as err:
        raise InputError(explain(err, what)) from None


def _now() -> datetime:
    return datetime.now(UTC)


def parse_cease(channels: list[str], reason: str, request_id: str | None = None) -> CeaseContact:
    return _payload(
        CeaseContact,
        "cease request",
        request_id=request_id or uuid.uuid4().hex,
        channels=channels,
        reason=reason,
        received_at=_now(),
    )


def parse_dispute(dispute_id: str, subject: str, details: str) -> DisputeOpened:
    return _payload(DisputeOpened, "dispute", dispute_id=dispute_id, subject=subject, details=details, opened_at=_now())


def parse_resolution(dispute_id: str, outcome: str) -> DisputeResolved:
    return _payload(DisputeResolved, "dispute resolution", dispute_id=dispute_id, outcome=outcome, resolved_at=_now())


def parse_debtor_event(report_id: str, event: str, details: str) -> DebtorEventReported:
    return _payload(
        DebtorEventReported, "report", report_id=report_id, event=event, details=details, reported_at=_now()
    )


def parse_documents(report_id: str, confirmed: bool) -> DocumentsVerified:
    return _payload(DocumentsVerified, "verification", report_id=report_id, confirmed=confirmed, verified_at=_now())


async def signal_open_account(client: Client, account_id: str, signal: str, payload) -> None:
    """For what only an open account can act on (disputes, cease requests)."""
    if await execution_status(client, account_id) != WorkflowExecutionStatus.RUNNING:
        raise InputError(f"account {account_id!r} is closed")
    await client.get_workflow_handle(workflow_id(account_id)).signal(signal, payload)


def _minor(amount: str, currency: str, flag: str) -> int:
    try:
        return to_minor(amount, currency)
    except (ValueError, InvalidOperation) as err:
        raise InputError(f"{flag}: {err}") from None


def parse_day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{flag}: {text!r} is not a date such as 2026-12-01") from None


def parse_promise(
    promise_id: str, amount: str, currency: str, promised_date: str, hour: str | None, channel: str, taken_by: str
) -> PromiseMade:
    try:
        promised_hour = time.fromisoformat(hour) if hour else None
    except ValueError:
        raise InputError(f"--hour: {hour!r} is not a time such as 14:30") from None
    return _payload(
        PromiseMade,
        "promise",
        promise_id=promise_id,
        amount_minor=_minor(amount, currency, "--amount"),
        promised_date=parse_day(promised_date, "--date"),
        promised_hour=promised_hour,
        channel=channel,
        taken_by=taken_by,
        made_at=_now(),
    )


def parse_plan(plan_id: str, instalments: list[str], currency: str, cause: str, agreed_by: str) -> PlanProposed:
    """Instalments as DATE=AMOUNT, e.g. 2026-12-01=500.00."""
    parsed = []
    for text in instalments:
        day, separator, amount = text.partition("=")
        if not separator:
            raise InputError(f"--instalment: {text!r} is not DATE=AMOUNT, e.g. 2026-12-01=500.00")
        parsed.append(
            {"due_date": parse_day(day, "--instalment"), "amount_minor": _minor(amount, currency, "--instalment")}
        )
    return _payload(
        PlanProposed, "plan", plan_id=plan_id, instalments=parsed, cause=cause, agreed_by=agreed_by, agreed_at=_now()
    )


def parse_outcome(
    outcome_id: str, code: str, source: str, reported_by: str, contact_point: str | None, note: str
) -> ContactOutcome:
    return _payload(
        ContactOutcome,
        "contact outcome",
        outcome_id=outcome_id,
        code=code,
        source=source,
        reported_by=reported_by,
        contact_point=contact_point,
        note=note,
        occurred_at=_now(),
    )


def parse_contact_update(
    update_id: str, kind: str, value: str, owner: str, relation: str | None, replaces: str | None, source: str
) -> ContactUpdated:
    point = _payload(ContactPoint, "contact point", kind=kind, value=value, owner=owner, relation=relation)
    return _payload(
        ContactUpdated,
        "contact update",
        update_id=update_id,
        point=point,
        replaces=replaces,
        source=source,
        updated_at=_now(),
    )


def parse_letter_delivery(
    event_id: str,
    letter_ref: str,
    status: str,
    reason: str | None,
    evidence: str,
    address: str,
    occurred_at: str | None,
) -> LetterDelivery:
    return _payload(
        LetterDelivery,
        "letter delivery",
        event_id=event_id,
        letter_ref=letter_ref,
        status=status,
        reason=reason,
        evidence=evidence,
        address=address,
        occurred_at=_instant(occurred_at, "--at"),
    )


def parse_visit_report(
    report_id: str,
    visit_ref: str,
    finding: str,
    address: str,
    agent: str,
    notes: str,
    photos: list[str],
    promised_amount: str | None,
    promised_date: str | None,
    currency: str,
    visited_at: str | None,
) -> VisitReport:
    return _payload(
        VisitReport,
        "visit report",
        report_id=report_id,
        visit_ref=visit_ref,
        finding=finding,
        address=address,
        agent=agent,
        notes=notes,
        photos=photos,
        promised_minor=_minor(promised_amount, currency, "--promised-amount") if promised_amount else None,
        promised_date=parse_day(promised_date, "--promised-date") if promised_date else None,
        visited_at=_instant(visited_at, "--at"),
    )


def parse_agency_report(
    report_id: str, placement_ref: str, kind: str, amount: str | None, currency: str, note: str, occurred_at: str | None
) -> AgencyReport:
    return _payload(
        AgencyReport,
        "agency report",
        report_id=report_id,
        placement_ref=placement_ref,
        kind=kind,
        amount_minor=_minor(amount, currency, "--amount") if amount else None,
        note=note,
        occurred_at=_instant(occurred_at, "--at"),
    )


def parse_recall(request_id: str, reason: str, requested_by: str) -> RecallRequest:
    return _payload(
        RecallRequest,
        "recall request",
        request_id=request_id,
        reason=reason,
        requested_by=requested_by,
        requested_at=_now(),
    )


def parse_fraud_claim(claim_id: str, clues: str, taken_by: str) -> FraudClaimed:
    return _payload(FraudClaimed, "fraud claim", claim_id=claim_id, clues=clues, taken_by=taken_by, claimed_at=_now())


def parse_declaration(place: str) -> DeclarationSigned:
    return _payload(DeclarationSigned, "declaration", place=place, signed_at=_now())


def parse_creditor_decision(confirmed: bool, reference: str) -> CreditorDecided:
    return _payload(CreditorDecided, "creditor decision", confirmed=confirmed, reference=reference, decided_at=_now())


async def agree_plan(client: Client, account_id: str, plan: PlanProposed) -> Commitment:
    """The account checks the plan and answers at once, with the reason if it refuses it."""
    return await _update_open_account(
        client, account_id, AccountWorkflow.agree_plan, plan, f"plan {plan.plan_id} refused"
    )


async def _update_open_account(client: Client, account_id: str, update, payload, refused: str):
    """An update to an open account: its answer, or an InputError with the account's reason for refusing."""
    if await execution_status(client, account_id) != WorkflowExecutionStatus.RUNNING:
        raise InputError(f"account {account_id!r} is closed")
    try:
        return await client.get_workflow_handle_for(AccountWorkflow.run, workflow_id(account_id)).execute_update(
            update, payload
        )
    except WorkflowUpdateFailedError as err:
        raise InputError(f"{refused}: {getattr(err.cause, 'message', err.cause)}") from None


def parse_approval(approval_ref: str, approved: bool, approver: str, note: str) -> ApprovalDecision:
    return _payload(
        ApprovalDecision,
        "approval decision",
        approval_ref=approval_ref,
        approved=approved,
        approver=approver,
        note=note,
        decided_at=_now(),
    )


async def decide_approval(client: Client, account_id: str, decision: ApprovalDecision) -> str:
    """The account checks who decides and answers at once, with the reason if it cannot take the decision."""
    return await _update_open_account(
        client, account_id, AccountWorkflow.decide_approval, decision, f"approval {decision.approval_ref} not taken"
    )


async def signal_fraud_claim(client: Client, account_id: str, claim_id: str, signal: str, payload) -> None:
    """Declarations and the creditor's decision go to the claim's own workflow."""
    handle = client.get_workflow_handle(claim_workflow_id(account_id, claim_id))
    try:
        await handle.signal(signal, payload)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise InputError(f"no open fraud claim {claim_id!r} on account {account_id!r}") from None
        raise


def check_call_taker(queue: str, collector: str, at: str | None) -> datetime:
    """What `calls next` is given, checked before the queue is touched; returns the moment the call is taken at
    (now, or --at: under `make run DAY_SECONDS=...` business time runs faster than the wall clock)."""
    if not queue.strip():
        raise InputError("--queue must name a collector queue, e.g. phone_team_1")
    if not collector.strip() or len(collector) > 128:
        raise InputError("--collector must be 1 to 128 characters")
    when = _instant(at, "--at")
    if when.tzinfo is None:
        raise InputError(f"--at: {at!r} needs a UTC offset, e.g. 2026-11-22T10:00:00+08:00")
    return when


async def take_call(pool: asyncpg.Pool, queue: str, collector: str, now: datetime) -> dict | None:
    """The next call of the queue that may be made now, assigned to the collector (None: none may be made now)."""
    try:
        return await call_queue.take_next(pool, queue, collector, now)
    except call_queue.CallScriptsError as err:  # ops must add the hints: nothing was assigned
        raise InputError(str(err)) from None


def parse_call_outcome(
    outcome_id: str, code: str, number: str, collector: str, note: str, occurred_at: str | None = None
) -> ContactOutcome:
    """How one attempt on a call from the queue ended, as the collector reports it."""
    if code not in call_queue.CALL_OUTCOMES:
        raise InputError(f"--code: {code!r} is not an outcome of a call; one of: {', '.join(call_queue.CALL_OUTCOMES)}")
    if not number.strip():
        raise InputError("--number: the number dialled is required, as the call's phone order lists it")
    return _payload(
        ContactOutcome,
        "call outcome",
        outcome_id=outcome_id,
        code=code,
        source="collector",
        contact_point=number,
        reported_by=collector,
        note=note,
        occurred_at=_instant(occurred_at, "--at"),
    )


async def report_call_outcome(client: Client, pool: asyncpg.Pool, call_ref: str, outcome: ContactOutcome) -> str:
    """Checks the outcome against the call it is about (taken by this collector, a number of its phone order),
    records the attempt, then tells the account (`contact_outcome`); returns the account id. Recorded first, so a
    resend after a failed signal tells the account again, which counts the outcome id once. A refused report
    records nothing."""
    call = await call_queue.call_on_file(pool, call_ref)
    if call is None:
        raise InputError(f"no call {call_ref!r} taken from a collector queue (`calls next` gives the reference)")
    problem = call_queue.attempt_problem(call, outcome)
    if problem:
        raise InputError(problem)
    if await execution_status(client, call.account_id) != WorkflowExecutionStatus.RUNNING:
        raise InputError(f"account {call.account_id!r} is closed")
    problem = await call_queue.record_attempt(pool, call, outcome)
    if problem:
        raise InputError(problem)
    await signal_open_account(client, call.account_id, "contact_outcome", outcome)
    return call.account_id
