"""False-application / identity-fraud claims (domain §7): contact stops while the claim runs its four steps; the
creditor's decision withdraws the account or resumes collection."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, Field

from dunning.account import AccountDocument, DemoClock, EventId, Payload
from dunning.change import Change
from dunning.policy import Policy

if TYPE_CHECKING:
    from dunning.collection import Collection

ClaimOutcome = Literal["confirmed", "rejected", "lapsed"]


class FraudClaimed(Payload):
    """The debtor says they never applied: the clues they gave about who may have (step 1)."""

    news: Literal["fraud_claimed"] = Field(default="fraud_claimed", exclude=True)  # its inbox tag
    claim_id: EventId
    clues: str = Field(min_length=1, max_length=2000)
    taken_by: str = Field(min_length=1, max_length=128)
    claimed_at: AwareDatetime


class DeclarationSigned(Payload):
    """The debtor signed the 'did not apply' declaration (step 2)."""

    signed_at: AwareDatetime
    place: Literal["creditor_branch", "agency"]


class CreditorDecided(Payload):
    """The creditor's answer to the declaration (step 4)."""

    confirmed: bool  # True: the creditor accepts that the debtor did not apply
    reference: str = Field(min_length=1, max_length=128)
    recorded_by: str | None = None  # the signed-in operator who recorded it (None before operators)
    decided_at: AwareDatetime


class FraudClaimDecided(Payload):
    """What the claim's workflow tells the account when it ends."""

    news: Literal["fraud_claim_decided"] = Field(default="fraud_claim_decided", exclude=True)  # its inbox tag
    claim_id: str
    outcome: ClaimOutcome
    decided_at: datetime
    withdraw_by: datetime | None = None  # confirmed: the case is withdrawn by then


class ClaimProgress(Payload):
    """What the claim workflow's `progress` query shows."""

    status: str  # the last recorded: clues_recorded, declaration_signed, sent_to_creditor, confirmed, ...
    signed: DeclarationSigned | None
    decision: CreditorDecided | None
    refused_signals: list[str]


class FraudClaimRun(Payload):
    """The claim workflow's input: everything it needs without asking the account."""

    claim: FraudClaimed
    account: AccountDocument
    policy: Policy
    account_workflow_id: str
    ladder_life: str
    clock: DemoClock | None = None


def claim_workflow_id(account_id: str, claim_id: str) -> str:
    return f"fraud-claim-{account_id}-{claim_id}"


def claim_problem(policy: Policy) -> str:
    return "" if policy.fraud else f"policy {policy.ref} has no false-application flow"


def apply_claim(case: Collection, event: FraudClaimed | FraudClaimDecided, now: datetime) -> Change[FraudClaimed]:
    """A claim stops contact at once (its detail: the claim whose workflow must start); its decision withdraws
    the account or resumes collection."""
    state = case.state
    open_claims = {c.claim_id: c for c in state.fraud_claims}
    if event.claim_id in state.decided_claims:
        return Change("duplicate")
    if isinstance(event, FraudClaimed):
        if event.claim_id in open_claims:
            return Change("duplicate")
        if problem := claim_problem(case.policy):
            state.record_rejection(f"fraud claim {event.claim_id}: {problem}")
            state.decided_claims.append(event.claim_id)
            return Change("refused", problem)
        state.fraud_claims.append(event)
        case.pause(now)
        return Change("applied", detail=event)
    if event.claim_id not in open_claims:
        problem = f"decision for fraud claim {event.claim_id}, but no such claim is open"
        state.record_rejection(problem)
        return Change("refused", problem)
    state.fraud_claims.remove(open_claims[event.claim_id])
    state.decided_claims.append(event.claim_id)
    if event.outcome == "confirmed":
        case.close_as("withdrawn", now)
    return Change("applied", skipped=case.resume_if_nothing_pauses(now))
