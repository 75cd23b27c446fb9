"""False-application / identity-fraud claims (domain §7): contact stops while the claim runs its four steps; the
creditor's decision withdraws the account or resumes collection."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from dunning.account import AccountDocument, DemoClock, EventId, Payload
from dunning.policy import Policy

ClaimOutcome = Literal["confirmed", "rejected", "lapsed"]


class FraudClaimed(Payload):
    """The debtor says they never applied: the clues they gave about who may have (step 1)."""

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
    decided_at: AwareDatetime


class FraudClaimDecided(Payload):
    """What the claim's workflow tells the account when it ends."""

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
