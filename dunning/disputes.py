"""Disputes and complaints (domain §6, strategy 5): a disputed debt pauses collection; a complaint is separated
from the debt, and one against the collector moves the account to another collector queue."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, Field

from dunning.account import EventId, Payload
from dunning.change import Change
from dunning.policy import Policy

if TYPE_CHECKING:
    from dunning.collection import Collection

DisputeSubject = Literal["debt", "collector", "sales", "approval"]
DisputeOutcome = Literal["debt_confirmed", "debt_cancelled", "complaint_closed"]


class DisputeOpened(Payload):
    news: Literal["dispute_opened"] = Field(default="dispute_opened", exclude=True)  # its inbox tag
    dispute_id: EventId
    subject: DisputeSubject
    details: str = Field(min_length=1, max_length=2000)
    opened_at: AwareDatetime


class DisputeResolved(Payload):
    news: Literal["dispute_resolved"] = Field(default="dispute_resolved", exclude=True)  # its inbox tag
    dispute_id: EventId
    outcome: DisputeOutcome
    resolved_at: AwareDatetime


def pauses_collection(dispute: DisputeOpened) -> bool:
    """Only a dispute of the debt itself stops collecting it (12 CFR 1006.38); complaints are routed."""
    return dispute.subject == "debt"


def resolution_problem(dispute: DisputeOpened, resolution: DisputeResolved) -> str:
    """Why this outcome cannot close this dispute ('' if it can): debts are confirmed or cancelled, complaints
    are closed."""
    debt_outcome = resolution.outcome in ("debt_confirmed", "debt_cancelled")
    if pauses_collection(dispute) != debt_outcome:
        return f"outcome {resolution.outcome} does not fit a dispute about the {dispute.subject}"
    return ""


def first_collector_queue(policy: Policy, account_id: str) -> str:
    """Spreads accounts evenly and stably over the policy's collector queues."""
    return policy.collector_queues[zlib.crc32(account_id.encode()) % len(policy.collector_queues)]


def reassigned_queue(policy: Policy, current: str) -> str | None:
    """The next queue after `current` (a complained-about collector never keeps the account), or None when the
    policy has no other queue."""
    others = [queue for queue in policy.collector_queues if queue != current]
    if not others:
        return None
    queues = policy.collector_queues
    return queues[(queues.index(current) + 1) % len(queues)] if current in queues else others[0]


def apply_dispute(case: Collection, event: DisputeOpened | DisputeResolved, now: datetime) -> Change[None]:
    """Resends change nothing; a resolution that overtakes its dispute waits for it, and comes with it as news."""
    state = case.state
    if event.dispute_id in state.decided_disputes:
        return Change("duplicate")
    known = {d.dispute_id: d for d in state.open_disputes}
    if isinstance(event, DisputeOpened):
        if event.dispute_id in known:
            return Change("duplicate")
        state.open_disputes.append(event)
        if event.subject == "collector":
            queue = reassigned_queue(case.policy, state.collector_queue)
            if queue is None:
                state.record_rejection(f"complaint {event.dispute_id}: the policy has no other collector queue")
            else:
                state.collector_queue = queue
        if pauses_collection(event):
            case.pause(now)
        early = next((r for r in state.early_resolutions if r.dispute_id == event.dispute_id), None)
        if early is None:
            return Change("applied")
        state.early_resolutions.remove(early)
        return Change("applied", news=[early])
    opened = known.get(event.dispute_id)
    if opened is None:
        if all(r.dispute_id != event.dispute_id for r in state.early_resolutions):
            state.early_resolutions.append(event)
        return Change("waiting", "its dispute has not arrived yet")
    problem = resolution_problem(opened, event)
    if problem:
        state.record_rejection(f"dispute {event.dispute_id}: {problem}")
        return Change("refused", problem)
    state.open_disputes.remove(opened)
    state.decided_disputes.append(event.dispute_id)
    if event.outcome == "debt_cancelled":
        case.close_as("cancelled", now)
    return Change("applied", skipped=case.resume_if_nothing_pauses(now))
