"""The account's balance: payments, and billing's charges, interest, credit notes and write-downs, each applied once by
its id and audited with the balance before and after it; late fees accrued by dpd; overpayments kept; a B2B account's
invoices, its dpd counting from the oldest one unpaid."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from dunning.account import RAISES, BalanceChanged, Invoice, Payload, PaymentReceived, PaymentReversed
from dunning.change import Change, Verdict
from dunning.ladder import dpd_at
from dunning.money import daily_fee
from dunning.policy import Policy
from dunning.policy_rules import InvoiceRules

if TYPE_CHECKING:
    from dunning.collection import Collection, Skipped

# What moved the balance: money in or back, billing's changes, and (dunning/concessions.py) what the creditor gives.
EntryKind = Literal[
    "payment",
    "payment_reversed",
    "charge",
    "interest",
    "credit_note",
    "write_down",
    "failed_debit_fee",
    "fee_waiver",
    "settlement_discount",
    "plan_reduction",
    "concession_reversed",
]
KIND_WORDS = {
    "charge": "a charge",
    "interest": "interest",
    "credit_note": "a credit note",
    "write_down": "a write-down",
}


class Balance(Payload):
    """The ledger's amounts at one moment: what an audit row shows before and after a change."""

    principal_minor: int
    interest_minor: int = 0
    late_fee_minor: int = 0
    overpaid_minor: int = 0

    @property
    def outstanding_minor(self) -> int:
        return self.principal_minor + self.interest_minor + self.late_fee_minor


class LedgerEntry(Payload):
    """One movement of the balance, with the balance just before it (late fees accrued to then) and just after."""

    entry_id: str  # the payment's, billing's change's or the concession's id
    kind: EntryKind
    amount_minor: int
    invoices: dict[str, int] = {}  # principal moved on each invoice (B2B), signed as the balance moved
    at: datetime  # business time it took effect
    before: Balance
    after: Balance


class PaymentOutcome(Payload):
    payment_id: str
    verdict: Literal["applied", "duplicate", "rejected"]
    reason: str = ""
    amount_minor: int = 0
    applied_minor: int = 0
    overpaid_minor: int = 0
    outstanding_after_minor: int = 0
    entry: LedgerEntry | None = None  # the audit row, when applied


class Allocation(BaseModel):
    """Where one payment went, so that reversing it restores exactly that."""

    to_fees: int
    to_principal: int
    overpaid: int
    reversed: bool = False
    to_interest: int = 0
    to_invoices: dict[str, int] = Field(default_factory=dict)


class ReversalOutcome(Payload):
    payment_id: str
    verdict: Literal["reversed", "duplicate", "rejected"]
    reason: str
    restored_minor: int = 0
    outstanding_after_minor: int = 0
    entry: LedgerEntry | None = None


class BalanceOutcome(Payload):
    """What became of billing's change: applied (with its audit row), a resend, or refused with why."""

    change_id: str
    kind: str
    verdict: Literal["applied", "duplicate", "rejected"]
    reason: str = ""
    amount_minor: int = 0
    outstanding_after_minor: int = 0
    entry: LedgerEntry | None = None


class Posting(BaseModel):
    """A balance change or concession as applied, by its id: what it moved in each part of the balance (signed), so a
    resend is known and a concession can be undone exactly."""

    kind: EntryKind
    principal: int = 0
    interest: int = 0
    fees: int = 0
    invoices: dict[str, int] = Field(default_factory=dict)
    reversed: bool = False


class InvoiceBalance(BaseModel):
    """One invoice of the account: its due date, what it was billed (with charges, less credit notes), what is owed."""

    invoice_id: str
    due_date: date
    billed_minor: int
    open_minor: int


