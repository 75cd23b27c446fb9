"""The balance: payments applied once, overpayments kept, property late fees accrued once per dpd and paid first;
billing's charges, interest, credit notes and write-downs applied once by id with the balance before and after; a B2B
account's invoices, dpd from the oldest unpaid one and money spread by the policy's order; money parsed and printed in
the currency's own minor units."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from dunning.account import BalanceChanged, Invoice, PaymentReceived, PaymentReversed
from dunning.ledger import Balance, Ledger, reopens
from dunning.money import daily_fee, format_amount, to_minor
from dunning.policy import load_policy
from dunning.policy_rules import InvoiceRules

PAID_AT = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)


def payment(
    payment_id: str, amount_minor: int, currency: str | None = "CNY", invoice_id: str | None = None
) -> PaymentReceived:
    return PaymentReceived(
        payment_id=payment_id, amount_minor=amount_minor, currency=currency, paid_at=PAID_AT, invoice_id=invoice_id
    )


def change(
    change_id: str,
    kind: str,
    amount_minor: int,
    invoice_id: str | None = None,
    due_date: date | None = None,
    currency: str | None = "CNY",
) -> BalanceChanged:
    return BalanceChanged(
        change_id=change_id,
        kind=kind,
        amount_minor=amount_minor,
        currency=currency,
        invoice_id=invoice_id,
        due_date=due_date,
        reason="billing run",
        effective_at=PAID_AT,
    )


def owed(principal: int, interest: int = 0, late_fee: int = 0, overpaid: int = 0) -> Balance:
    return Balance(principal_minor=principal, interest_minor=interest, late_fee_minor=late_fee, overpaid_minor=overpaid)


@pytest.fixture(scope="module")
def property_fees():
    return load_policy("property_fees")


# --- payments -------------------------------------------------------------------------------------------------


def test_a_partial_payment_lowers_the_balance():
    ledger = Ledger(principal_minor=100_000)
    outcome = ledger.apply(payment("P1", 30_000), "CNY")
    assert outcome.verdict == "applied"
    assert (outcome.applied_minor, outcome.outstanding_after_minor) == (30_000, 70_000)
    assert ledger.outstanding_minor == 70_000


def test_paying_in_full_leaves_nothing_outstanding():
    ledger = Ledger(principal_minor=100_000)
    ledger.apply(payment("P1", 40_000), "CNY")
    outcome = ledger.apply(payment("P2", 60_000), "CNY")
    assert outcome.outstanding_after_minor == 0
    assert ledger.outstanding_minor == 0
    assert (ledger.paid_minor, ledger.overpaid_minor) == (100_000, 0)


def test_a_payment_reported_twice_counts_once():
    ledger = Ledger(principal_minor=100_000)
    ledger.apply(payment("P1", 30_000), "CNY")
    again = ledger.apply(payment("P1", 30_000), "CNY")
    assert again.verdict == "duplicate"
    assert again.outstanding_after_minor == 70_000
    assert (ledger.outstanding_minor, ledger.paid_minor) == (70_000, 30_000)


def test_an_overpayment_is_kept_not_dropped():
    ledger = Ledger(principal_minor=100_000)
    outcome = ledger.apply(payment("P1", 120_000), "CNY")
    assert (outcome.applied_minor, outcome.overpaid_minor) == (100_000, 20_000)
    assert ledger.outstanding_minor == 0
    # A payment after the account is settled is all overpayment, and adds up.
    late = ledger.apply(payment("P2", 5_000), "CNY")
    assert (late.verdict, late.applied_minor, late.overpaid_minor) == ("applied", 0, 5_000)
    assert (ledger.paid_minor, ledger.overpaid_minor) == (125_000, 25_000)


@pytest.mark.parametrize("amount_minor", [0, -500])
def test_a_payment_that_is_not_positive_is_rejected_with_a_reason(amount_minor):
    ledger = Ledger(principal_minor=100_000)
    outcome = ledger.apply(payment("P1", amount_minor), "CNY")
    assert outcome.verdict == "rejected"
    assert outcome.reason == f"amount must be positive, got {amount_minor} minor units"
    assert (ledger.outstanding_minor, ledger.paid_minor, ledger.payment_ids) == (100_000, 0, [])


def test_a_payment_in_another_currency_is_rejected_with_a_reason():
    ledger = Ledger(principal_minor=100_000)
    outcome = ledger.apply(payment("P1", 10_000, currency="USD"), "CNY")
    assert outcome.verdict == "rejected"
    assert outcome.reason == "payment is in USD but the account is in CNY"
    assert ledger.outstanding_minor == 100_000


def test_a_payment_without_a_currency_is_taken_in_the_accounts_currency():
    ledger = Ledger(principal_minor=100_000)
    assert ledger.apply(payment("P1", 10_000, currency=None), "CNY").verdict == "applied"
    assert ledger.outstanding_minor == 90_000


# --- property late fees ---------------------------------------------------------------------------------------


def test_the_late_fee_is_0_1_percent_of_the_arrears_per_day(property_fees):
    ledger = Ledger(principal_minor=100_000)  # 1,000.00 CNY in arrears
    assert ledger.accrue_late_fee(property_fees, 1) == 100  # 1.00 CNY for one day
    assert ledger.accrue_late_fee(property_fees, 10) == 900  # nine more days
    assert ledger.late_fee_minor == 1_000
    assert ledger.outstanding_minor == 101_000


def test_the_late_fee_accrues_once_per_dpd(property_fees):
    ledger = Ledger(principal_minor=100_000)
    ledger.accrue_late_fee(property_fees, 5)
    assert ledger.accrue_late_fee(property_fees, 5) == 0
    assert ledger.accrue_late_fee(property_fees, 4) == 0  # a late, out-of-order call adds nothing either
    assert ledger.late_fee_minor == 500


def test_no_late_fee_on_or_before_the_due_date(property_fees):
    ledger = Ledger(principal_minor=100_000)
    assert ledger.accrue_late_fee(property_fees, 0) == 0
    assert ledger.accrue_late_fee(property_fees, -3) == 0
    assert ledger.late_fee_minor == 0


def test_a_policy_without_late_fee_never_charges_one():
    ledger = Ledger(principal_minor=100_000)
    assert ledger.accrue_late_fee(load_policy("consumer_loan"), 30) == 0
    assert ledger.outstanding_minor == 100_000


def test_payments_go_to_fees_before_principal(property_fees):
    ledger = Ledger(principal_minor=100_000)
    ledger.accrue_late_fee(property_fees, 5)  # 500 in fees
    ledger.apply(payment("P1", 300), "CNY")
    assert (ledger.late_fee_minor, ledger.principal_minor) == (200, 100_000)
    ledger.apply(payment("P2", 10_200), "CNY")
    assert (ledger.late_fee_minor, ledger.principal_minor) == (0, 90_000)


def test_the_late_fee_follows_the_arrears_left_after_a_payment(property_fees):
    ledger = Ledger(principal_minor=100_000)
    ledger.apply(payment("P1", 50_000), "CNY")
    assert ledger.accrue_late_fee(property_fees, 2) == 100  # 0.1% of 500.00 for two days


def test_the_daily_fee_rounds_half_up_to_the_minor_unit():
    assert daily_fee(12_345, Decimal("0.001"), 1) == 12  # 12.345
    assert daily_fee(12_350, Decimal("0.001"), 1) == 12  # 12.35 -> 12
    assert daily_fee(12_500, Decimal("0.001"), 1) == 13  # 12.5 -> 13


# --- money ----------------------------------------------------------------------------------------------------


def test_typed_amounts_become_minor_units():
    assert to_minor("12.34", "CNY") == 1234
    assert to_minor(" 2500.5 ", "CNY") == 250_050
    assert to_minor("12.340", "CNY") == 1234  # a trailing zero is not an extra decimal
    assert to_minor("1.234", "KWD") == 1234


def test_more_decimals_than_the_currency_has_are_refused():
    with pytest.raises(ValueError, match=r"amount '12.345' has more decimals than CNY allows \(2\)"):
        to_minor("12.345", "CNY")


def test_yen_has_no_decimals():
    assert to_minor("1500", "JPY") == 1500
    with pytest.raises(ValueError, match="more decimals than JPY allows"):
        to_minor("1500.5", "JPY")


@pytest.mark.parametrize("typed", ["abc", "NaN", "Infinity", "", "1,000.00"])
def test_text_that_is_not_an_amount_is_refused(typed):
    with pytest.raises(ValueError, match="is not a number"):
        to_minor(typed, "CNY")


def test_an_unknown_currency_is_refused_listing_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown currency 'XYZ'; known: .*CNY.*JPY.*USD"):
        to_minor("10", "XYZ")


def test_amounts_print_with_the_currencys_decimals_and_thousands_separators():
    assert format_amount(250_050, "CNY") == "2,500.50 CNY"
    assert format_amount(5, "USD") == "0.05 USD"
    assert format_amount(1_500_000, "JPY") == "1,500,000 JPY"
    assert format_amount(1234, "KWD") == "1.234 KWD"


def test_the_late_fee_does_not_depend_on_how_often_it_is_accrued(property_fees):
    at_once, day_by_day = Ledger(principal_minor=12_345), Ledger(principal_minor=12_345)
    at_once.accrue_late_fee(property_fees, 10)
    for dpd in range(1, 11):
        day_by_day.accrue_late_fee(property_fees, dpd)
    assert at_once.late_fee_minor == day_by_day.late_fee_minor == 10 * 12  # 12.345 a day, rounded per day


def test_only_a_cured_account_reopens_when_a_payment_comes_back():
    ledger = Ledger(principal_minor=10_000)
    ledger.apply(payment("P1", 10_000), "CNY")
    outcome = ledger.reverse(
        PaymentReversed(payment_id="P1", reason="chargeback", reversed_at=datetime(2026, 1, 2, tzinfo=UTC))
    )
    assert outcome.verdict == "reversed" and ledger.outstanding_minor == 10_000
    assert reopens("cured", outcome, ledger)
    # An account closed for the estate, a bankruptcy or a cancelled debt stays closed whatever billing sends.
    assert not any(reopens(status, outcome, ledger) for status in ("estate", "bankruptcy", "cancelled"))


def test_money_held_as_overpayment_goes_against_a_balance_owed_again():
    ledger = Ledger(principal_minor=10_000)
    ledger.apply(payment("P1", 10_000), "CNY")
    ledger.apply(payment("LATE", 3_000), "CNY")  # after the cure: held as overpayment
    ledger.reverse(PaymentReversed(payment_id="P1", reason="bounced", reversed_at=datetime(2026, 1, 2, tzinfo=UTC)))
    ledger.use_overpayment()
    assert (ledger.outstanding_minor, ledger.overpaid_minor) == (7_000, 0)


# --- billing's changes ----------------------------------------------------------------------------------------


def test_a_charge_a_credit_note_and_a_payment_apply_once_each_with_the_balance_before_and_after():
    ledger = Ledger(principal_minor=100_000)
    charged = ledger.change(change("CH-1", "charge", 20_000), "CNY")
    assert (charged.verdict, charged.outstanding_after_minor) == ("applied", 120_000)
    assert charged.entry is not None
    assert (charged.entry.kind, charged.entry.before, charged.entry.after) == ("charge", owed(100_000), owed(120_000))
    assert ledger.change(change("CH-1", "charge", 20_000), "CNY").verdict == "duplicate"

    credited = ledger.change(change("CN-1", "credit_note", 5_000), "CNY")
    assert credited.entry is not None
    assert (credited.entry.before, credited.entry.after) == (owed(120_000), owed(115_000))
    assert ledger.change(change("CN-1", "credit_note", 5_000), "CNY").verdict == "duplicate"

    paid = ledger.apply(payment("P1", 15_000), "CNY")
    assert paid.entry is not None
    assert (paid.entry.kind, paid.entry.before, paid.entry.after) == ("payment", owed(115_000), owed(100_000))
    assert ledger.apply(payment("P1", 15_000), "CNY").verdict == "duplicate"

    assert (ledger.outstanding_minor, ledger.charged_minor, ledger.credited_minor, ledger.paid_minor) == (
        100_000,
        20_000,
        5_000,
        15_000,
    )


def test_interest_is_owed_apart_and_paid_after_fees_before_principal(property_fees):
    ledger = Ledger(principal_minor=100_000)
    ledger.accrue_late_fee(property_fees, 2)  # 200 in fees
    posted = ledger.change(change("I-1", "interest", 1_500), "CNY")
    assert posted.entry is not None
    assert (posted.entry.before, posted.entry.after) == (owed(100_000, late_fee=200), owed(100_000, 1_500, 200))
    paid = ledger.apply(payment("P1", 1_000), "CNY")
    assert paid.entry is not None and paid.entry.after == owed(100_000, 700, 0)
    undone = ledger.reverse(PaymentReversed(payment_id="P1", reason="bounced", reversed_at=PAID_AT))
    assert undone.entry is not None
    assert (undone.entry.kind, undone.entry.after) == ("payment_reversed", owed(100_000, 1_500, 200))


def test_a_write_down_takes_principal_off():
    ledger = Ledger(principal_minor=100_000)
    written = ledger.change(change("W-1", "write_down", 40_000), "CNY")
    assert written.entry is not None and written.entry.after == owed(60_000)
    assert ledger.credited_minor == 40_000


@pytest.mark.parametrize(
    ("billed", "reason"),
    [
        (change("X", "charge", 0), "amount must be positive, got 0 minor units"),
        (change("X", "charge", 500, currency="USD"), "a charge in USD on an account in CNY"),
        (change("X", "credit_note", 100_001), "a credit note of 100001 is more than the 100000 owed in principal"),
        (change("X", "write_down", 200_000), "a write-down of 200000 is more than the 100000 owed in principal"),
        (change("X", "charge", 500, invoice_id="INV-1"), "the account carries no invoices: leave invoice_id out"),
    ],
)
def test_a_change_that_cannot_apply_is_refused_with_why_and_moves_nothing(billed, reason):
    ledger = Ledger(principal_minor=100_000)
    outcome = ledger.change(billed, "CNY")
    assert (outcome.verdict, outcome.reason, outcome.entry) == ("rejected", reason, None)
    assert (ledger.outstanding_minor, ledger.postings) == (100_000, {})
    # Corrected, the same id applies.
    assert ledger.change(change("X", "charge", 500), "CNY").verdict == "applied"


def test_the_changes_payload_names_what_does_not_fit_its_kind():
    with pytest.raises(ValueError, match="only a charge that opens an invoice"):
        change("X", "credit_note", 500, due_date=date(2026, 3, 1))
    with pytest.raises(ValueError, match="interest is the account's"):
        change("X", "interest", 500, invoice_id="INV-1")


def test_a_charge_after_a_cure_is_paid_from_the_money_held():
    ledger = Ledger(principal_minor=10_000)
    ledger.apply(payment("P1", 13_000), "CNY")  # 3,000 held as overpayment
    charged = ledger.change(change("CH-1", "charge", 2_000), "CNY")
    assert charged.entry is not None
    assert (charged.entry.before, charged.entry.after) == (owed(0, overpaid=3_000), owed(0, overpaid=1_000))


# --- invoices (B2B) -------------------------------------------------------------------------------------------

INVOICES = [
    Invoice(invoice_id="INV-1", amount_minor=30_000, due_date=date(2026, 1, 5)),
    Invoice(invoice_id="INV-2", amount_minor=50_000, due_date=date(2026, 1, 20)),
    Invoice(invoice_id="INV-3", amount_minor=20_000, due_date=date(2026, 2, 4)),
]


def open_amounts(ledger: Ledger) -> dict[str, int]:
    return {i.invoice_id: i.open_minor for i in ledger.invoices}


def test_dpd_counts_from_the_oldest_unpaid_invoice():
    ledger = Ledger.opening(100_000, INVOICES)
    assert ledger.dpd_from() == date(2026, 1, 5)
    ledger.apply(payment("P1", 30_000), "CNY")
    assert ledger.dpd_from() == date(2026, 1, 20)
    ledger.apply(payment("P2", 70_000), "CNY")
    assert ledger.dpd_from() is None  # nothing unpaid: the account's own due date
    assert Ledger(principal_minor=100_000).dpd_from() is None  # no invoices: one invoice, the account's


def test_a_payment_goes_to_the_oldest_invoice_first():
    ledger = Ledger.opening(100_000, INVOICES)
    paid = ledger.apply(payment("P1", 40_000), "CNY")
    assert open_amounts(ledger) == {"INV-1": 0, "INV-2": 40_000, "INV-3": 20_000}
    assert paid.entry is not None and paid.entry.invoices == {"INV-1": -30_000, "INV-2": -10_000}


def test_a_payment_naming_its_invoice_goes_there_first_then_to_the_oldest():
    ledger = Ledger.opening(100_000, INVOICES)
    ledger.apply(payment("P1", 25_000, invoice_id="INV-3"), "CNY")
    assert open_amounts(ledger) == {"INV-1": 25_000, "INV-2": 50_000, "INV-3": 0}
    assert ledger.dpd_from() == date(2026, 1, 5)  # the oldest is still unpaid
    # Reversed, each invoice gets back what the payment paid on it.
    ledger.reverse(PaymentReversed(payment_id="P1", reason="bounced", reversed_at=PAID_AT))
    assert open_amounts(ledger) == {"INV-1": 30_000, "INV-2": 50_000, "INV-3": 20_000}


def test_a_policy_may_ignore_the_named_invoice_or_pay_the_newest_first():
    newest = Ledger.opening(100_000, INVOICES)
    newest.apply(payment("P1", 25_000, invoice_id="INV-1"), "CNY", InvoiceRules(allocation="newest_first"))
    assert open_amounts(newest) == {"INV-1": 5_000, "INV-2": 50_000, "INV-3": 20_000}
    ignored = Ledger.opening(100_000, INVOICES)
    ignored.apply(payment("P1", 25_000, invoice_id="INV-3"), "CNY", InvoiceRules(honour_named_invoice=False))
    assert open_amounts(ignored) == {"INV-1": 5_000, "INV-2": 50_000, "INV-3": 20_000}


def test_a_payment_naming_an_unknown_invoice_is_refused_with_why():
    ledger = Ledger.opening(100_000, INVOICES)
    outcome = ledger.apply(payment("P1", 5_000, invoice_id="INV-9"), "CNY")
    assert (outcome.verdict, outcome.reason) == ("rejected", "no invoice INV-9 on this account")
    outcome = Ledger(principal_minor=1_000).apply(payment("P1", 5_000, invoice_id="INV-1"), "CNY")
    assert (outcome.verdict, outcome.reason) == ("rejected", "the account carries no invoices: leave invoice_id out")


def test_billing_charges_an_invoice_opens_a_new_one_and_credits_a_named_one():
    ledger = Ledger.opening(100_000, INVOICES)
    ledger.change(change("CH-1", "charge", 5_000, invoice_id="INV-2"), "CNY")
    opened = ledger.change(change("CH-2", "charge", 8_000, invoice_id="INV-4", due_date=date(2026, 2, 20)), "CNY")
    assert opened.entry is not None and opened.entry.after == owed(113_000)
    ledger.change(change("CN-1", "credit_note", 2_000, invoice_id="INV-3"), "CNY")
    assert {i.invoice_id: (i.billed_minor, i.open_minor) for i in ledger.invoices} == {
        "INV-1": (30_000, 30_000),
        "INV-2": (55_000, 55_000),
        "INV-3": (18_000, 18_000),
        "INV-4": (8_000, 8_000),
    }


@pytest.mark.parametrize(
    ("billed", "reason"),
    [
        (
            change("X", "charge", 500),
            "name the invoice the charge is for (a new invoice_id with its due_date opens one)",
        ),
        (change("X", "charge", 500, invoice_id="INV-9"), "invoice INV-9 is new: give its due_date"),
        (
            change("X", "charge", 500, invoice_id="INV-1", due_date=date(2026, 3, 1)),
            "invoice INV-1 is due 2026-01-05, not 2026-03-01: leave due_date out",
        ),
        (change("X", "credit_note", 500, invoice_id="INV-9"), "no invoice INV-9 on this account"),
        (
            change("X", "credit_note", 20_001, invoice_id="INV-3"),
            "a credit note of 20001 is more than the 20000 owed on invoice INV-3",
        ),
    ],
)
def test_an_invoice_change_that_cannot_apply_is_refused_with_why(billed, reason):
    ledger = Ledger.opening(100_000, INVOICES)
    outcome = ledger.change(billed, "CNY")
    assert (outcome.verdict, outcome.reason) == ("rejected", reason)
    assert open_amounts(ledger) == {"INV-1": 30_000, "INV-2": 50_000, "INV-3": 20_000}
