"""Death and bankruptcy (domain §6, strategy 3): contact stops while documents are requested and verified."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, Field

from dunning.account import EventId, Payload
from dunning.policy import Policy

DebtorEvent = Literal["deceased", "bankrupt"]


class DebtorEventReported(Payload):
    report_id: EventId
    event: DebtorEvent
    details: str = Field(min_length=1, max_length=2000)
    reported_at: AwareDatetime


class DocumentsVerified(Payload):
    report_id: EventId
    confirmed: bool  # the death certificate, court ruling or bankruptcy papers prove it
    verified_at: AwareDatetime


class Verification(Payload):
    """A report awaiting its documents until `review_by` (None: no deadline); without them by then, collection
    resumes."""

    report: DebtorEventReported
    review_by: datetime | None


def open_verification(policy: Policy, report: DebtorEventReported, now: datetime) -> Verification:
    rules = policy.verification
    return Verification(report=report, review_by=now + timedelta(days=rules.documents_within_days) if rules else None)


def closing_status(event: DebtorEvent) -> str:
    """The account leaves collection for the estate or the bankruptcy process."""
    return {"deceased": "estate", "bankrupt": "bankruptcy"}[event]