class Ledger(BaseModel):
    """Fees are paid first, then interest, then principal; what is left over is an overpayment, never dropped. With
    invoices, principal is their sum, and money goes to them by the policy's order."""

    principal_minor: int
    late_fee_minor: int = 0
    fee_accrued_to_dpd: int = 0
    paid_minor: int = 0
    overpaid_minor: int = 0
    allocations: dict[str, Allocation] = Field(default_factory=dict)  # by payment id, in the order received
    interest_minor: int = 0
    invoices: list[InvoiceBalance] = Field(default_factory=list)  # none: the account is one invoice
    postings: dict[str, Posting] = Field(default_factory=dict)  # balance changes and concessions, by id
    # For statements: what billing added (charges, interest) and took off (credit notes, write-downs) since opening,
    # and what the creditor gave up (concessions in force).
    charged_minor: int = 0
    credited_minor: int = 0
    waived_minor: int = 0

    @classmethod
    def opening(cls, amount_due_minor: int, invoices: list[Invoice]) -> Ledger:
        return cls(
            principal_minor=amount_due_minor,
            invoices=[
                InvoiceBalance(
                    invoice_id=i.invoice_id, due_date=i.due_date, billed_minor=i.amount_minor, open_minor=i.amount_minor
                )
                for i in invoices
            ],
        )

    @property
    def payment_ids(self) -> list[str]:
        return list(self.allocations)

    @property
    def outstanding_minor(self) -> int:
        return self.principal_minor + self.interest_minor + self.late_fee_minor

    def balance(self) -> Balance:
        return Balance(
            principal_minor=self.principal_minor,
            interest_minor=self.interest_minor,
            late_fee_minor=self.late_fee_minor,
            overpaid_minor=self.overpaid_minor,
        )

    def dpd_from(self) -> date | None:
        """The due date dpd counts from: the oldest invoice still unpaid (None: no invoices, or none unpaid)."""
        return min((i.due_date for i in self.invoices if i.open_minor > 0), default=None)

    def invoice(self, invoice_id: str) -> InvoiceBalance | None:
        return next((i for i in self.invoices if i.invoice_id == invoice_id), None)

    def accrue_late_fee(self, policy: Policy, dpd: int) -> int:
        """Accrues the policy's daily fee on the principal in arrears up to `dpd`; returns what was added."""
        if policy.late_fee is None or dpd <= self.fee_accrued_to_dpd:
            return 0
        added = daily_fee(self.principal_minor, policy.late_fee.rate_per_day, dpd - self.fee_accrued_to_dpd)
        self.late_fee_minor += added
        self.fee_accrued_to_dpd = dpd
        return added

    # --- money in and back -------------------------------------------------------------------------------------

    def apply(self, payment: PaymentReceived, currency: str, rules: InvoiceRules | None = None) -> PaymentOutcome:
        if payment.payment_id in self.payment_ids:
            return PaymentOutcome(
                payment_id=payment.payment_id, verdict="duplicate", outstanding_after_minor=self.outstanding_minor
            )
        problem = payment_problem(payment, currency) or self._invoice_problem(payment.invoice_id)
        if problem:
            return PaymentOutcome(
                payment_id=payment.payment_id,
                verdict="rejected",
                reason=problem,
                amount_minor=payment.amount_minor,
                outstanding_after_minor=self.outstanding_minor,
            )
        before = self.balance()
        to_fees = min(payment.amount_minor, self.late_fee_minor)
        to_interest = min(payment.amount_minor - to_fees, self.interest_minor)
        to_principal = min(payment.amount_minor - to_fees - to_interest, self.principal_minor)
        overpaid = payment.amount_minor - to_fees - to_interest - to_principal
        named = payment.invoice_id if rules is None or rules.honour_named_invoice else None
        to_invoices = self._spread(to_principal, named, rules)
        self._move(principal=-to_principal, interest=-to_interest, fees=-to_fees, invoices=_negated(to_invoices))
        self.paid_minor += payment.amount_minor
        self.overpaid_minor += overpaid
        self.allocations[payment.payment_id] = Allocation(
            to_fees=to_fees,
            to_interest=to_interest,
            to_principal=to_principal,
            to_invoices=to_invoices,
            overpaid=overpaid,
        )
        return PaymentOutcome(
            payment_id=payment.payment_id,
            verdict="applied",
            amount_minor=payment.amount_minor,
            applied_minor=to_fees + to_interest + to_principal,
            overpaid_minor=overpaid,
            outstanding_after_minor=self.outstanding_minor,
            entry=self._entry(
                payment.payment_id, "payment", payment.amount_minor, _negated(to_invoices), payment.paid_at, before
            ),
        )

    def reverse(self, reversal: PaymentReversed) -> ReversalOutcome:
        """A bounced debit or chargeback: the payment's fees, interest, principal (on the invoices it paid) and
        overpayment come back as they went."""
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
        before = self.balance()
        allocation.reversed = True
        restored = allocation.to_fees + allocation.to_interest + allocation.to_principal
        self._move(
            principal=allocation.to_principal,
            interest=allocation.to_interest,
            fees=allocation.to_fees,
            invoices=allocation.to_invoices,
        )
        self.overpaid_minor -= allocation.overpaid
        self.paid_minor -= restored + allocation.overpaid
        return ReversalOutcome(
            payment_id=reversal.payment_id,
            verdict="reversed",
            reason=reversal.reason,
            restored_minor=restored,
            outstanding_after_minor=self.outstanding_minor,
            entry=self._entry(
                reversal.payment_id,
                "payment_reversed",
                restored + allocation.overpaid,
                allocation.to_invoices,
                reversal.reversed_at,
                before,
            ),
        )

    def use_overpayment(self, rules: InvoiceRules | None = None) -> None:
        """Applies money held as overpayment to fees, interest, then principal (when an account owes again)."""
        to_fees = min(self.overpaid_minor, self.late_fee_minor)
        to_interest = min(self.overpaid_minor - to_fees, self.interest_minor)
        to_principal = min(self.overpaid_minor - to_fees - to_interest, self.principal_minor)
        invoices = _negated(self._spread(to_principal, None, rules))
        self._move(principal=-to_principal, interest=-to_interest, fees=-to_fees, invoices=invoices)
        self.overpaid_minor -= to_fees + to_interest + to_principal

    # --- billing's changes -------------------------------------------------------------------------------------

    def change(self, change: BalanceChanged, currency: str, rules: InvoiceRules | None = None) -> BalanceOutcome:
        """A charge or interest adds to what is owed (a charge to its invoice, or a new one); a credit note or a
        write-down takes principal off (the invoice it names, else by the policy's order)."""
        outcome = BalanceOutcome(change_id=change.change_id, kind=change.kind, verdict="applied")
        if change.change_id in self.postings:
            return outcome.model_copy(
                update={"verdict": "duplicate", "outstanding_after_minor": self.outstanding_minor}
            )
        if problem := self.change_problem(change, currency):
            return outcome.model_copy(
                update={
                    "verdict": "rejected",
                    "reason": problem,
                    "amount_minor": change.amount_minor,
                    "outstanding_after_minor": self.outstanding_minor,
                }
            )
        before, amount = self.balance(), change.amount_minor
        if change.kind == "interest":
            posting = Posting(kind="interest", interest=amount)
        elif change.kind == "charge":
            if change.invoice_id is not None and change.due_date is not None:
                self.invoices.append(
                    InvoiceBalance(invoice_id=change.invoice_id, due_date=change.due_date, billed_minor=0, open_minor=0)
                )
            posting = Posting(
                kind="charge", principal=amount, invoices={change.invoice_id: amount} if change.invoice_id else {}
            )
        else:
            taken = self._spread(amount, change.invoice_id, rules, only_named=change.invoice_id is not None)
            posting = Posting(kind=change.kind, principal=-amount, invoices=_negated(taken))
        self._post(change.change_id, posting)
        for invoice_id, moved in posting.invoices.items() if change.kind in ("charge", "credit_note") else ():
            invoice = self.invoice(invoice_id)
            assert invoice is not None
            invoice.billed_minor += moved
        if change.kind in RAISES:
            self.charged_minor += amount
            self.use_overpayment(rules)
        else:
            self.credited_minor += amount
        entry = self._entry(change.change_id, change.kind, amount, posting.invoices, change.effective_at, before)
        return outcome.model_copy(
            update={"amount_minor": amount, "outstanding_after_minor": self.outstanding_minor, "entry": entry}
        )

    def change_problem(self, change: BalanceChanged, currency: str) -> str:
        """Why billing's change cannot be applied, or '' when it can."""
        amount, named, what = change.amount_minor, change.invoice_id, KIND_WORDS[change.kind]
        if amount <= 0:
            return f"amount must be positive, got {amount} minor units"
        if change.currency is not None and change.currency != currency:
            return f"{what} in {change.currency} on an account in {currency}"
        if named is not None and not self.invoices:
            return "the account carries no invoices: leave invoice_id out"
        invoice = self.invoice(named) if named else None
        if change.kind == "charge":
            if self.invoices and named is None:
                return "name the invoice the charge is for (a new invoice_id with its due_date opens one)"
            if named and invoice is None and change.due_date is None:
                return f"invoice {named} is new: give its due_date"
            if invoice is not None and change.due_date is not None and change.due_date != invoice.due_date:
                return f"invoice {named} is due {invoice.due_date}, not {change.due_date}: leave due_date out"
            return ""
        if change.kind == "interest":
            return ""
        if named and invoice is None:
            return f"no invoice {named} on this account"
        owed, on = (invoice.open_minor, f"on invoice {named}") if invoice else (self.principal_minor, "in principal")
        if amount > owed:
            return f"{what} of {amount} is more than the {owed} owed {on}"
        return ""

    # --- what the creditor gives, and fees it posts ------------------------------------------------------------

    def waive(
        self, concession_id: str, kind: EntryKind, amount: int, at: datetime, rules: InvoiceRules | None = None
    ) -> LedgerEntry:
        """Gives up `amount` of what is owed: only fees for a fee waiver; else fees, interest, then principal (on the
        invoices by the policy's order)."""
        before = self.balance()
        fees = min(amount, self.late_fee_minor)
        interest = 0 if kind == "fee_waiver" else min(amount - fees, self.interest_minor)
        principal = 0 if kind == "fee_waiver" else min(amount - fees - interest, self.principal_minor)
        invoices = _negated(self._spread(principal, None, rules))
        given = fees + interest + principal
        self._post(
            _given(concession_id),
            Posting(kind=kind, fees=-fees, interest=-interest, principal=-principal, invoices=invoices),
        )
        self.waived_minor += given
        return self._entry(concession_id, kind, given, invoices, at, before)

    def take_back(self, concession_id: str, at: datetime) -> LedgerEntry | None:
        """A concession reversed: what it gave up is owed again, part for part (None: it moved no money)."""
        posting = self.postings.get(_given(concession_id))
        if posting is None or posting.reversed:
            return None
        before = self.balance()
        posting.reversed = True
        invoices = _negated(posting.invoices)
        self._move(-posting.principal, -posting.interest, -posting.fees, invoices)
        given = -(posting.principal + posting.interest + posting.fees)
        self.waived_minor -= given
        return self._entry(concession_id, "concession_reversed", given, invoices, at, before)

    def post_fee(self, entry_id: str, kind: EntryKind, amount: int, at: datetime) -> LedgerEntry | None:
        """A fee of ours (a broken promise's failed-debit fee), owed with the late fees; once by its id."""
        key = f"{kind}:{entry_id}"
        if key in self.postings:
            return None
        before = self.balance()
        self._post(key, Posting(kind=kind, fees=amount))
        return self._entry(entry_id, kind, amount, {}, at, before)

    def discounted(self) -> bool:
        """A settlement discount is in force."""
        return any(p.kind == "settlement_discount" and not p.reversed for p in self.postings.values())

    # --- the parts of the balance ------------------------------------------------------------------------------

    def _post(self, entry_id: str, posting: Posting) -> None:
        self._move(posting.principal, posting.interest, posting.fees, posting.invoices)
        self.postings[entry_id] = posting

    def _move(
        self, principal: int = 0, interest: int = 0, fees: int = 0, invoices: dict[str, int] | None = None
    ) -> None:
        """Moves each part of the balance by a signed amount; `invoices` splits the principal's move."""
        self.principal_minor += principal
        self.interest_minor += interest
        self.late_fee_minor += fees
        for invoice_id, moved in (invoices or {}).items():
            invoice = self.invoice(invoice_id)
            assert invoice is not None, f"no invoice {invoice_id}"
            invoice.open_minor += moved

    def _spread(
        self, amount: int, named: str | None, rules: InvoiceRules | None, only_named: bool = False
    ) -> dict[str, int]:
        """How `amount` of principal is taken off the unpaid invoices: the named one first, then the oldest first (or
        the newest, as the policy says); only the named one when `only_named`. Empty without invoices."""
        unpaid = [i for i in self.invoices if i.open_minor > 0 and (not only_named or i.invoice_id == named)]
        newest = rules is not None and rules.allocation == "newest_first"
        unpaid.sort(key=lambda i: i.due_date, reverse=newest)  # stable: the billing order breaks ties
        unpaid.sort(key=lambda i: i.invoice_id != named)
        taken: dict[str, int] = {}
        for invoice in unpaid:
            if amount == 0:
                break
            taken[invoice.invoice_id] = min(amount, invoice.open_minor)
            amount -= taken[invoice.invoice_id]
        return taken

    def _invoice_problem(self, named: str | None) -> str:
        if named is None:
            return ""
        if not self.invoices:
            return "the account carries no invoices: leave invoice_id out"
        return "" if self.invoice(named) else f"no invoice {named} on this account"

    def _entry(
        self, entry_id: str, kind: EntryKind, amount: int, invoices: dict[str, int], at: datetime, before: Balance
    ) -> LedgerEntry:
        return LedgerEntry(
            entry_id=entry_id,
            kind=kind,
            amount_minor=amount,
            invoices=invoices,
            at=at,
            before=before,
            after=self.balance(),
        )


