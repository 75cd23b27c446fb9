"""A letter as the facts it states, fixed when its step is taken, and the delivery evidence the mail vendor
returns. Rendering those facts into a document is infra/letters.py's job."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, Field, model_validator

from dunning import bureau
from dunning.account import EventId, Payload, local_date
from dunning.change import Change
from dunning.channels import work_order_ref
from dunning.ladder import dpd_at
from dunning.ledger import InvoiceBalance
from dunning.outcomes import ContactEffect, ContactOutcome, apply_outcome
from dunning.policy_rules import PointFailure

if TYPE_CHECKING:
    from dunning.collection import Collection
    from dunning.orders import StepOrder

DeliveryStatus = Literal["sent", "signed", "returned"]
# Why a vendor returns a letter. Those that say the debtor is not at the address make it a failed address, counted
# as the policy counts `address_invalid` (a returned letter is the post office's word, not a guess on the phone).
ReturnReason = Literal["moved", "address_invalid", "no_such_person", "refused", "unclaimed"]
ADDRESS_FAILS = ("moved", "address_invalid", "no_such_person")


def letter_ref(action_key: str) -> str:
    return work_order_ref("L", action_key)


class LetterFacts(Payload):
    """Everything a letter states; a letter rendered twice from the same facts is the same document."""

    letter_ref: str
    template: str
    letter_kind: str
    locale: str
    delivery: str
    letter_date: date  # the debtor's local date when the step was taken
    creditor: str
    debtor_name: str
    address: str
    account_id: str
    currency: str
    original_minor: int
    paid_minor: int
    late_fee_minor: int
    outstanding_minor: int
    charged_minor: int = 0  # billing's charges and interest since the due date
    credited_minor: int = 0  # billing's credit notes and write-downs
    waived_minor: int = 0  # what the creditor gave up: fees waived, a settlement discount, a plan reduced
    invoices: list[InvoiceBalance] = []  # a B2B account's invoices as they stand: a statement lists them
    due_date: date
    dpd: int
    next_stage_dpd: int | None = None
    late_fee_rate_per_day: Decimal | None = None
    validation_period_ends: date | None = None
    time_barred_disclosure: str = ""  # the rule set's words on a time-barred debt (12 CFR 1006.26)


def letter_facts(order: StepOrder) -> LetterFacts:
    step = order.step
    if step.template is None or step.letter_kind is None or step.delivery is None:
        raise ValueError(f"step {step.id!r} is not a letter")
    return _facts(order, step.template, step.letter_kind, step.delivery, order.contact_points[0].value)


def attachment_facts(order: StepOrder) -> LetterFacts:
    """An e-mail's attached letter: to the debtor's postal address on file, delivered with the mail."""
    letter, addresses = order.step.attach_letter, order.account.points("address")
    if letter is None:
        raise ValueError(f"step {order.step.id!r} attaches no letter")
    return _facts(order, letter, letter, "email", addresses[0].value if addresses else "")


def _facts(order: StepOrder, template: str, kind: str, delivery: str, address: str) -> LetterFacts:
    account = order.account
    return LetterFacts(
        letter_ref=letter_ref(order.action_key),
        template=template,
        letter_kind=kind,
        locale=account.locale,
        delivery=delivery,
        letter_date=local_date(order.taken_at, account.time_zone),
        creditor=account.creditor,
        debtor_name=account.debtor_name,
        address=address,
        account_id=account.account_id,
        currency=account.currency,
        original_minor=account.amount_due_minor,
        paid_minor=order.paid_minor,
        late_fee_minor=order.late_fee_minor,
        outstanding_minor=order.outstanding_minor,
        charged_minor=order.charged_minor,
        credited_minor=order.credited_minor,
        waived_minor=order.waived_minor,
        invoices=order.invoices,
        due_date=account.due_date,
        dpd=dpd_at(account, order.taken_at),
        next_stage_dpd=order.message.next_stage_dpd,
        late_fee_rate_per_day=order.message.late_fee_rate_per_day,
        validation_period_ends=order.message.validation_period_ends,
        time_barred_disclosure=order.message.time_barred_disclosure,
    )


class LetterDelivery(Payload):
    """The mail vendor's evidence for one letter: posted, signed for, or returned (and why)."""

    news: Literal["letter_delivery"] = Field(default="letter_delivery", exclude=True)  # its inbox tag
    event_id: EventId
    letter_ref: str = Field(min_length=1, max_length=32)
    status: DeliveryStatus
    reason: ReturnReason | None = None
    address: str = Field(min_length=1)  # the address the letter went to, as on file
    evidence: str = Field(default="", max_length=500)  # tracking number, scan of the signature ...
    occurred_at: AwareDatetime

    @model_validator(mode="after")
    def _reason_only_when_returned(self) -> LetterDelivery:
        if (self.status == "returned") != (self.reason is not None):
            raise ValueError("a returned letter needs a reason, and only a returned one has one")
        return self

    def address_failure(self) -> PointFailure | None:
        return "address_invalid" if self.reason in ADDRESS_FAILS else None


def apply_letter_delivery(case: Collection, delivery: LetterDelivery, now: datetime) -> Change[ContactEffect]:
    """The mail vendor's evidence; a letter returned because the address is wrong wears the address out as a
    failed visit would, so later letters and visits go elsewhere or not at all. A letter the furnishing gate counts
    learns when it was posted, or that it came back."""
    bureau.letter_delivered(case, delivery, now)
    failure = delivery.address_failure()
    if failure is not None:
        return apply_outcome(
            case,
            ContactOutcome(
                outcome_id=delivery.event_id,
                code=failure,
                source="letter",
                contact_point=delivery.address,
                reported_by="mail vendor",
                note=delivery.evidence,
                occurred_at=delivery.occurred_at,
            ),
            now,
        )
    if delivery.event_id in case.state.outcome_ids:
        return Change("duplicate")
    case.state.outcome_ids.append(delivery.event_id)
    return Change("applied")
