"""What the workflow hands its activities, and what they hand back."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from dunning import ladder
from dunning.account import AccountDocument, BalanceChanged, ContactPoint, Payload
from dunning.actions import Action, Stage
from dunning.approvals import ApprovalDecision, ApprovalRequest
from dunning.bureau import BureauReport, BureauStatus
from dunning.channels import Channel
from dunning.commitments import Instalment, PromiseFacts
from dunning.compliance import Check, may_disclose
from dunning.concessions import Concession
from dunning.contact import CeaseContact, contact_points_for
from dunning.disputes import DisputeOpened, DisputeResolved
from dunning.fraud import FraudClaimed
from dunning.ladder import PlannedStep
from dunning.ledger import BalanceOutcome, InvoiceBalance, LedgerEntry, PaymentOutcome, ReversalOutcome
from dunning.letters import LetterDelivery
from dunning.outcomes import ContactOutcome, ContactUpdated, PointRecord
from dunning.pacing import FollowUpPlan
from dunning.placements import AgencyReport, Placement, PlacementEvent
from dunning.policy import Policy
from dunning.policy_rules import Agency
from dunning.segments import SegmentChange
from dunning.statements import Statement, StatementEvent, StatementFacts
from dunning.treatment import Treatment
from dunning.verification import DebtorEventReported
from dunning.visits import VisitReport


def action_key(account_id: str, ladder_life: str, step_key: str) -> str:
    """(account, account life, step): the first run id of a life is stable across continue-as-new."""
    return f"{account_id}:{ladder_life}:{step_key}"


class MessageDetails(Payload):
    """What a text, an e-mail or a letter states beyond the amounts."""

    kind: Literal["message"] = "message"
    next_stage_dpd: int | None = None  # for texts that warn what happens next
    late_fee_rate_per_day: Decimal | None = None
    promise: PromiseFacts | None = None  # for reminders and confirmations of a promise or plan instalment
    validation_period_ends: date | None = None  # a validation notice states it (12 CFR 1006.34(c)(3))
    time_barred_disclosure: str = ""  # what a letter says of a time-barred debt, where the rule set requires it
    statement: StatementFacts | None = None  # the month's statement a B2B statement e-mail or its chase is about


class CallDetails(Payload):
    """A call task: the queue it goes to, who may hear of the debt, when to ring, and the follow-up days."""

    kind: Literal["call"] = "call"
    collector_queue: str = ""
    may_disclose: list[bool] = []  # per contact point: may the debt be discussed with who answers
    withheld: dict[str, str] = {}  # contact persons' phones the stage would call but the guard does not, with why
    attempt_windows: list[str] = []  # best windows, "10:00-11:30": the dialer spreads attempts over them
    follow_ups: FollowUpPlan | None = None  # a ladder call task's follow-up days (workload pacing)


class VisitDetails(Payload):
    """A field visit: why it is warranted, the field team, when it must be done, addresses found invalid."""

    kind: Literal["visit"] = "visit"
    reason: str = ""
    field_queue: str = ""
    deadline: datetime | None = None
    invalid_addresses: list[str] = []
    staff: int = 1  # agents the visit needs, as the rule set says
    monthly_target: int | None = None  # visits a month each agent is measured against


class PlacementDetails(Payload):
    """A placement: the agency the account goes to."""

    kind: Literal["placement"] = "placement"
    agency: Agency


MESSAGE_CHANNELS = (Channel.sms, Channel.email, Channel.letter)
ChannelDetails = Annotated[MessageDetails | CallDetails | VisitDetails | PlacementDetails, Field(discriminator="kind")]


class StepOrder(Payload):
    """One rung of the ladder to carry out; `action_key` makes carrying it out twice a no-op. What only its channel
    needs is in `details` (an internal task needs nothing more)."""

    action_key: str
    workflow_id: str
    run_id: str
    account: AccountDocument
    planned: PlannedStep
    step: Action
    stage: Stage | None
    contact_points: list[ContactPoint]
    outstanding_minor: int
    paid_minor: int = 0  # a letter's statement: what was paid, and the late fees in the outstanding amount
    late_fee_minor: int = 0
    charged_minor: int = 0  # ... billing's charges and interest since, its credit notes and write-downs
    credited_minor: int = 0
    waived_minor: int = 0  # ... and what the creditor gave up (concessions in force)
    invoices: list[InvoiceBalance] = []  # ... and a B2B account's invoices as they stand
    check: Check | None = None  # the contact guard's answer, written down as evidence with the step
    details: ChannelDetails | None = None
    taken_at: datetime  # business time

    @property
    def message(self) -> MessageDetails:
        """What a text, an e-mail or a letter states (nothing, for a step of another channel)."""
        return self.details if isinstance(self.details, MessageDetails) else MessageDetails()

    @property
    def agency(self) -> Agency | None:
        return self.details.agency if isinstance(self.details, PlacementDetails) else None


class StepResult(Payload):
    status: Literal["done", "skipped", "rejected", "failed"]
    detail: str = ""
    reference: str | None = None  # the vendor's or work order's id
    queue_cases: int | None = None  # a call task's collector queue: its open accounts when the task was filed
    # What the vendor's answer says of the contact point, for the account to act on: the number opted out of
    # texts, or cannot exist / cannot take texts.
    cease: CeaseContact | None = None
    point_outcome: ContactOutcome | None = None


class AccountRef(Payload):
    """Which account: the account, its workflow, and the life of its ladder (the first run id of a life, stable
    across continue-as-new: action keys are built from it). Its workflow builds it once; every record carries it."""

    account_id: str
    workflow_id: str
    ladder_life: str


class AccountRecord(Payload):
    """A record of what happened to an account, for the account's rows in PostgreSQL."""

    ref: AccountRef

    @model_validator(mode="before")
    @classmethod
    def _flat_identity(cls, data: Any) -> Any:
        """A record written before the identity had its own model (an activity task in flight across a deploy)
        carries it flat, in part: it is read into `ref`."""
        if isinstance(data, dict) and "ref" not in data and "account_id" in data:
            data = dict(data)
            data["ref"] = {name: data.pop(name, "") for name in AccountRef.model_fields}
        return data


