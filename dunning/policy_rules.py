"""A policy's sections beyond the ladder: the agencies it places with, and the rules for promises and plans, fraud
claims, verifications, contact points, approvals, field visits and late fees."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator, model_validator

from dunning.actions import Action
from dunning.datafile import Strict

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


class FieldVisitRules(Strict):
    """When a visit may be ordered, and how the order goes out (domain §8)."""

    # A pressure visit only when this long after a contact with the debtor no money came.
    pressure_after_contact_hours: int = Field(ge=0)
    complete_within_days: int = Field(ge=1)  # the order's deadline
    queue: str = Field(min_length=1)  # the field team whose agents take the order
    # Visits a month each agent is measured against when orders are handed out: a target, not a cap (domain §8).
    monthly_target_per_agent: int | None = Field(default=None, ge=1)


class LateFee(Strict):
    rate_per_day: Decimal = Field(gt=0, lt=1)
    waivable: bool = True


class InvoiceRules(Strict):
    """How money is spread over the invoices of an account that has several (domain §9)."""

    # Which unpaid invoice a payment, credit note or write-down goes to first, after the one it names.
    allocation: Literal["oldest_first", "newest_first"] = "oldest_first"
    honour_named_invoice: bool = True  # a payment that names its invoice goes there first
