"""Field visits (domain §8): when one may be ordered, and what the agent's report means for the account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from dunning.account import MAX_MINOR, EventId, Payload
from dunning.channels import work_order_ref
from dunning.outcomes import ContactBook
from dunning.policy_rules import FieldVisitRules

VisitPurpose = Literal["pressure", "tracing"]


def visit_ref(action_key: str) -> str:
    return work_order_ref("V", action_key)


@dataclass(frozen=True)
class VisitDecision:
    """Go now (with why the visit is warranted, for the order), wait until `wait_until`, or not at all (`refusal`)."""

    reason: str = ""
    wait_until: datetime | None = None
    refusal: str = ""


def decide(
    rules: FieldVisitRules,
    purpose: VisitPurpose,
    book: ContactBook,
    last_conversation: datetime | None,
    last_paid: datetime | None,
    now: datetime,
) -> VisitDecision:
    if purpose == "tracing":
        if not book.debtor_phones_lost():
            return VisitDecision(refusal="a tracing visit only once every phone of the debtor is invalid")
        return VisitDecision(reason="every phone of the debtor is invalid")
    if last_conversation is None:
        return VisitDecision(refusal="a pressure visit follows a contact with the debtor, and there has been none")
    if last_paid is not None and last_paid >= last_conversation:
        return VisitDecision(refusal="money came after the last contact with the debtor")
    ripe = last_conversation + timedelta(hours=rules.pressure_after_contact_hours)
    if now < ripe:
        return VisitDecision(wait_until=ripe)
    return VisitDecision(
        reason=f"no money came in the {rules.pressure_after_contact_hours} h after the contact of "
        f"{last_conversation:%Y-%m-%d %H:%M} UTC"
    )


VisitFinding = Literal["found", "not_found", "address_invalid", "promised", "paid"]
# What a visit's finding means in the outcome tree (domain §6).
OUTCOME_OF: dict[str, str] = {
    "found": "reached",
    "not_found": "not_found",
    "address_invalid": "address_invalid",
    "promised": "promised",
    "paid": "says_paid",
}


class VisitReport(Payload):
    """A field agent's report of one visit; a promise made at the door carries its amount and day."""

    report_id: EventId
    visit_ref: str = Field(min_length=1, max_length=32)
    finding: VisitFinding
    address: str = Field(min_length=1)  # the address visited, as on the order
    agent: str = Field(min_length=1, max_length=128)
    notes: str = Field(default="", max_length=2000)
    photos: list[str] = Field(default=[], max_length=20)  # references in the photo store, not the photos
    promised_minor: int | None = Field(default=None, gt=0, le=MAX_MINOR)
    promised_date: date | None = None
    visited_at: AwareDatetime

    @model_validator(mode="after")
    def _promise_only_when_promised(self) -> VisitReport:
        promise = (self.promised_minor, self.promised_date)
        if self.finding == "promised" and None in promise:
            raise ValueError("a promise made at the door needs promised_minor and promised_date")
        if self.finding != "promised" and promise != (None, None):
            raise ValueError("promised_minor and promised_date belong to a visit whose finding is 'promised'")
        if any(not ref.strip() or len(ref) > 300 for ref in self.photos):
            raise ValueError("each photo reference must be 1 to 300 characters")
        return self
