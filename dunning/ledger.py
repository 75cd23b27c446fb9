"""The account's balance: payments applied idempotently, late fees accrued by dpd, overpayments kept."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from dunning.account import Payload, PaymentReceived
from dunning.money import daily_fee
from dunning.policy import Policy


class PaymentOutcome(Payload):
    payment_id: str
    verdict: Literal["applied", "duplicate", "rejected"]
    reason: str = ""
    amount_minor: int = 0
    applied_minor: int = 0
    overpaid_minor: int = 0
    outstanding_after_minor: int = 0


class Ledger(BaseModel):
    """Fees are paid first, then principal; what is left over after both is an overpayment, never dropped."""

    principal_minor: int
    late_fee_minor: int = 0
    fee_accrued_to_dpd: int = 0
    paid_minor: int = 0
    overpaid_minor: int = 0
    payment_ids: list[str] = Field(default_factory=list)

    @property
    def outstanding_minor(self) -> int:
        return self.principal_minor + self.late_fee_minor

    def accrue_late_fee(self, policy: Policy, dpd: int) -> int:
        """Accrues the policy's daily fee on the principal in arrears up to `dpd`; returns what was added."""
        if policy.late_fee is None or dpd <= self.fee_accrued_to_dpd:
            return 0
        added = daily_fee(self.principal_minor, policy.late_fee.rate_per_day, dpd - self.fee_accrued_to_dpd)
        self.late_fee_minor += added
        self.fee_accrued_to_dpd = dpd
        return added

    def apply(self, payment: PaymentReceived, currency: str) -> PaymentOutcome:
        if payment.payment_id in self.payment_ids:
            return PaymentOutcome(payment_id=payment.payment_id, verdict="duplicate",
                                  outstanding_after_minor=self.outstanding_minor)
        problem = payment_problem(payment, currency)
        if problem:
            return PaymentOutcome(payment_id=payment.payment_id, verdict="rejected", reason=problem,
                                  amount_minor=payment.amount_minor, outstanding_after_minor=self.outstanding_minor)
        self.payment_ids.append(payment.payment_id)
        to_fees = min(payment.amount_minor, self.late_fee_minor)
        to_principal = min(payment.amount_minor - to_fees, self.principal_minor)
        overpaid = payment.amount_minor - to_fees - to_principal
        self.late_fee_minor -= to_fees
        self.principal_minor -= to_principal
        self.paid_minor += payment.amount_minor
        self.overpaid_minor += overpaid
        return PaymentOutcome(
            payment_id=payment.payment_id,
            verdict="applied",
            amount_minor=payment.amount_minor,
            applied_minor=to_fees + to_principal,
            overpaid_minor=overpaid,
            outstanding_after_minor=self.outstanding_minor,
        )


def payment_problem(payment: PaymentReceived, currency: str) -> str:
    """Why a payment cannot be applied, or '' when it can."""
    if payment.amount_minor <= 0:
        return f"amount must be positive, got {payment.amount_minor} minor units"
    if payment.currency is not None and payment.currency != currency:
        return f"payment is in {payment.currency} but the account is in {currency}"
    return ""

