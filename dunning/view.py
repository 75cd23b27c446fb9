"""What the `state` query shows of an account: the carried state's fields as they are, and what is computed from
them (days past due, stage, the amount formatted, the next step)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from dunning import ladder
from dunning.account import AccountDocument, Payload
from dunning.approvals import ApprovalRequest
from dunning.bureau import BureauReport
from dunning.channels import Channel
from dunning.commitments import Commitment
from dunning.concessions import Concession
from dunning.disputes import DisputeOpened
from dunning.fraud import FraudClaimed
from dunning.ladder import AgendaStep, PlannedStep
from dunning.ledger import InvoiceBalance
from dunning.money import format_amount
from dunning.outcomes import PointRecord
from dunning.placements import Placement
from dunning.policy import Policy
from dunning.state import AccountRun, AccountState, AccountStatus, ActionRecord
from dunning.statements import Statement
from dunning.treatment import Treatment
from dunning.verification import Verification


class LedgerShown(Payload):
    """The ledger's amounts, under the ledger's names."""

    outstanding_minor: int
    late_fee_minor: int
    paid_minor: int
    overpaid_minor: int
    interest_minor: int = 0
    charged_minor: int = 0  # billing's charges and interest since opening
    credited_minor: int = 0  # billing's credit notes and write-downs
    waived_minor: int = 0  # concessions in force
    invoices: list[InvoiceBalance] = []  # a B2B account's invoices, as they stand


class StateShown(Payload):
    """The carried state's fields the view shows as they are, under the state's names."""

    status: AccountStatus
    actions_taken: int
    recent_actions: list[ActionRecord]
    rejected_signals: list[str]
    ceased_channels: list[Channel]
    collector_queue: str
    open_disputes: list[DisputeOpened]
    verifications: list[Verification]
    commitment: Commitment | None
    broken_promises: int
    validation_notice_sent_at: datetime | None = None
    validation_period_ends: date | None = None
    fraud_claims: list[FraudClaimed]
    placement: Placement | None = None
    bureau_reports: list[BureauReport] = []  # credit-bureau reports waiting for the furnishing gate, with why
    statements: list[Statement] = []  # B2B: the monthly statements sent, and whether the customer confirmed them
    segment: str | None = None  # the segment in force, and why (codes, no personal data)
    segment_reason: str = ""
    runs: int


class AccountView(LedgerShown, StateShown):
    """An account as ops see it: the state's and the ledger's fields, and what is computed from them."""

    account_id: str
    country: str | None = None  # the account's, and its zone: where a national number given later is read
    time_zone: str | None = None
    policy: str
    strategy: str | None = None  # the experiment's arm, or how the policy was chosen
    stage: str
    dpd: int
    currency: str
    outstanding: str
    next_action: str | None
    next_action_at: datetime | None
    waiting_for_their_event: list[str]  # news that overtook what it is about (a resolution before its dispute)
    upcoming: list[AgendaStep]  # reactions and reminders still to come
    follow_up_days: list[date] = []  # days a collector works the case before the next stage
    invalid_points: list[PointRecord]
    lost_contact: bool
    awaiting_approval: list[ApprovalRequest] = []
    calendar_years: list[int] = []  # the years whose public holidays the account's calendar knows
    concessions: list[Concession] = []  # granted on the account: applied, waiting for an approver, reversed ...


def account_view(
    account: AccountDocument,
    policy: Policy,
    state: AccountState,
    now: datetime,
    next_step: Callable[[], PlannedStep | None],
    invalid_points: list[PointRecord],
    treatment: Treatment | None = None,
) -> AccountView:
    """The view as of `now`; the next step is asked for only while the account is being collected."""
    dpd = ladder.dpd_at(account, now)
    step = next_step() if state.status == "open" and state.paused_since is None else None
    return AccountView(
        **_shown(state.ledger, LedgerShown),
        **_shown(state, StateShown),
        account_id=account.account_id,
        country=account.country,
        time_zone=account.time_zone,
        policy=policy.ref,
        strategy=treatment.strategy if treatment else None,
        stage=ladder.stage_id(policy, dpd),
        dpd=dpd,
        currency=account.currency,
        outstanding=format_amount(state.ledger.outstanding_minor, account.currency),
        next_action=step.key if step else None,
        next_action_at=step.due_at if step else None,
        waiting_for_their_event=[f"resolution of dispute {r.dispute_id}" for r in state.early_resolutions]
        + [f"documents for report {d.report_id}" for d in state.early_documents],
        upcoming=sorted(state.agenda, key=lambda p: p.due_at),
        follow_up_days=[day.day for day in state.follow_ups.days] if state.follow_ups else [],
        invalid_points=invalid_points,
        lost_contact=state.lost_contact_since is not None,
        awaiting_approval=state.approvals,
        calendar_years=policy.calendar.covers if policy.calendar else [],
        concessions=list(state.concessions.values()),
    )


def closed_view(run: AccountRun) -> AccountView:
    """A closed run's view as it closed, from its result (kept in PostgreSQL once Temporal has dropped the run)."""
    assert run.policy is not None and run.state is not None and run.state.closed_at is not None
    book = run.state.contact_book
    invalid = book.invalid() if book else []
    return account_view(run.account, run.policy, run.state, run.state.closed_at, lambda: None, invalid, run.treatment)


def _shown(source: BaseModel, shown: type[Payload]) -> dict[str, Any]:
    """The values of `source` for the fields `shown` declares, by name."""
    return {name: getattr(source, name) for name in shown.model_fields}
