"""A synthetic consumer-loan portfolio: varied debts and debtors, drawn per account from the seed, so the standard
segmentation finds all four segments and the running experiment draws its arms. Account number i is the same
whatever the portfolio's size. The mix is ours, picked to look like a mainland lender's early-stage book.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import TypeVar

from dunning.account import AccountDocument, ContactPoint
from dunning.money import to_minor

T = TypeVar("T")
PRODUCT = "consumer_loan"
CREDITOR = "Demo Consumer Finance"  # the consumer lender of the shipped letterheads (templates/letters)
# Currency, time zone, locale, and the debt's range in major units: mostly yuan, some dollar loans of debtors in Hong
# Kong (the same clock as Shanghai, so one business day for the whole portfolio; reporting/unit_costs.yaml prices
# both currencies).
CURRENCIES = [
    (0.92, "CNY", "Asia/Shanghai", "zh", (500, 120_000)),
    (0.08, "USD", "Asia/Hong_Kong", "en", (80, 16_000)),
]
INCOME = [(0.20, "high"), (0.45, "middle"), (0.25, "low"), (0.10, None)]
EMPLOYMENT = [
    (0.55, "employed"),
    (0.15, "self_employed"),
    (0.05, "retired"),
    (0.05, "student"),
    (0.10, "unemployed"),
    (0.10, None),
]
PRIOR_DELINQUENCIES = [(0.60, 0), (0.20, 1), (0.10, 2), (0.10, 4)]
PRIOR_BROKEN_PROMISES = [(0.80, 0), (0.12, 1), (0.08, 2)]
FAMILY_CONTACT = 0.75  # a spouse or parent among the contact persons
# Days past due on arrival: most come the day after the due date; some late; a few already long-term.
ARRIVAL = [(0.85, (1, 1)), (0.10, (2, 20)), (0.05, (90, 120))]
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN_NAMES = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军"]


def _weighted(rng: random.Random, options: list[tuple[float, T]]) -> T:
    point, edge = rng.random(), 0.0
    for share, value in options:
        edge += share
        if point < edge:
            return value
    return options[-1][1]


def account_id(number: int) -> str:
    return f"SIM{number:05d}"


def debtor(seed: int, number: int, opened_on: date) -> AccountDocument:
    """Account number `number` (from 0) of the portfolio of `seed`, arriving on `opened_on`."""
    reference = account_id(number)
    rng = random.Random(f"{seed}:{reference}")  # the account's own stream: other accounts never shift it
    _, currency, zone, locale, (low, high) = _weighted(rng, [(c[0], c) for c in CURRENCIES])
    amount = round(low * (high / low) ** rng.random())  # spread evenly over orders of magnitude
    dpd = rng.randint(*_weighted(rng, ARRIVAL))
    phone = f"{rng.randrange(10**8):08d}"
    points = [  # valid in China's plan: a mobile 13..., a Shanghai landline 021 6..., a contact's mobile 18...
        ContactPoint(kind="mobile", value=f"+8613{phone}0"),
        ContactPoint(kind="home_phone", value=f"+86216{phone[1:]}"),
        ContactPoint(kind="email", value=f"{reference.lower()}@example.com"),
        ContactPoint(kind="address", value=f"{rng.randint(1, 999)} Simulation Road, Shanghai"),
    ]
    if rng.random() < FAMILY_CONTACT:
        relation = rng.choice(["spouse", "parent"])
        points.append(ContactPoint(kind="mobile", value=f"+8618{phone}1", owner="contact", relation=relation))
    return AccountDocument(
        account_id=reference,
        debtor_name=rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES) if locale == "zh" else f"Debtor {number}",
        contact_points=points,
        time_zone=zone,
        currency=currency,
        amount_due_minor=to_minor(str(amount), currency),
        due_date=opened_on - timedelta(days=dpd),
        product=PRODUCT,
        locale=locale,
        creditor=CREDITOR,
        income_band=_weighted(rng, INCOME),
        employment=_weighted(rng, EMPLOYMENT),
        prior_delinquencies=_weighted(rng, PRIOR_DELINQUENCIES),
        prior_broken_promises=_weighted(rng, PRIOR_BROKEN_PROMISES),
    )


def synthetic_portfolio(seed: int, accounts: int, opened_on: date) -> list[AccountDocument]:
    return [debtor(seed, number, opened_on) for number in range(accounts)]