def _given(concession_id: str) -> str:
    """Concessions' postings apart from billing's changes, whose ids are billing's."""
    return f"concession:{concession_id}"


def _negated(moved: dict[str, int]) -> dict[str, int]:
    return {invoice_id: -amount for invoice_id, amount in moved.items()}


def reopens(status: str, outcome: ReversalOutcome, ledger: Ledger) -> bool:
    """Only an account closed by its money reopens (cured, or settled for less), and only when money it was paid comes
    back and leaves it owing again; an account closed for the estate, a bankruptcy or a cancelled debt stays closed."""
    return (
        status in ("cured", "settled")
        and outcome.verdict == "reversed"
        and ledger.outstanding_minor > ledger.overpaid_minor
    )


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
    outcome = ledger.apply(payment, case.account.currency, case.policy.invoices)
    if outcome.verdict == "rejected":
        state.record_rejection(f"payment {payment.payment_id}: {outcome.reason}")
    if outcome.verdict == "applied":
        state.last_paid_at = max(payment.paid_at, state.last_paid_at or payment.paid_at)
    if outcome.verdict == "applied" and state.commitment is not None:
        state.commitment.paid_minor += outcome.amount_minor
    skipped = case.follow_due_date(now) if outcome.verdict == "applied" else []
    if outcome.verdict == "applied" and state.status == "open" and ledger.outstanding_minor == 0:
        case.close_as(paid_off_as(ledger), now)
    return Change(VERDICTS[outcome.verdict], outcome.reason, detail=outcome, skipped=skipped)


