"""Disputes and complaints (domain §6, strategy 5): a disputed debt pauses collection; a complaint is separated
from the debt, and one against the collector moves the account to another collector queue."""

from __future__ import annotations

import zlib
from typing import Literal

from pydantic import AwareDatetime, Field

from dunning.account import EventId, Payload
from dunning.policy import Policy

DisputeSubject = Literal["debt", "collector", "sales", "approval"]
DisputeOutcome = Literal["debt_confirmed", "debt_cancelled", "complaint_closed"]


class DisputeOpened(Payload):
    dispute_id: EventId
    subject: DisputeSubject
    details: str = Field(min_length=1, max_length=2000)
    opened_at: AwareDatetime


class DisputeResolved(Payload):
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
