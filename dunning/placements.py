"""Placements with outside agencies (domain §1): the account handed over for a commission until a recall date, the
agency's payments and news coming back, and the recall."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from dunning.account import MAX_MINOR, EventId, Payload
from dunning.channels import work_order_ref
from dunning.policy_rules import Agency


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

    request_id: EventId
    reason: str = Field(min_length=1, max_length=500)
    requested_by: str = Field(min_length=1, max_length=128)
    requested_at: AwareDatetime


PlacementEvent = Literal["placed", "report", "recalled", "settled"]