def paid_off_as(ledger: Ledger) -> Literal["cured", "settled"]:
    """An account paid off after a settlement discount is settled (paid less than it owed), else cured."""
    return "settled" if ledger.discounted() else "cured"


def apply_reversal(case: Collection, reversal: PaymentReversed, now: datetime) -> Change[ReversalOutcome]:
    state = case.state
    outcome = state.ledger.reverse(reversal)
    if outcome.verdict == "rejected":
        state.record_rejection(f"reversal of payment {reversal.payment_id}: {outcome.reason}")
    if outcome.verdict == "reversed" and state.commitment is not None:
        state.commitment.paid_minor = max(state.commitment.paid_minor - outcome.restored_minor, 0)
    skipped = case.follow_due_date(now) if outcome.verdict == "reversed" else []
    reopened = reopens(state.status, outcome, state.ledger)
    skipped += case.reopen(now) if reopened else []
    # Applied, the reason says what it did when it reopened the account (records name why steps were skipped).
    reason = outcome.reason if outcome.verdict == "rejected" else "reopened" if reopened else ""
    return Change(VERDICTS[outcome.verdict], reason, detail=outcome, skipped=skipped)


def apply_balance_change(case: Collection, change: BalanceChanged, now: datetime) -> Change[BalanceOutcome]:
    """Billing's change on an open account; one that leaves nothing owed closes it: cured by a credit note (billing
    corrected what was owed), cancelled by a write-down (the creditor gave the rest up)."""
    state, ledger = case.state, case.state.ledger
    if state.status != "open":
        outcome = BalanceOutcome(
            change_id=change.change_id,
            kind=change.kind,
            verdict="rejected",
            reason=f"the account is {state.status}: billing's changes go to open accounts",
            amount_minor=change.amount_minor,
            outstanding_after_minor=ledger.outstanding_minor,
        )
    else:
        ledger.accrue_late_fee(case.policy, dpd_at(case.account, min(change.effective_at, now)))
        outcome = ledger.change(change, case.account.currency, case.policy.invoices)
    if outcome.verdict == "rejected":
        state.record_rejection(f"balance change {change.change_id}: {outcome.reason}")
    skipped: Skipped = []
    if outcome.verdict == "applied":
        skipped = case.follow_due_date(now)
        if ledger.outstanding_minor == 0:
            case.close_as("cancelled" if change.kind == "write_down" else paid_off_as(ledger), now)
    return Change(VERDICTS[outcome.verdict], outcome.reason, detail=outcome, skipped=skipped)
