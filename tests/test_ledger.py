"""The balance: payments applied once, overpayments kept, property late fees accrued once per dpd and paid first;
money parsed and printed in the currency's own minor units."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from dunning.account import PaymentReceived, PaymentReversed
from dunning.ledger import Ledger, reopens
from dunning.money import daily_fee, format_amount, to_minor
from dunning.policy import load_policy

PAID_AT = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)


def payment(payment_id: str, amount_minor: int, currency: str | None = "CNY") -> PaymentReceived:
    return PaymentReceived(payment_id=payment_id, amount_minor=amount_minor, currency=currency, paid_at=PAID_AT)


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
