"""Money in integer minor units; Decimal only at the edges where people type amounts."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor-unit exponents of the currencies we bill in.
CURRENCY_EXPONENTS: dict[str, int] = {
    "CNY": 2,
    "HKD": 2,
    "TWD": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "SGD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "INR": 2,
    "MXN": 2,
    "BRL": 2,
    "ZAR": 2,
    "PHP": 2,
    "MYR": 2,
    "THB": 2,
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "IDR": 2,
    "KWD": 3,
    "BHD": 3,
}


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise ValueError(f"unknown currency {currency!r}; known: {', '.join(sorted(CURRENCY_EXPONENTS))}") from None


def to_minor(amount: str | Decimal, currency: str) -> int:
    """Parse a typed amount ("12.34") into minor units, refusing fractions the currency does not have."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        raise ValueError(f"amount {amount!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"amount {amount!r} is not a number")
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"amount {amount!r} has more decimals than {currency} allows ({exponent(currency)})")
    return int(scaled)


def to_major(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


def format_amount(minor: int, currency: str) -> str:
    places = exponent(currency)
    return f"{to_major(minor, currency):,.{places}f} {currency}"


def daily_fee(principal_minor: int, rate_per_day: Decimal, days: int) -> int:
    """Simple (non-compounding) late fee on the arrears, each day's fee rounded half up to the minor unit, so the
    total does not depend on how the days are grouped when it is accrued."""
    if days <= 0 or principal_minor <= 0:
        return 0
    return days * int((Decimal(principal_minor) * rate_per_day).to_integral_value(ROUND_HALF_UP))