class SegmentRecorded(AccountRecord):
    change: SegmentChange


class AccountOpened(Payload):
    account: AccountDocument
    workflow_id: str
    policy_ref: str
    policy_digest: str
    opened_at: datetime
    ladder_life: str
    collector_queue: str = ""
    skipped: list[PlannedStep]  # steps already past when the account arrived
    treatment: Treatment | None = None  # its segment and experiment arm (None: opened before segments)
    retention_class: str = ""  # what its evidence rows carry (dunning/retention.py)

    @property
    def ref(self) -> AccountRef:
        return AccountRef(
            account_id=self.account.account_id, workflow_id=self.workflow_id, ladder_life=self.ladder_life
        )


class MoneyRecord(AccountRecord):
    """What every change of the balance leaves besides its own row: the account's status, and for an account with
    invoices what each owes now and the day dpd counts from."""

    account_status: str
    invoices: list[InvoiceBalance] = []
    dpd_from: date | None = None  # the oldest unpaid invoice's due date (None: the account's own)
    skipped: list[PlannedStep] = []  # steps the ladder skips now: it reopened, or counts from another due date
    skip_reason: str = "fell due while the account was closed"


class PaymentRecorded(MoneyRecord):
    outcome: PaymentOutcome
    paid_at: datetime
    currency: str


class ReversalRecorded(MoneyRecord):
    outcome: ReversalOutcome
    reversed_at: datetime


class BalanceRecorded(MoneyRecord):
    """Billing's charge, interest, credit note or write-down, and what became of it."""

    change: BalanceChanged
    outcome: BalanceOutcome


class ConcessionRecorded(MoneyRecord):
    """A concession granted, waiting, decided, reversed or refused, and the balance's movement it made."""

    concession: Concession
    entry: LedgerEntry | None = None
    outstanding_minor: int


class DisputeRecorded(AccountRecord):
    event: DisputeOpened | DisputeResolved
    verdict: str  # applied, duplicate, rejected: <why>
    collector_queue: str
    account_status: str
    skipped: list[PlannedStep]  # steps that fell due while collection was paused, when it resumes


class VerificationRecorded(AccountRecord):
    report: DebtorEventReported
    status: str  # awaiting_documents, confirmed, not_confirmed, expired
    review_by: datetime | None
    decided_at: datetime | None
    account_status: str
    skipped: list[PlannedStep]  # steps that fell due while contact was stopped, when collection resumes


