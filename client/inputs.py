"""Typed-in text made into the orchestrator's payloads: every input is checked here first, so a bad request fails
with one clear line that names the field, and nothing reaches Temporal.
"""

from __future__ import annotations

import csv
import json
import re
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from dunning.account import (
    PAYMENT_ID_MAX,
    PHONE_KINDS,
    AccountDocument,
    BalanceChanged,
    Clock,
    ContactPoint,
    DemoClock,
    PaymentReceived,
    PaymentReversed,
    problems,
)
from dunning.approvals import ApprovalDecision
from dunning.commitments import PlanProposed, PromiseMade
from dunning.concessions import ConcessionDecided, ConcessionGranted, ConcessionReversed
from dunning.contact import CeaseContact
from dunning.contact_points import ContactPointError, checked_document, checked_phone, checked_point, needs_country
from dunning.disputes import DisputeOpened, DisputeResolved
from dunning.fraud import CreditorDecided, DeclarationSigned, FraudClaimed
from dunning.letters import LetterDelivery
from dunning.money import exponent, to_minor
from dunning.outcomes import ContactOutcome, ContactUpdated
from dunning.placements import AgencyReport, RecallRequest
from dunning.policy import PolicyError, load_policy
from dunning.segments import SegmentationError, load_segmentation
from dunning.statements import MONTH, StatementConfirmed
from dunning.verification import DebtorEventReported, DocumentsVerified
from dunning.visits import VisitReport
from infra import call_queue
from infra.config import Settings

CSV_CONTACT_COLUMNS = ("mobile", "home_phone", "work_phone", "email", "address")
CSV_REQUIRED = ("account_id", "debtor_name", "time_zone", "currency", "amount_due", "due_date")
CSV_OPTIONAL = (
    "policy",
    "product",
    "segment",
    "country",
    "locale",
    "creditor",
    "income_band",
    "employment",
    "prior_delinquencies",
    "prior_broken_promises",
    "last_payment_on",
    "limitation_ends_on",
)


P = TypeVar("P", bound=BaseModel)


class InputError(ValueError):
    """Bad input from billing or ops; the message says what was wrong and where."""


def explain(err: ValidationError, where: str = "") -> str:
    return (f"{where}: " if where else "") + problems(err)


def parse_document(data: object, where: str = "account document", names: list[str] | None = None) -> AccountDocument:
    """`names`: the contact points' field names in errors, if not contact_points.N.value (a CSV row's columns)."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object")
    try:
        document = AccountDocument.model_validate(data)
    except ValidationError as err:
        raise InputError(explain(err, where)) from None
    document = check_contact_points(document, where, names)
    check_treatable(document, where)
    return document


def check_contact_points(
    document: AccountDocument, where: str = "account document", names: list[str] | None = None
) -> AccountDocument:
    """The document as it is kept: its country named, phones in E.164 with their line type, e-mail addresses
    normalised; an InputError naming each point that is not a valid number or address."""
    try:
        return checked_document(document, names)
    except ContactPointError as err:
        raise InputError(f"{where}: {err}") from None
    except ValidationError as err:  # a check of the whole, on the numbers as now written
        raise InputError(explain(err, where)) from None


def check_treatable(document: AccountDocument, where: str = "account document") -> None:
    """The policy it names loads, or the segmentation in force treats its product (the worker then chooses)."""
    try:
        if document.policy is not None:
            load_policy(document.policy)
        else:
            _check_product(document.product)
    except (PolicyError, SegmentationError) as err:
        raise InputError(f"{where}: {err}") from None


def _check_product(product: str | None) -> None:
    """The worker chooses the policy; what can be checked here is that the segmentation in force treats the
    product."""
    settings = Settings.from_env()
    if settings.segmentation is None:
        raise SegmentationError("policy: no segmentation is in force (SEGMENTATION=none), so name a policy")
    segmentation = load_segmentation(settings.segmentation, settings.segmentation_dir)
    if product not in segmentation.treatments:
        known = ", ".join(sorted(segmentation.treatments))
        raise SegmentationError(f"product: segmentation {segmentation.ref} treats no {product!r}; it treats {known}")


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
    contact_columns = [kind for kind in CSV_CONTACT_COLUMNS if cell.get(kind)]
    data = {
        **{column: cell[column] for column in CSV_REQUIRED if column != "amount_due"},
        "contact_points": [{"kind": kind, "value": cell[kind]} for kind in contact_columns],
        "amount_due_minor": amount_minor,
        **{column: cell[column] for column in CSV_OPTIONAL if cell.get(column)},
    }
    return parse_document(data, where, contact_columns)


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
        when = datetime.fromisoformat(paid_at) if paid_at else now()
    except ValueError:
        raise InputError(f"--paid-at: {paid_at!r} is not an ISO 8601 date-time") from None
    if when.tzinfo is None:
        raise InputError(f"--paid-at: {paid_at!r} needs a UTC offset, e.g. 2026-11-22T10:00:00+08:00")
    return when


def parse_payment(
    amount: str, payment_id: str, currency: str, paid_at: str | None = None, invoice_id: str | None = None
) -> PaymentReceived:
    when = check_payment_args(amount, payment_id, paid_at)
    try:
        amount_minor = to_minor(amount, currency)
    except ValueError as err:
        raise InputError(f"--amount: {err}") from None
    return _payload(
        PaymentReceived,
        "payment",
        payment_id=payment_id,
        amount_minor=amount_minor,
        currency=currency,
        paid_at=when,
        invoice_id=invoice_id,
    )


def parse_balance_change(
    change_id: str,
    kind: str,
    amount: str,
    currency: str,
    reason: str,
    invoice_id: str | None = None,
    due_date: str | None = None,
    effective_at: str | None = None,
) -> BalanceChanged:
    """Billing's charge, interest, credit note or write-down, typed in: the amount in major units of the account's
    currency, positive whichever way it moves the balance."""
    if (amount_minor := _minor(amount, currency, "--amount")) <= 0:
        raise InputError(f"--amount must be positive, got {amount}")
    return _payload(
        BalanceChanged,
        "balance change",
        change_id=change_id,
        kind=kind,
        amount_minor=amount_minor,
        currency=currency,
        invoice_id=invoice_id,
        due_date=parse_day(due_date, "--due-date") if due_date else None,
        reason=reason,
        effective_at=_instant(effective_at, "--effective-at"),
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
        return datetime.fromisoformat(text) if text else now()
    except ValueError:
        raise InputError(f"{flag}: {text!r} is not an ISO 8601 date-time") from None


def _payload(model: type[P], what: str, **fields) -> P:
    """A signal payload from typed-in fields; a bad field is an InputError that names it."""
    try:
        return model(**fields)
    except ValidationError as err:
        raise InputError(explain(err, what)) from None


_business = Clock(None)


def follow(demo: DemoClock | None) -> None:
    """Under the local stack's demo clock, what people type is dated in its business time, as its accounts are."""
    global _business
    _business = Clock(demo)


