"""The collections measures on a portfolio written by hand (tests/measures_portfolio.py), in a database of its own:
every rate, count and amount is the one worked out from the story there."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from dunning.measures import Period
from dunning.reporting import UnitCosts
from infra import collection_effort, db, measures
from infra.experiments import arm_results
from tests import measures_portfolio
from tests.measures_portfolio import at, day

SPRING = Period(first=date(2026, 3, 1), last=date(2026, 5, 31))
UNIT_COSTS = UnitCosts(
    text={"CNY": 10},
    email={"CNY": 2},
    call_attempt={"CNY": 100},
    letter={"CNY": 200},
    registered_letter={"CNY": 1000},
    field_visit={"CNY": 5000},
)


@pytest.fixture(scope="module")
async def portfolio(database_url):
    """Other tests' accounts would change every count: a database of this module's own."""
    name = f"collections_measures_{uuid.uuid4().hex[:8]}"
    pool = await db.create_pool(await db.create_database(database_url, name))
    await db.migrate(pool)
    await measures_portfolio.build(pool)
    yield pool
    await pool.close()
    await db.drop_database(database_url, name)


def rows(models, *fields):
    return [tuple(getattr(m, f) for f in fields) for m in models]


async def test_the_history_keeps_every_change_at_its_business_time(portfolio):
    history = await portfolio.fetch(
        "SELECT at, status, outstanding_minor FROM account_history WHERE account_id = 'A4' ORDER BY at, change_id"
    )
    assert [tuple(r) for r in history] == [
        (at("03-05"), "open", 300_000),
        (at("03-20"), "cured", 0),  # the cure is kept when close_account stamps it, not twice
        (at("04-05"), "open", 300_000),  # reopened by the reversal, at its time
    ]
    spells = await portfolio.fetch(
        "SELECT started_at, reopened, ended_at, ended_as FROM delinquencies WHERE account_id = 'A4' ORDER BY 1"
    )
    assert [tuple(r) for r in spells] == [(at("03-05"), False, at("03-20"), "cured"), (at("04-05"), True, None, None)]


async def test_each_day_ends_in_a_bucket(portfolio):
    found = await portfolio.fetch(
        "SELECT day, status, dpd, outstanding_minor FROM account_days($1, $2) WHERE account_id = 'A4' ORDER BY day",
        day("03-19"),
        day("04-06"),
    )
    assert [tuple(r) for r in found[:2]] == [(day("03-19"), "open", 18, 300_000), (day("03-20"), "cured", 19, 0)]
    assert [tuple(r) for r in found[-3:]] == [
        (day("04-04"), "cured", 34, 0),
        (day("04-05"), "open", 35, 300_000),
        (day("04-06"), "open", 36, 300_000),
    ]


async def test_cure_rates_by_bucket_and_by_amount_band(portfolio):
    cures = await measures.cure_rates(portfolio, SPRING, "portfolio", window_days=30)
    fields = ("band", "entered", "cured", "entered_minor", "cured_minor")
    assert rows(cures.by_bucket, *fields) == [
        ("current", 1, 1, 500_000, 500_000),  # A7 before its due date
        ("1-29", 6, 3, 1_230_000, 900_000),  # A1, A4 and A7 cured within 30 days; A3 took 45
        ("30-59", 4, 0, 650_000, 0),  # A4's reopening enters here, at dpd 35
        ("60-89", 4, 1, 600_000, 150_000),  # A3 entered owing 1,500 and cured 14 days later
        ("90-119", 3, 0, 450_000, 0),
    ]
    assert rows(cures.by_amount_band, *fields) == [
        ("under 1,000", 5, 0, 280_000, 0),
        ("1,000-9,999", 13, 5, 3_150_000, 1_550_000),
    ]
    assert {c.slice for c in cures.by_bucket} == {"portfolio"} and cures.by_bucket[1].by_count == 0.5
    assert cures.by_bucket[1].by_amount == pytest.approx(900_000 / 1_230_000)


async def test_cure_rates_by_policy(portfolio):
    cures = await measures.cure_rates(portfolio, SPRING, "policy", window_days=30)
    assert rows(cures.by_bucket, "slice", "band", "entered", "cured") == [
        ("b2b_receivables@v3", "current", 1, 1),
        ("b2b_receivables@v3", "1-29", 1, 1),
        ("consumer_loan@v6", "1-29", 5, 2),
        ("consumer_loan@v6", "30-59", 4, 0),
        ("consumer_loan@v6", "60-89", 4, 1),
        ("consumer_loan@v6", "90-119", 3, 0),
    ]


async def test_a_shorter_window_cures_fewer(portfolio):
    cures = await measures.cure_rates(portfolio, SPRING, "portfolio", window_days=10)
    assert rows(cures.by_bucket, "band", "cured") == [
        ("current", 0),  # A7 paid 17 days after it opened
        ("1-29", 2),  # A1 in 9 days, A7 in 9 days from 04-11
        ("30-59", 0),
        ("60-89", 0),
        ("90-119", 0),
    ]


async def test_the_roll_matrix_month_over_month(portfolio):
    matrix = await measures.roll_rates(portfolio, SPRING, "portfolio")
    assert rows(matrix.cells, "month_end", "from_bucket", "to_bucket", "accounts", "balance_minor") == [
        (day("03-31"), "1-29", "closed", 1, 80_000),  # A5, cancelled
        (day("03-31"), "30-59", "60-89", 2, 150_000),  # A2 and A6 roll forward
        (day("03-31"), "30-59", "cured", 1, 150_000),  # A3
        (day("04-30"), "60-89", "90-119", 3, 450_000),  # A2, A4 (reopened) and A6
    ]
    assert matrix.rates("portfolio", "CNY")["30-59"] == {"60-89": 2 / 3, "cured": 1 / 3}


async def test_stage_migration_from_the_steps_logged(portfolio):
    matrix = await measures.roll_rates(portfolio, SPRING, "portfolio", basis="stage")
    assert rows(matrix.cells, "month_end", "from_bucket", "to_bucket", "accounts") == [
        (day("03-31"), "18-29", "30-59", 1),  # A6: its agency step, then the visit
        (day("03-31"), "18-29", "60-89", 1),  # A2
        (day("03-31"), "30-59", "cured", 1),  # A3
        (day("03-31"), "no step yet", "closed", 1),  # A5
        (day("04-30"), "1-5", "1-5", 1),  # A4: the skipped text is its last step
        (day("04-30"), "30-59", "30-59", 1),
        (day("04-30"), "60-89", "90+", 1),  # A2's placement, waiting for approval
    ]


async def test_delinquency_frequency_duration_and_days_to_cure(portfolio):
    [found] = await measures.delinquency(portfolio, SPRING, "portfolio")
    assert found.model_dump() == {
        "slice": "portfolio",
        "currency": "CNY",
        "accounts": 6,  # A1-A5 and A7; A6 started in February
        "started": 7,  # A4 twice
        "reopened": 1,
        "started_minor": 1_530_000,
        "ended": 5,
        "cured": 4,
        "mean_days": 22.2,  # (9 + 45 + 15 + 25 + 17) / 5
        "mean_days_to_cure": 21.5,
        "median_days_to_cure": 16.0,
    }
    assert found.frequency == 7 / 6


async def test_recovered_and_liquidation(portfolio):
    [found] = await measures.recovery(portfolio, SPRING, "portfolio")
    assert (found.collected_minor, found.reversed_minor, found.recovered_minor) == (1_120_000, 300_000, 820_000)
    # Only A6 owed at the end of February (1,200) and it paid 200 in the period.
    assert (found.balance_at_start_minor, found.collected_from_start_minor) == (120_000, 20_000)
    assert found.liquidation_rate == 1 / 6


async def test_promises_kept_in_full_in_part_and_broken(portfolio):
    found = await collection_effort.promises_kept(portfolio, SPRING, "portfolio")
    fields = ("kind", "came_due", "kept", "kept_in_part", "broken", "due_minor", "kept_minor", "paid_minor")
    assert rows(found, *fields) == [
        ("plan", 1, 1, 0, 0, 150_000, 150_000, 150_000),
        ("promise", 4, 2, 1, 1, 210_000, 150_000, 170_000),  # P4 falls due in June, P5 was never judged
    ]
    assert found[1].by_count == 0.5 and found[1].by_amount == pytest.approx(150_000 / 210_000)


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("portfolio", [("portfolio", 8, 5, 3)]),
        ("policy", [("consumer_loan@v6", 8, 5, 3)]),
        ("segment", [("high_risk", 6, 3, 2), ("low_risk", 2, 2, 1)]),
        ("arm", [("collect@1/champion", 2, 2, 1), ("collect@1/gentle", 6, 3, 2)]),
        ("creditor", [("Lender A", 8, 5, 3)]),
        ("entry_bucket", [("1-29", 8, 5, 3)]),
    ],
)
async def test_contact_and_right_party_contact_rates_by_each_slice(portfolio, by, expected):
    found = await collection_effort.contact_rates(portfolio, SPRING, by)
    # Attempts: A2's four calls, A3's promise, A5's "moved" and A6's two visits; not the text reply, the refused
    # outcome, the update, or A6's February call.
    assert rows(found, "slice", "attempts", "reached_anyone", "reached_debtor") == expected


async def test_contacts_per_account_and_per_cure(portfolio):
    [found] = await collection_effort.contact_intensity(portfolio, SPRING, "portfolio")
    # A2: text, call, letter, e-mail, call; A3: text, registered letter; A6: the visit. 7 accounts, 4 cures.
    assert (found.contacts, found.accounts, found.cures) == (8, 7, 4)
    assert (found.per_account, found.per_cure) == (8 / 7, 2)


async def test_what_each_action_cost_and_what_it_bought(portfolio):
    [found] = await collection_effort.action_costs(portfolio, SPRING, "portfolio", unit_costs=UNIT_COSTS)
    assert found.actions == {
        "text": 2,
        "email": 1,
        "letter": 1,
        "registered_letter": 1,
        "call_attempt": 6,
        "field_visit": 2,
    }
    assert found.action_cost_minor == 2 * 10 + 2 + 200 + 1000 + 6 * 100 + 2 * 5000
    assert found.commission_minor == 4_000 + 37_500  # 20 % of A6's 200, 25 % of A3's 1,500 while placed
    assert (found.recovered_minor, found.cures, found.cost_minor) == (820_000, 4, 53_322)
    assert (found.cost_per_cure, found.yield_per_cost) == (53_322 / 4, 820_000 / 53_322)


async def test_a_currency_without_unit_costs_is_named(portfolio):
    usd_only = UnitCosts(**{action: {"USD": 1} for action in UnitCosts.model_fields})
    with pytest.raises(ValueError, match=r"reporting/unit_costs.yaml\) price nothing in CNY"):
        await collection_effort.action_costs(portfolio, SPRING, "portfolio", unit_costs=usd_only)
    with pytest.raises(ValueError, match=r"reporting/unit_costs.yaml\) price nothing in CNY"):
        await arm_results(portfolio, SPRING, "collect@1", "CNY", unit_costs=usd_only)


async def test_collector_queues(portfolio):
    found = await collection_effort.queue_performance(portfolio, SPRING, "portfolio")
    fields = ("queue", "call_tasks", "follow_up_days", "days_worked", "attempts", "reached_anyone")
    assert rows(found, *fields, "reached_debtor", "promises", "cures") == [
        ("no queue", 0, 0, 0, 1, 1, 0, 3, 3),
        ("phone_team_1", 2, 2, 1, 5, 3, 2, 3, 1),  # the withdrawn follow-up day does not count
        ("phone_team_2", 0, 0, 0, 2, 1, 1, 1, 0),
    ]


async def test_agencies(portfolio):
    found = await collection_effort.agency_performance(portfolio, SPRING, "portfolio")
    assert rows(found, "agency", "placements", "placed_minor", "recovered_minor", "commission_minor") == [
        ("agency_a", 1, 120_000, 20_000, 4_000),
        ("agency_b", 1, 150_000, 150_000, 37_500),  # the payment that cured A3 settled the placement
    ]
    assert found[0].recovery_rate == 1 / 6


async def test_an_experiments_arms_followed_for_the_same_window(portfolio):
    results = await arm_results(portfolio, SPRING, "collect@1", "CNY", window_days=30, unit_costs=UNIT_COSTS)
    assert rows(results.outcomes, "arm", "cured", "days_to_cure", "contacts", "cost_minor") == [
        ("champion", True, 9, 0, 0),  # A1
        ("champion", False, None, 2, 10 + 1000 + 100),  # A3 cured after 45 days
        ("champion", False, None, 0, 100),  # A5: the "moved" call
        ("champion", True, 17, 0, 0),  # A7
        ("gentle", False, None, 4, 10 + 100 * 4 + 200 + 2),  # A2; its April call is past the window
        ("gentle", True, 15, 0, 0),  # A4 until the bounce
        ("gentle", False, None, 0, 0),  # A4 reopened
    ]
    assert rows(results.counts, "arm", "promises_due", "promises_kept", "attempts", "reached_debtor") == [
        ("champion", 3, 3, 2, 1),
        ("gentle", 2, 0, 6, 2),
    ]
