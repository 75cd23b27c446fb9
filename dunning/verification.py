"""Death and bankruptcy (domain §6, strategy 3): contact stops while documents are requested and verified."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, Field

from dunning.account import EventId, Payload
from dunning.change import Change
from dunning.policy import Policy

if TYPE_CHECKING:
    from dunning.collection import Collection
    from dunning.state import AccountStatus

DebtorEvent = Literal["deceased", "bankrupt"]


class DebtorEventReported(Payload):
    news: Literal["debtor_event_reported"] = Field(default="debtor_event_reported", exclude=True)  # its inbox tag
    report_id: EventId
    event: DebtorEvent
    details: str = Field(min_length=1, max_length=2000)
    reported_at: AwareDatetime


class DocumentsVerified(Payload):
    news: Literal["documents_verified"] = Field(default="documents_verified", exclude=True)  # its inbox tag
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


def closing_status(event: DebtorEvent) -> AccountStatus:
    """The account leaves collection for the estate or the bankruptcy process."""
    closing: dict[DebtorEvent, AccountStatus] = {"deceased": "estate", "bankrupt": "bankruptcy"}
    return closing[event]


@dataclass
class VerificationStatus:
    verification: Verification
    status: Literal["awaiting_documents", "confirmed", "not_confirmed", "expired"]
    decided_at: datetime | None = None


def apply_verification(
    case: Collection, event: DebtorEventReported | DocumentsVerified, now: datetime
) -> Change[VerificationStatus]:
    """A report stops contact until its documents come; documents close the account or resume collection.
    Documents that overtake their report wait for it, and come with it as news; resends change nothing."""
    state = case.state
    open_by_id = {v.report.report_id: v for v in state.verifications + state.expired_verifications}
    if event.report_id in state.decided_reports:
        return Change("duplicate")
    if isinstance(event, DebtorEventReported):
        if event.report_id in open_by_id:
            return Change("duplicate")
        verification = open_verification(case.policy, event, now)
        state.verifications.append(verification)
        case.pause(now)
        opened = VerificationStatus(verification, "awaiting_documents")
        early = next((d for d in state.early_documents if d.report_id == event.report_id), None)
        if early is None:
            return Change("applied", detail=opened)
        state.early_documents.remove(early)
        return Change("applied", detail=opened, news=[early])
    found = open_by_id.get(event.report_id)
    if found is None:
        if all(d.report_id != event.report_id for d in state.early_documents):
            state.early_documents.append(event)
        return Change("waiting", "its report has not arrived yet")
    # Documents that come after the deadline still count: a confirmed death closes the account.
    for pending in (state.verifications, state.expired_verifications):
        if found in pending:
            pending.remove(found)
    state.decided_reports.append(event.report_id)
    if event.confirmed:
        case.close_as(closing_status(found.report.event), now)
    status = VerificationStatus(found, "confirmed" if event.confirmed else "not_confirmed", event.verified_at)
    return Change("applied", detail=status, skipped=case.resume_if_nothing_pauses(now))


def expire_verifications(case: Collection, now: datetime) -> list[Change[VerificationStatus]]:
    """Reports whose documents did not come by their deadline stop pausing collection."""
    changes: list[Change[VerificationStatus]] = []
    for verification in [v for v in case.state.verifications if v.review_by and v.review_by <= now]:
        case.state.verifications.remove(verification)
        case.state.expired_verifications.append(verification)
        expired = VerificationStatus(verification, "expired", now)
        changes.append(Change("applied", detail=expired, skipped=case.resume_if_nothing_pauses(now)))
    return changes


def documents_due(case: Collection) -> datetime | None:
    return min((v.review_by for v in case.state.verifications if v.review_by), default=None)