def now() -> datetime:
    """The moment news typed in now is dated: business time (real time but under a demo clock)."""
    return _business.business(datetime.now(UTC))


def parse_cease(channels: list[str], reason: str, request_id: str | None = None) -> CeaseContact:
    return _payload(
        CeaseContact,
        "cease request",
        request_id=request_id or uuid.uuid4().hex,
        channels=channels,
        reason=reason,
        received_at=now(),
    )


def parse_dispute(dispute_id: str, subject: str, details: str) -> DisputeOpened:
    return _payload(DisputeOpened, "dispute", dispute_id=dispute_id, subject=subject, details=details, opened_at=now())


def parse_resolution(dispute_id: str, outcome: str) -> DisputeResolved:
    return _payload(DisputeResolved, "dispute resolution", dispute_id=dispute_id, outcome=outcome, resolved_at=now())


def parse_statement_confirmation(month: str, by: str, note: str) -> StatementConfirmed:
    if not re.match(MONTH, month):
        raise InputError(f"--month: a month as YYYY-MM, e.g. 2026-12, not {month!r}")
    return _payload(
        StatementConfirmed, "statement confirmation", month=month, confirmed_by=by, note=note, confirmed_at=now()
    )


def parse_debtor_event(report_id: str, event: str, details: str) -> DebtorEventReported:
    return _payload(DebtorEventReported, "report", report_id=report_id, event=event, details=details, reported_at=now())


def parse_documents(report_id: str, confirmed: bool) -> DocumentsVerified:
    return _payload(DocumentsVerified, "verification", report_id=report_id, confirmed=confirmed, verified_at=now())


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


def parse_period(first_day: str, last_day: str) -> tuple[date, date]:
    """`--from` and `--to`, both days included."""
    first, last = parse_day(first_day, "--from"), parse_day(last_day, "--to")
    if last < first:
        raise InputError(f"--to {last} is before --from {first}")
    return first, last


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
        made_at=now(),
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
        PlanProposed, "plan", plan_id=plan_id, instalments=parsed, cause=cause, agreed_by=agreed_by, agreed_at=now()
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
        occurred_at=now(),
    )


def parse_contact_update(
    update_id: str, kind: str, value: str, owner: str, relation: str | None, replaces: str | None, source: str
) -> ContactUpdated:
    """The update as typed, its point checked if that needs no account (an e-mail address, a phone in E.164); a
    national number is checked in the account's country by the client's `update_contact`."""
    point = _payload(ContactPoint, "contact point", kind=kind, value=value, owner=owner, relation=relation)
    update = _payload(
        ContactUpdated,
        "contact update",
        update_id=update_id,
        point=point,
        replaces=replaces,
        source=source,
        updated_at=now(),
    )
    return update if needs_country(point) else check_contact_update(update, None)


