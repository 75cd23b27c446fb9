"""A policy's sections beyond the ladder: the agencies it places with, and the rules for promises and plans, fraud
claims, verifications, contact points, approvals, field visits, late fees and the B2B statement cycle."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator, model_validator

from dunning.actions import Action, Schedule
from dunning.datafile import Strict
from dunning.money import to_minor

# What a placement file can carry, one column each, in the order an agency's `file_columns` names them.
PLACEMENT_FIELDS = (
    "placement_ref",
    "account_id",
    "creditor",
    "debtor_name",
    "mobile",
    "home_phone",
    "work_phone",
    "email",
    "address",
    "currency",
    "placed_amount",
    "due_date",
    "dpd",
    "placed_on",
    "recall_on",
    "commission_rate",
)


class Agency(Strict):
    id: str
    commission_rate: Decimal = Field(gt=0, lt=1)
    recall_after_days: int = Field(ge=1)
    file_columns: list[str] = list(PLACEMENT_FIELDS)  # the agency's placement file format (CSV)

    @field_validator("file_columns")
    @classmethod
    def _known_columns(cls, columns: list[str]) -> list[str]:
        if unknown := [c for c in columns if c not in PLACEMENT_FIELDS]:
            raise ValueError(f"unknown placement file columns {unknown}; known: {', '.join(PLACEMENT_FIELDS)}")
        return columns


class CommitmentRules(Strict):
    """How a promise, or each instalment of a plan, is followed: a reminder some working days before, confirmations
    on the day, and a grace in working days before it counts as broken."""

    grace_working_days: int = Field(ge=0)
    reminder_working_days_before: int = Field(ge=1)
    reminder: Action | None = None
    confirmation: Action | None = None
    confirm_at: list[time] = []  # local times on the day
    confirm_minutes_before_hour: int | None = Field(default=None, ge=1)  # instead, when a promise names its hour


class PromiseRules(CommitmentRules):
    max_days_out: int = Field(ge=0)
    # What a broken promise costs (domain §5: a failed-debit fee), by currency in major units; an account in a
    # currency not listed is charged none, and a policy without it leaves the fee to billing.
    failed_debit_fee: dict[str, Decimal] = {}

    @field_validator("failed_debit_fee")
    @classmethod
    def _amounts_fit_their_currency(cls, fees: dict[str, Decimal]) -> dict[str, Decimal]:
        for currency, amount in fees.items():
            if to_minor(amount, currency) <= 0:
                raise ValueError(f"the {currency} fee must be positive")
        return fees


class PlanRules(CommitmentRules):
    max_instalments: int = Field(ge=1)
    first_within_days: int = Field(ge=0)
    last_within_days: int = Field(ge=1)


class FraudRules(Strict):
    """The false-application flow (domain §7)."""

    signing_within_days: int = Field(ge=1)  # the debtor signs the declaration, or the claim lapses
    decision_reminder_working_days: int = Field(ge=1)
    decision_escalation_working_days: int = Field(ge=1)
    withdraw_within_working_days: int = Field(ge=0)
    signing: Action  # the booking of the declaration signing
    to_creditor: Action  # the declaration sent to the creditor
    decision_reminder: Action
    decision_escalation: Action
    withdrawal: Action


class VerificationRules(Strict):
    documents_within_days: int = Field(ge=1)


# Contact-attempt outcomes that count against one contact point (domain §3): enough of them make it invalid.
PointFailure = Literal["line_dead", "wrong_number", "no_such_person", "resigned", "moved", "address_invalid"]


class ContactPointRules(Strict):
    invalid_after: dict[PointFailure, int]

    @field_validator("invalid_after")
    @classmethod
    def _positive(cls, counts: dict[str, int]) -> dict[str, int]:
        bad = sorted(code for code, count in counts.items() if count < 1)
        if bad:
            raise ValueError(f"counts must be at least 1: {', '.join(bad)}")
        return counts


class ApprovalRules(Strict):
    """Steps marked `requires_approval` wait for a named approver's decision (domain §9: the owner's approval); an
    approver who does not answer is reminded, then the request escalates."""

    approvers: list[str] = Field(min_length=1)  # who may decide, as the creditor names them (user ids or roles)
    remind_after_working_days: int = Field(ge=1)
    escalate_after_working_days: int = Field(ge=1)
    reminder: Action
    escalation: Action

    @model_validator(mode="after")
    def _escalate_after_reminding(self) -> ApprovalRules:
        if self.escalate_after_working_days <= self.remind_after_working_days:
            raise ValueError("escalate_after_working_days must come after remind_after_working_days")
        return self


class StatementRules(Strict):
    """The B2B statement cycle (domain §9): each month's statement goes to the supervisor to check by `review_day`
    and to the customer by `send_day`; the customer confirms it by `confirm_by_day`, and finance invoices by
    `invoice_by_day` (a day past a short month's end is its last day). A statement not confirmed is chased on its
    `chase_days` (days after it was sent, e-mail and phone) and handed over on `escalate_after_days`."""

    stages: list[str] = Field(min_length=1)  # the stages whose months get a statement (not after the lock)
    review_day: int = Field(ge=1, le=31)
    send_day: int = Field(ge=1, le=31)
    confirm_by_day: int = Field(ge=1, le=31)
    invoice_by_day: int = Field(ge=1, le=31)
    chase_days: list[Schedule] = Field(min_length=1)
    escalate_after_days: int = Field(ge=1)
    review: Action
    statement: Action  # what the customer receives and confirms
    chasers: list[Action] = Field(min_length=1)  # each chase day's contacts
    escalation: Action
    invoice: Action  # finance's task once the customer confirmed

    @model_validator(mode="after")
    def _cycle_in_order(self) -> StatementRules:
        days = [self.review_day, self.send_day, self.confirm_by_day, self.invoice_by_day]
        if days != sorted(set(days)):
            raise ValueError("review_day, send_day, confirm_by_day and invoice_by_day must come in that order")
        if any(day < 1 for day in self.chase_day_numbers()):
            raise ValueError("chase_days count from the day after the statement was sent (1 or more)")
        if self.chase_day_numbers()[-1] >= self.escalate_after_days:
            raise ValueError("escalate_after_days must come after the last of chase_days")
        return self

    def chase_day_numbers(self) -> list[int]:
        return sorted({day for schedule in self.chase_days for day in schedule.dpds()})

    def actions(self) -> list[Action]:
        return [self.review, self.statement, *self.chasers, self.escalation, self.invoice]


class FieldVisitRules(Strict):
    """When a visit may be ordered, and how the order goes out (domain §8)."""

    # A pressure visit only when this long after a contact with the debtor no money came.
    pressure_after_contact_hours: int = Field(ge=0)
    complete_within_days: int = Field(ge=1)  # the order's deadline
    queue: str = Field(min_length=1)  # the field team whose agents take the order
    # Visits a month each agent is measured against when orders are handed out: a target, not a cap (domain §8).
    monthly_target_per_agent: int | None = Field(default=None, ge=1)
    # "No answer: keep calling until answered, then field visit" (domain §4): unanswered calls in a row that bring
    # the policy's repeated_no_answer reactions. None: calls go on.
    after_unanswered_calls: int | None = Field(default=None, ge=1)
    # B2B (domain §9): an on-site visit is for a chronic late payer, a customer late this many times before.
    chronic_late_payer_after: int | None = Field(default=None, ge=1)


class LateFee(Strict):
    rate_per_day: Decimal = Field(gt=0, lt=1)
    waivable: bool = True


# What a creditor may give: late fees waived (domain §10), a discount to settle (§6 strategy 3: "the largest waiver
# allowed"), a plan's instalments reduced or put off (§6 strategy 4).
ConcessionKind = Literal["fee_waiver", "settlement_discount", "plan_reduction", "plan_extension"]
# What each kind's limits are shares of (an extension's are days).
CONCESSION_BASES: dict[ConcessionKind, str] = {
    "fee_waiver": "the late fees owed",
    "settlement_discount": "the balance owed",
    "plan_reduction": "what the plan has still to pay",
    "plan_extension": "days",
}


class ConcessionRule(Strict):
    """Who may give how much of one kind of concession: each role alone up to its limit, an approver above it, and
    nobody beyond the most (shares of the kind's base; days, for an extension)."""

    most: Decimal = Field(gt=0)
    alone: dict[str, Decimal] = {}  # role -> the most it gives without an approver (0: it needs one for any)
    approvers: list[str] = Field(min_length=1)  # roles that approve more, and give up to the most themselves

    @model_validator(mode="after")
    def _limits_within_the_most(self) -> ConcessionRule:
        if over := sorted(role for role, limit in self.alone.items() if not 0 <= limit <= self.most):
            raise ValueError(f"alone: {', '.join(over)} must be between 0 and the most ({self.most})")
        return self

    def limit(self, roles: list[str]) -> Decimal | None:
        """The most the holder of `roles` gives without an approver (None: they may give none at all)."""
        limits = [self.most if role in self.approvers else self.alone[role] for role in roles if self._names(role)]
        return max(limits, default=None)

    def _names(self, role: str) -> bool:
        return role in self.approvers or role in self.alone


class ConcessionRules(Strict):
    """The concessions a policy allows; a kind it leaves out is refused."""

    fee_waiver: ConcessionRule | None = None
    settlement_discount: ConcessionRule | None = None
    plan_reduction: ConcessionRule | None = None
    plan_extension: ConcessionRule | None = None

    @model_validator(mode="after")
    def _shares_and_days(self) -> ConcessionRules:
        for kind in ("fee_waiver", "settlement_discount", "plan_reduction"):
            rule = getattr(self, kind)
            if rule is not None and rule.most > 1:
                raise ValueError(f"{kind}.most is a share of {CONCESSION_BASES[kind]}: at most 1")
        extension = self.plan_extension
        if extension is not None and any(
            v != v.to_integral_value() for v in [extension.most, *extension.alone.values()]
        ):
            raise ValueError("plan_extension: limits are whole days")
        return self

    def rule(self, kind: ConcessionKind) -> ConcessionRule | None:
        rule: ConcessionRule | None = getattr(self, kind)
        return rule


class InvoiceRules(Strict):
    """How money is spread over the invoices of an account that has several (domain §9)."""

    # Which unpaid invoice a payment, credit note or write-down goes to first, after the one it names.
    allocation: Literal["oldest_first", "newest_first"] = "oldest_first"
    honour_named_invoice: bool = True  # a payment that names its invoice goes there first