class CommitmentRecorded(AccountRecord):
    """A promise or plan taken, refused, or decided (kept, kept in part, broken, replaced)."""

    commitment_id: str
    kind: str  # promise, plan
    status: str  # open, kept, kept_in_part, broken, replaced, closed, rejected
    reason: str = ""
    instalments: list[Instalment]
    paid_minor: int = 0
    taken_by: str
    channel: str = ""
    made_at: datetime
    decided_at: datetime | None = None
    broken_promises: int  # the account's count, after this
    # A broken promise is a negative credit record and a failed-debit fee (domain §5): billing acts on the fee; the
    # record reaches a credit bureau only through the report the account files with it (BureauReportRecorded), once
    # the furnishing gate lets it go.
    negative_record: bool = False
    failed_debit_fee: bool = False
    skipped: list[PlannedStep] = []  # ladder steps that fell due while it was open, when the ladder resumes
    # The failed-debit fee the policy posted to the account (None: it leaves the fee to billing), and the balance
    # after it.
    fee: LedgerEntry | None = None
    outstanding_minor: int | None = None


class BureauReportRecorded(AccountRecord):
    """A credit-bureau report filed (ready at once, or waiting for the furnishing gate), released when the gate
    opened, or withdrawn when the account closed first; with what it furnishes as of `at`."""

    report: BureauReport
    event: Literal["filed", "released", "withdrawn"]
    status: BureauStatus
    because: str  # the gate's word (why it waits, or what let it go), or why it was withdrawn
    amount_minor: int
    currency: str
    dpd: int
    rule_set: str = ""
    at: datetime


class StatementRecorded(AccountRecord):
    """A month's statement sent to the customer, escalated unconfirmed, or confirmed (with what the customer said)."""

    statement: Statement
    event: StatementEvent
    note: str = ""  # the confirmation's: invoicing details, or a difference the customer raised


class ContactRecorded(AccountRecord):
    """An outcome or contact update, what it was judged, and the contact points it changed."""

    event: ContactOutcome | ContactUpdated | LetterDelivery | VisitReport
    verdict: str  # applied, duplicate, rejected: <why>, or what an update did (added, corrected, revalidated)
    strategy: str | None = None
    changed_points: list[PointRecord] = []
    removed_point: str | None = None  # the value a correction replaced
    settled_at: datetime | None = None  # business time the account took it in
    skipped: list[PlannedStep] = []  # steps that fell due while a validation notice waited for an address
    third_party_breach: str = ""  # a call on a contact person's phone the rule set did not allow then: why
    withheld: dict[str, str] = {}  # contact persons' phones to take off the open call tasks now, with why


class ApprovalRecorded(AccountRecord):
    """A step filed to wait for approval (no decision yet), or the decision taken on it."""

    request: ApprovalRequest
    approvers: list[str] = []  # who may decide, when the request is filed
    decision: ApprovalDecision | None = None


class PlacementRecorded(Payload):
    """A placement begun, reported on by its agency, or ended (recalled, or settled by payment in full); a begun or
    ended one is also written for the agency, in its file format."""

    account: AccountDocument
    placement: Placement
    event: PlacementEvent
    report: AgencyReport | None = None
    reason: str = ""
    contact_points: list[ContactPoint] = []  # the usable ones, for the placement file
    file_columns: list[str] = []
    at: datetime


class FraudClaimRecorded(AccountRecord):
    claim: FraudClaimed
    status: str  # clues_recorded, declaration_signed, sent_to_creditor, confirmed, rejected, lapsed
    at: datetime
    withdraw_by: datetime | None = None


class CollectionResumed(AccountRecord):
    """The ladder picks up again after a pause that no record of its own covers (a fraud claim, a promise)."""

    skipped: list[PlannedStep]
    reason: str


class ContactDeferred(AccountRecord):
    """The guard moved a step: the evidence of why, and until when."""

    action_key: str
    planned: PlannedStep
    check: Check


class FollowUpsPlanned(AccountRecord):
    """The account's follow-up days from `now` on, replacing those planned before."""

    plan: FollowUpPlan
    now: datetime
    rule_set: str = ""