def check_contact_update(update: ContactUpdated, country: str | None) -> ContactUpdated:
    """The update with its point as it is kept (a national number read in `country`, the account's), or an
    InputError naming the field."""
    try:
        point = checked_point(update.point, country)
    except ValueError as err:
        raise InputError(f"contact update: point.value: {err}") from None
    replaces = update.replaces
    if replaces is not None and point.kind in PHONE_KINDS:
        # Phones on file are in E.164 (they always were), so the one it corrects may be typed as the new one was.
        try:
            replaces = checked_phone(replaces, country)[0]
        except ValueError:
            pass  # not a number: the account refuses it as a point that is not on file
    return update.model_copy(update={"point": point, "replaces": replaces})


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
    accompanied_by: list[str] | None = None,
    sent: list[str] | None = None,
) -> VisitReport:
    """A visit report; `sent`: the agents the order was handed to (none yet: anyone may report it)."""
    report = _payload(
        VisitReport,
        "visit report",
        report_id=report_id,
        visit_ref=visit_ref,
        finding=finding,
        address=address,
        agent=agent,
        accompanied_by=accompanied_by or [],
        notes=notes,
        photos=photos,
        promised_minor=_minor(promised_amount, currency, "--promised-amount") if promised_amount else None,
        promised_date=parse_day(promised_date, "--promised-date") if promised_date else None,
        visited_at=_instant(visited_at, "--at"),
    )
    if sent and (strangers := sorted(report.staff() - set(sent))):
        raise InputError(f"{', '.join(strangers)} not sent on visit order {visit_ref} (sent: {', '.join(sent)})")
    return report


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
        requested_at=now(),
    )


def parse_fraud_claim(claim_id: str, clues: str, taken_by: str) -> FraudClaimed:
    return _payload(FraudClaimed, "fraud claim", claim_id=claim_id, clues=clues, taken_by=taken_by, claimed_at=now())


def parse_declaration(place: str) -> DeclarationSigned:
    return _payload(DeclarationSigned, "declaration", place=place, signed_at=now())


def parse_creditor_decision(confirmed: bool, reference: str, recorded_by: str | None = None) -> CreditorDecided:
    return _payload(
        CreditorDecided,
        "creditor decision",
        confirmed=confirmed,
        reference=reference,
        recorded_by=recorded_by,
        decided_at=now(),
    )


def parse_approval(
    approval_ref: str, approved: bool, approver: str, note: str, operator: str | None = None
) -> ApprovalDecision:
    return _payload(
        ApprovalDecision,
        "approval decision",
        approval_ref=approval_ref,
        approved=approved,
        approver=approver,
        operator=operator,
        note=note,
        decided_at=now(),
    )


def check_furnished(bureau_ref: str, by: str, at: str | None) -> datetime:
    """What `bureau sent` is given: the bureau's reference for the submission, who sent it, and when (now, or --at
    with its UTC offset)."""
    _check_name(bureau_ref, "--bureau-ref")
    _check_name(by, "--by")
    return _moment(at)


def parse_concession(
    concession_id: str,
    kind: str,
    amount: str | None,
    days: int | None,
    currency: str,
    reason: str,
    granted_by: str,
    roles: list[str],
) -> ConcessionGranted:
    """A concession typed in: an amount in major units of the account's currency, or days for a plan extension."""
    if (amount is None) == (days is None):
        raise InputError("give --amount (money given up) or --days (a plan extension), one of them")
    return _payload(
        ConcessionGranted,
        "concession",
        concession_id=concession_id,
        kind=kind,
        amount_minor=_minor(amount, currency, "--amount") if amount is not None else 0,
        days=days or 0,
        granted_by=granted_by,
        roles=roles,
        reason=reason,
        granted_at=now(),
    )


def parse_concession_decision(
    concession_id: str, approved: bool, approver: str, note: str, operator: str
) -> ConcessionDecided:
    return _payload(
        ConcessionDecided,
        "concession decision",
        concession_id=concession_id,
        approved=approved,
        approver=approver,
        operator=operator,
        note=note,
        decided_at=now(),
    )


def parse_concession_reversal(concession_id: str, reason: str, reversed_by: str) -> ConcessionReversed:
    return _payload(
        ConcessionReversed,
        "concession reversal",
        concession_id=concession_id,
        reason=reason,
        reversed_by=reversed_by,
        reversed_at=now(),
    )


def check_call_taker(queue: str, collector: str, at: str | None) -> datetime:
    """What `calls next` is given, checked before the queue is touched; returns the moment the call is taken at
    (now, or --at: under `make run DAY_SECONDS=...` business time runs faster than the wall clock)."""
    if not queue.strip():
        raise InputError("--queue must name a collector queue, e.g. phone_team_1")
    return check_collector_at(collector, at)


def check_collector_at(collector: str, at: str | None) -> datetime:
    """Who did it, and when (now, or --at with its UTC offset)."""
    _check_name(collector, "--collector")
    return _moment(at)


def _check_name(value: str, flag: str) -> None:
    if not value.strip() or len(value) > 128:
        raise InputError(f"{flag} must be 1 to 128 characters")


def _moment(at: str | None) -> datetime:
    """Now, or the --at given, which must carry its UTC offset."""
    when = _instant(at, "--at")
    if when.tzinfo is None:
        raise InputError(f"--at: {at!r} needs a UTC offset, e.g. 2026-11-22T10:00:00+08:00")
    return when


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
