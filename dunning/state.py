"""The account workflow's input and its carried state (dunning/view.py: what the `state` query shows of it)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, SerializationInfo, TypeAdapter, field_serializer, model_validator

from dunning.account import AccountDocument, DemoClock, Payload, PaymentReceived, PaymentReversed
from dunning.approvals import ApprovalDecision, ApprovalRequest
from dunning.bureau import BureauReport, LetterPosted
from dunning.channels import Channel
from dunning.commitments import Commitment, PlanProposed, PromiseMade
from dunning.compliance import ContactMade
from dunning.concessions import Concession
from dunning.contact import CeaseContact
from dunning.disputes import DisputeOpened, DisputeResolved
from dunning.fraud import FraudClaimDecided, FraudClaimed
from dunning.inbox import News
from dunning.ladder import AgendaStep
from dunning.ledger import Ledger
from dunning.letters import LetterDelivery
from dunning.outcomes import ContactBook, ContactOutcome, ContactUpdated
from dunning.pacing import FollowUpPlan
from dunning.placements import AgencyReport, Placement, RecallRequest
from dunning.policy import Policy
from dunning.statements import Statement
from dunning.treatment import Treatment
from dunning.verification import DebtorEventReported, DocumentsVerified, Verification
from dunning.visits import VisitReport

# The lists that states carried before the inbox (continue-as-new input, recorded histories): one per kind.
OLD_LISTS: dict[str, TypeAdapter[list[Any]]] = {
    "pending_payments": TypeAdapter(list[PaymentReceived]),
    "pending_ceases": TypeAdapter(list[CeaseContact]),
    "pending_reversals": TypeAdapter(list[PaymentReversed]),
    "pending_disputes": TypeAdapter(list[DisputeOpened | DisputeResolved]),
    "pending_verifications": TypeAdapter(list[DebtorEventReported | DocumentsVerified]),
    "pending_contacts": TypeAdapter(list[ContactOutcome | ContactUpdated | LetterDelivery | VisitReport]),
    "pending_commitments": TypeAdapter(list[PromiseMade | PlanProposed]),
    "pending_claims": TypeAdapter(list[FraudClaimed | FraudClaimDecided]),
    "pending_approvals": TypeAdapter(list[ApprovalDecision]),
    "pending_agency": TypeAdapter(list[AgencyReport | RecallRequest]),
}
RECENT_ACTIONS = 20
RECENT_REJECTIONS = 20
# settled: paid off after a settlement discount (paid less than was owed, by the creditor's leave).
AccountStatus = Literal["open", "cured", "settled", "cancelled", "estate", "bankruptcy", "withdrawn"]


class ActionRecord(Payload):
    key: str
    step_id: str
    channel: str
    dpd: int
    stage: str
    at: datetime  # business time
    status: str
    detail: str = ""


class AccountState(BaseModel):
    """Everything an account carries from one run to the next (continue-as-new, or a payment after closing)."""

    status: AccountStatus = "open"
    ledger: Ledger
    opened_at: datetime
    closed_at: datetime | None = None
    done_steps: list[str] = Field(default_factory=list)
    actions_taken: int = 0
    recent_actions: list[ActionRecord] = Field(default_factory=list)
    rejected_signals: list[str] = Field(default_factory=list)
    ceased_channels: list[Channel] = Field(default_factory=list)
    collector_queue: str = ""
    open_disputes: list[DisputeOpened] = Field(default_factory=list)
    decided_disputes: list[str] = Field(default_factory=list)  # resolved ids: a resend changes nothing
    early_resolutions: list[DisputeResolved] = Field(default_factory=list)  # came before their dispute
    verifications: list[Verification] = Field(default_factory=list)
    expired_verifications: list[Verification] = Field(default_factory=list)  # late documents may still close
    decided_reports: list[str] = Field(default_factory=list)
    early_documents: list[DocumentsVerified] = Field(default_factory=list)  # came before their report
    contact_book: ContactBook | None = None  # None until the first run fills it from the account document
    lost_contact_since: datetime | None = None  # every debtor phone invalid: tracing (strategy 7)
    outcome_ids: list[str] = Field(default_factory=list)  # outcomes and contact updates already applied
    # Steps outside the ladder: strategy reactions and the reminders of the open promise or plan.
    agenda: list[AgendaStep] = Field(default_factory=list)
    commitment: Commitment | None = None  # the open promise or plan; the ladder waits while there is one
    commitment_ids: list[str] = Field(default_factory=list)  # promises and plans already decided or refused
    broken_promises: int = 0
    fraud_claims: list[FraudClaimed] = Field(default_factory=list)  # open: contact stops
    decided_claims: list[str] = Field(default_factory=list)
    paused_since: datetime | None = None  # collection paused by a dispute, a verification or a fraud claim
    # For the contact guard: recent contacts (as its caps count them), the last conversation, steps it moved.
    contacts_made: list[ContactMade] = Field(default_factory=list)
    last_conversation_at: datetime | None = None
    third_party_calls: dict[str, int] = Field(default_factory=dict)  # contact person's phone -> calls made to it
    messages_left: int = 0  # with family or friends (domain §4: the second is pressed later)
    unanswered_calls: int = 0  # in a row since the last conversation or visit order
    # Steps waiting for an approver, and the decisions taken.
    approvals: list[ApprovalRequest] = Field(default_factory=list)
    decided_approvals: list[str] = Field(default_factory=list)
    statements: list[Statement] = Field(default_factory=list)  # the B2B statement cycle's, oldest first
    # The placement with an outside agency, while it lasts, and the agency's reports and recall requests applied.
    placement: Placement | None = None
    agency_event_ids: list[str] = Field(default_factory=list)
    last_paid_at: datetime | None = None  # the latest payment applied (a pressure visit needs none since the contact)
    deferred: dict[str, datetime] = Field(default_factory=dict)  # step key -> when the guard lets it go
    # Workload pacing: the follow-up days of the current ladder call task, and the collector queue's last known
    # book size (open accounts), which sets the cadence of the next task.
    follow_ups: FollowUpPlan | None = None
    queue_cases: int | None = None
    # The validation notice (12 CFR 1006.34), under a rule set that requires one: when it went, and the last day
    # of the validation period it opened.
    validation_notice_sent_at: datetime | None = None
    validation_period_ends: date | None = None
    # The segment in force (None: no segmentation was pinned), the lifecycle phase it was last assessed in, and the
    # broken promises counted then: a later phase or a new broken promise re-assesses it.
    segment: str | None = None
    segment_reason: str = ""
    phase: str | None = None
    assessed_broken_promises: int = 0
    # Credit-bureau reports waiting for the furnishing gate, and the letters about the debt posted under a rule set
    # whose gate counts them (dunning/bureau.py).
    bureau_reports: list[BureauReport] = Field(default_factory=list)
    letters_posted: list[LetterPosted] = Field(default_factory=list)
    # Concessions granted (waiting for an approver, applied, reversed ...), by id.
    concessions: dict[str, Concession] = Field(default_factory=dict)
    # News received but not yet settled, in arrival order; carried over continue-as-new so none is lost.
    inbox: list[News] = Field(default_factory=list)
    runs: int = 1

    @model_validator(mode="before")
    @classmethod
    def _old_lists_into_inbox(cls, data: Any) -> Any:
        """States carried from before the inbox hold a list per kind of news, read as they were then. Each list is
        one row of the settling order, so one after another they keep every row's arrival order."""
        if not isinstance(data, dict) or not any(key in OLD_LISTS for key in data):
            return data
        data = dict(data)
        old = [news for key, kind in OLD_LISTS.items() for news in kind.validate_python(data.pop(key, []))]
        data["inbox"] = [*data.get("inbox", []), *old]
        return data

    @field_serializer("inbox")
    def _tagged(self, inbox: list[News], info: SerializationInfo) -> list[dict[str, Any]]:
        """Keeps each news' tag, which its model leaves out everywhere else (its wire shape stays as it was)."""
        return [{**news.model_dump(mode=info.mode), "news": news.news} for news in inbox]

    def record_action(self, record: ActionRecord) -> None:
        self.done_steps.append(record.key)
        self.actions_taken += 1
        self.recent_actions = (self.recent_actions + [record])[-RECENT_ACTIONS:]

    def record_rejection(self, reason: str) -> None:
        self.rejected_signals = (self.rejected_signals + [reason])[-RECENT_REJECTIONS:]


class AccountRun(Payload):
    account: AccountDocument
    # Pinned when the account opened. A new account comes without them: the worker chooses both where the
    # segmentation, experiment and policy files live.
    policy: Policy | None = None
    treatment: Treatment | None = None
    state: AccountState | None = None
    clock: DemoClock | None = None
    # Continue-as-new at this history length even if the server has not suggested it yet.
    continue_as_new_after_events: int = Field(default=2000, ge=100)
