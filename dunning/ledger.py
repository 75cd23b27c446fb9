"""The account's balance: payments applied idempotently, late fees accrued by dpd, overpayments kept."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from dunning.account import Payload, PaymentReceived, PaymentReversed
from dunning.change import Change, Verdict
from dunning.ladder import dpd_at
from dunning.money import daily_fee
from dunning.policy import Policy

if TYPE_CHECKING:
    from dunning.collection import Collection


class PaymentOutcome(Payload):
    payment_id: str
    verdict: Literal["applied", "duplicate", "rejected"]
    reason: str = ""
    amount_minor: int = 0
    applied_minor: int = 0
    overpaid_minor: int = 0
    outstanding_after_minor: int = 0


class Allocation(BaseModel):
    """Where one payment went, so that reversing it restores exactly that."""

    to_fees: int
    to_principal: int
    overpaid: int
    reversed: bool = False


class ReversalOutcome(Payload):
    payment_id: str
    verdict: Literal["reversed", "duplicate", "rejected"]
    reason: str
    restored_minor: int = 0
    outstanding_after_minor: int = 0


class Ledger(BaseModel):
    """Fees are paid first, then principal; what is left over after both is an overpayment, never dropped."""

    principal_minor: int
    late_fee_minor: int = 0
    fee_accrued_to_dpd: int = 0
    paid_minor: int = 0
    overpaid_minor: int = 0
    allocations: dict[str, Allocation] = Field(default_factory=dict)  # by payment id, in the order received

    @property
    def payment_ids(self) -> list[str]:
        return list(self.allocations)

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
            return PaymentOutcome(
                payment_id=payment.payment_id, verdict="duplicate", outstanding_after_minor=self.outstanding_minor
            )
        problem = payment_problem(payment, currency)
        if problem:
            return PaymentOutcome(
                payment_id=payment.payment_id,
                verdict="rejected",
                reason=problem,
                amount_minor=payment.amount_minor,
                outstanding_after_minor=self.outstanding_minor,
            )
        to_fees = min(payment.amount_minor, self.late_fee_minor)
        to_principal = min(payment.amount_minor - to_fees, self.principal_minor)
        overpaid = payment.amount_minor - to_fees - to_principal
        self.late_fee_minor -= to_fees
        self.principal_minor -= to_principal
        self.paid_minor += payment.amount_minor
        self.overpaid_minor += overpaid
        self.allocations[payment.payment_id] = Allocation(to_fees=to_fees, to_principal=to_principal, overpaid=overpaid)
        return PaymentOutcome(
            payment_id=payment.payment_id,
            verdict="applied",
            amount_minor=payment.amount_minor,
            applied_minor=to_fees + to_principal,
            overpaid_minor=overpaid,
            outstanding_after_minor=self.outstanding_minor,
        )

    def reverse(self, reversal: PaymentReversed) -> ReversalOutcome:
        """A bounced debit or chargeback: the payment's fees, principal and overpayment come back as they went."""
        allocation = self.allocations.get(reversal.payment_id)
        if allocation is None:
            return ReversalOutcome(
                payment_id=reversal.payment_id,
                verdict="rejected",
                reason="no applied payment with this id",
                outstanding_after_minor=self.outstanding_minor,
            )
        if allocation.reversed:
            return ReversalOutcome(
                payment_id=reversal.payment_id,
                verdict="duplicate",
                reason=reversal.reason,
                outstanding_after_minor=self.outstanding_minor,
            )
        allocation.reversed = True
        self.late_fee_minor += allocation.to_fees
        self.principal_minor += allocation.to_principal
        self.overpaid_minor -= allocation.overpaid
        self.paid_minor -= allocation.to_fees + allocation.to_principal + allocation.overpaid
        return ReversalOutcome(
            payment_id=reversal.payment_id,
            verdict="reversed",
            reason=reversal.reason,
            restored_minor=allocation.to_fees + allocation.to_principal,
            outstanding_after_minor=self.outstanding_minor,
        )

    def use_overpayment(self) -> None:
        """Applies money held as overpayment to fees, then principal (when an account owes again)."""
        to_fees = min(self.overpaid_minor, self.late_fee_minor)
        to_principal = min(self.overpaid_minor - to_fees, self.principal_minor)
        self.late_fee_minor -= to_fees
        self.principal_minor -= to_principal
        self.overpaid_minor -= to_fees + to_principal


def reopens(status: str, outcome: ReversalOutcome, ledger: Ledger) -> bool:
    """Only a cured account reopens, and only when money it was paid comes back and leaves it owing again; an
    account closed for the estate, a bankruptcy or a cancelled debt stays closed."""
    return status == "cured" and outcome.verdict == "reversed" and ledger.outstanding_minor > ledger.overpaid_minor


def payment_problem(payment: PaymentReceived, currency: str) -> str:
    """Why a payment cannot be applied, or '' when it can."""
    if payment.amount_minor <= 0:
        return f"amount must be positive, got {payment.amount_minor} minor units"
    if payment.currency is not None and payment.currency != currency:
        return f"payment is in {payment.currency} but the account is in {currency}"
    return ""


VERDICTS: dict[str, Verdict] = {
    "applied": "applied",
    "reversed": "applied",
    "duplicate": "duplicate",
    "rejected": "refused",
}


def accrue_late_fee(case: Collection, now: datetime) -> None:
    case.state.ledger.accrue_late_fee(case.policy, dpd_at(case.account, now))


def apply_payment(case: Collection, payment: PaymentReceived, now: datetime) -> Change[PaymentOutcome]:
    state, ledger = case.state, case.state.ledger
    if state.status == "open":
        # Fees stop on the day the money was paid, even if billing reports it later.
        ledger.accrue_late_fee(case.policy, dpd_at(case.account, min(payment.paid_at, now)))
    outcome = ledger.apply(payment, case.account.currency)
    if outcome.verdict == "rejected":
        state.record_rejection(f"payment {payment.payment_id}: {outcome.reason}")
    if outcome.verdict == "applied":
        state.last_paid_at = max(payment.paid_at, state.last_paid_at or payment.paid_at)
    if outcome.verdict == "applied" and state.commitment is not None:
        state.commitment.paid_minor += outcome.amount_minor
    if outcome.verdict == "applied" and state.status == "open" and ledger.outstanding_minor == 0:
        case.close_as("cured", now)
    return Change(VERDICTS[outcome.verdict], outcome.reason, detail=outcome)


def apply_reversal(case: Collection, reversal: PaymentReversed, now: datetime) -> Change[ReversalOutcome]:
    state = case.state
    outcome = state.ledger.reverse(reversal)
    if outcome.verdict == "rejected":
        state.record_rejection(f"reversal of payment {reversal.payment_id}: {outcome.reason}")
    if outcome.verdict == "reversed" and state.commitment is not None:
        state.commitment.paid_minor = max(state.commitment.paid_minor - outcome.restored_minor, 0)
    skipped = case.reopen(now) if reopens(state.status, outcome, state.ledger) else []
    refusal = outcome.reason if outcome.verdict == "rejected" else ""
    return Change(VERDICTS[outcome.verdict], refusal, detail=outcome, skipped=skipped)
