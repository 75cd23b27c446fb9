"""The account's inbox: every kind of news it settles, as one union tagged by each model's `news` field."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dunning.account import BalanceChanged, PaymentReceived, PaymentReversed
from dunning.approvals import ApprovalDecision
from dunning.commitments import PlanProposed, PromiseMade
from dunning.concessions import ConcessionDecided, ConcessionGranted, ConcessionReversed
from dunning.contact import CeaseContact
from dunning.disputes import DisputeOpened, DisputeResolved
from dunning.fraud import FraudClaimDecided, FraudClaimed
from dunning.letters import LetterDelivery
from dunning.outcomes import ContactOutcome, ContactUpdated
from dunning.placements import AgencyReport, RecallRequest
from dunning.statements import StatementConfirmed
from dunning.verification import DebtorEventReported, DocumentsVerified
from dunning.visits import VisitReport

News = Annotated[
    CeaseContact
    | FraudClaimed
    | FraudClaimDecided
    | ApprovalDecision
    | DisputeOpened
    | DisputeResolved
    | DebtorEventReported
    | DocumentsVerified
    | ContactOutcome
    | ContactUpdated
    | LetterDelivery
    | VisitReport
    | StatementConfirmed
    | PromiseMade
    | PlanProposed
    | ConcessionGranted
    | ConcessionDecided
    | ConcessionReversed
    | AgencyReport
    | RecallRequest
    | BalanceChanged
    | PaymentReceived
    | PaymentReversed,
    Field(discriminator="news"),
]
