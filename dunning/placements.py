"""Placements with outside agencies (domain §1): the account handed over for a commission until a recall date, the
agency's payments and news coming back, and the recall."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from dunning.account import MAX_MINOR, EventId, Payload, PaymentReceived
from dunning.change import Change
from dunning.channels import work_order_ref
from dunning.policy_rules import Agency

if TYPE_CHECKING:
    from dunning.collection import Collection


class Placement(BaseModel):
    """The account's current placement, and what the agency has recovered on it."""

    placement_ref: str
    action_key: str  # of the step that filed it
    agency_id: str
    placed_at: datetime
    recall_at: datetime
    placed_minor: int
    commission_rate: Decimal
    recovered_minor: int = 0


def place(agency: Agency, action_key: str, outstanding_minor: int, now: datetime) -> Placement:
    return Placement(
        placement_ref=work_order_ref("P", action_key),
        action_key=action_key,
        agency_id=agency.id,
        placed_at=now,
        recall_at=now + timedelta(days=agency.recall_after_days),
        placed_minor=outstanding_minor,
        commission_rate=agency.commission_rate,
    )


class AgencyReport(Payload):
    """The agency's word on a placement: money it collected, news of the debtor, or the account handed back."""

    news: Literal["agency_report"] = Field(default="agency_report", exclude=True)  # its inbox tag
    report_id: EventId
    placement_ref: str = Field(min_length=1, max_length=32)
    kind: Literal["payment", "update", "returned"]
    amount_minor: int | None = Field(default=None, gt=0, le=MAX_MINOR)
    note: str = Field(default="", max_length=2000)
    occurred_at: AwareDatetime

    @model_validator(mode="after")
    def _amount_only_for_payments(self) -> AgencyReport:
        if (self.kind == "payment") != (self.amount_minor is not None):
            raise ValueError("a payment report needs amount_minor, and only a payment report has one")
        return self


class RecallRequest(Payload):
    """Ops take the account back from its agency before the recall date."""

    news: Literal["recall_request"] = Field(default="recall_request", exclude=True)  # its inbox tag
    request_id: EventId
    reason: str = Field(min_length=1, max_length=500)
    requested_by: str = Field(min_length=1, max_length=128)
    requested_at: AwareDatetime


PlacementEvent = Literal["placed", "report", "recalled", "settled"]


def start_placement(case: Collection, action_key: str, agency: Agency, now: datetime) -> Placement:
    case.state.placement = place(agency, action_key, case.state.ledger.outstanding_minor, now)
    return case.state.placement


def recall_due(case: Collection, now: datetime) -> bool:
    return case.state.placement is not None and now >= case.state.placement.recall_at


def end_placement(case: Collection) -> Placement | None:
    ended, case.state.placement = case.state.placement, None
    return ended


def apply_agency_event(case: Collection, event: AgencyReport | RecallRequest, now: datetime) -> Change[PlacementEvent]:
    """What the event does to the placement (recalled, or a report to file); an agency's payment comes with it as
    news, for the ledger as any payment."""
    state, placement = case.state, case.state.placement
    event_id = event.report_id if isinstance(event, AgencyReport) else event.request_id
    if event_id in state.agency_event_ids:
        return Change("duplicate")
    state.agency_event_ids.append(event_id)
    if isinstance(event, RecallRequest):
        if placement is None:
            state.record_rejection(f"recall {event_id}: the account is not placed")
            return Change("refused", "the account is not placed")
        return Change("applied", detail="recalled")
    if placement is None or placement.placement_ref != event.placement_ref:
        state.record_rejection(f"agency report {event_id}: placement {event.placement_ref} is not current")
        return Change("refused", f"placement {event.placement_ref} is not current")
    change: Change[PlacementEvent] = Change("applied", detail="recalled" if event.kind == "returned" else "report")
    if event.kind == "payment":
        assert event.amount_minor is not None, "a payment report has its amount"
        placement.recovered_minor += event.amount_minor
        payment = PaymentReceived(
            payment_id=f"agency-{event_id}",
            amount_minor=event.amount_minor,
            currency=case.account.currency,
            paid_at=event.occurred_at,
        )
        change.news.append(payment)
    return change