class AccountClosed(AccountRecord):
    status: str
    closed_at: datetime
    outstanding_minor: int


def step_order(
    policy: Policy,
    account: AccountDocument,
    planned: PlannedStep,
    *,
    ladder_life: str,
    workflow_id: str,
    run_id: str,
    outstanding_minor: int,
    taken_at: datetime,
    paid_minor: int = 0,
    late_fee_minor: int = 0,
    charged_minor: int = 0,
    credited_minor: int = 0,
    waived_minor: int = 0,
    invoices: list[InvoiceBalance] | None = None,
    collector_queue: str = "",
    usable_points: list[ContactPoint] | None = None,
    tried_last: str | None = None,
    promise: PromiseFacts | None = None,
    check: Check | None = None,
    follow_ups: FollowUpPlan | None = None,
    validation_period_ends: date | None = None,
    visit_reason: str = "",
    invalid_addresses: list[str] | None = None,
    third_party_refusals: dict[str, str] | None = None,
    time_barred_disclosure: str = "",
    statement: StatementFacts | None = None,
) -> StepOrder:
    """Everything the step's activity needs to carry it out without looking anything up. `usable_points` are the
    contact points not (yet) found invalid; by default, the account document's. `third_party_refusals`: the contact
    persons' phones the guard does not let the stage call now, with why."""
    step = ladder.step_definition(policy, planned)
    stage = policy.stage_at(planned.dpd)
    points = contact_points_for(
        account.contact_points if usable_points is None else usable_points, step.channel, stage, tried_last
    )
    refusals = third_party_refusals or {}
    withheld = {p.value: refusals[p.value] for p in points if p.value in refusals}
    points = [p for p in points if p.value not in withheld]
    details: ChannelDetails | None = None
    if step.channel in MESSAGE_CHANNELS:
        details = MessageDetails(
            next_stage_dpd=ladder.next_stage_dpd(policy, planned.dpd),
            late_fee_rate_per_day=policy.late_fee.rate_per_day if policy.late_fee else None,
            promise=promise,
            validation_period_ends=validation_period_ends,
            time_barred_disclosure=time_barred_disclosure,
            statement=statement,
        )
    elif step.channel is Channel.call:
        details = _call_details(policy, stage, points, collector_queue, follow_ups, withheld)
    elif step.channel is Channel.field_visit:
        details = _visit_details(policy, visit_reason, invalid_addresses or [], taken_at)
    elif step.channel is Channel.agency and (agency := ladder.agency_for(policy, account.account_id)):
        details = PlacementDetails(agency=agency)
    return StepOrder(
        action_key=action_key(account.account_id, ladder_life, planned.key),
        workflow_id=workflow_id,
        run_id=run_id,
        account=account,
        planned=planned,
        step=step,
        stage=stage,
        contact_points=points,
        outstanding_minor=outstanding_minor,
        paid_minor=paid_minor,
        late_fee_minor=late_fee_minor,
        charged_minor=charged_minor,
        credited_minor=credited_minor,
        waived_minor=waived_minor,
        invoices=invoices or [],
        check=check,
        details=details,
        taken_at=taken_at,
    )


def _call_details(
    policy: Policy,
    stage: Stage | None,
    points: list[ContactPoint],
    collector_queue: str,
    follow_ups: FollowUpPlan | None,
    withheld: dict[str, str],
) -> CallDetails:
    rules = policy.contact_rules
    return CallDetails(
        collector_queue=collector_queue,
        may_disclose=[may_disclose(rules, p, stage.third_parties) for p in points] if rules and stage else [],
        withheld=withheld,
        attempt_windows=[f"{w.start:%H:%M}-{w.end:%H:%M}" for w in rules.best_windows(Channel.call)] if rules else [],
        follow_ups=follow_ups,
    )


def _visit_details(policy: Policy, reason: str, invalid_addresses: list[str], taken_at: datetime) -> VisitDetails:
    visits, rules = policy.field_visits, policy.contact_rules
    return VisitDetails(
        reason=reason,
        field_queue=visits.queue if visits else "",
        deadline=taken_at + timedelta(days=visits.complete_within_days) if visits else None,
        invalid_addresses=invalid_addresses,
        staff=rules.staff_per_visit if rules else 1,
        monthly_target=visits.monthly_target_per_agent if visits else None,
    )
