"""Promises to pay and repayment plans as pure rules (domain §5, §6 strategy 4): which are accepted, when their
reminders and confirmations go out, when they count as missed, and whether they were kept."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from dunning.commitments import (
    Commitment,
    Instalment,
    PlanProposed,
    PromiseMade,
    missed_at,
    plan_commitment,
    plan_problem,
    promise_commitment,
    promise_facts,
    promise_problem,
    review,
    timeline,
)
from tests.conftest import make_account

SHANGHAI = ZoneInfo("Asia/Shanghai")
OWED = 250_000
ACCOUNT = make_account(due=date(2026, 3, 1), account_id="LOAN-0001", amount_minor=OWED)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def promise(
    day: date,
    amount_minor: int = OWED,
    hour: time | None = None,
    made_at: datetime | None = None,
    promise_id: str = "P1",
) -> PromiseMade:
    return PromiseMade(
        promise_id=promise_id,
        amount_minor=amount_minor,
        promised_date=day,
        promised_hour=hour,
        channel="call",
        taken_by="agent-7",
        made_at=made_at or at(2026, 3, 4, 11),
    )


def plan(*instalments: tuple[date, int], plan_id: str = "PLAN1") -> PlanProposed:
    return PlanProposed(
        plan_id=plan_id,
        cause="job_loss",
        agreed_by="agent-7",
        agreed_at=at(2026, 3, 4, 11),
        instalments=[Instalment(due_date=day, amount_minor=amount) for day, amount in instalments],
    )


def paid(commitment: Commitment, amount_minor: int) -> Commitment:
    return commitment.model_copy(update={"paid_minor": amount_minor})


def schedule(commitment: Commitment, policy) -> list[tuple[str, datetime]]:
    return [(step.step_id, step.due_at) for step in timeline(policy, ACCOUNT, commitment)]


# --- which promises are accepted ------------------------------------------------------------------------------


def test_a_promise_of_the_whole_balance_within_a_week_is_accepted(consumer):
    assert promise_problem(consumer, ACCOUNT, promise(date(2026, 3, 11)), OWED, at(2026, 3, 4, 11)) == ""


def test_a_promise_exactly_7_days_out_is_accepted_and_8_days_is_not(consumer):
    now = at(2026, 3, 4, 11)
    assert promise_problem(consumer, ACCOUNT, promise(date(2026, 3, 11)), OWED, now) == ""
    assert promise_problem(consumer, ACCOUNT, promise(date(2026, 3, 12)), OWED, now) == (
        "promised date 2026-03-12 is more than 7 days after the promise (2026-03-04); agree a plan instead"
    )


def test_a_promise_for_a_day_already_past_is_refused(consumer):
    problem = promise_problem(consumer, ACCOUNT, promise(date(2026, 3, 3)), OWED, at(2026, 3, 4, 11))
    assert problem == "promised date 2026-03-03 is already past (2026-03-04)"


def test_a_promise_for_today_is_accepted_until_its_hour_has_passed(consumer):
    now = at(2026, 3, 4, 11)
    assert promise_problem(consumer, ACCOUNT, promise(date(2026, 3, 4), hour=time(15)), OWED, now) == ""
    assert promise_problem(consumer, ACCOUNT, promise(date(2026, 3, 4), hour=time(11)), OWED, now) != ""
    assert "already past" in promise_problem(consumer, ACCOUNT, promise(date(2026, 3, 4), hour=time(9)), OWED, now)


def test_the_days_of_a_promise_count_in_the_debtors_zone(consumer):
    now = datetime(2026, 3, 3, 20, tzinfo=UTC)  # already 4 March, 04:00, in Shanghai
    assert "already past" in promise_problem(consumer, ACCOUNT, promise(date(2026, 3, 3)), OWED, now)
    assert promise_problem(consumer, ACCOUNT, promise(date(2026, 3, 11)), OWED, now) == ""  # 7 days, not 8


def test_a_promise_of_nothing_is_refused(consumer):
    problem = promise_problem(consumer, ACCOUNT, promise(date(2026, 3, 6), amount_minor=0), OWED, at(2026, 3, 4, 11))
    assert problem == "promised amount must be more than zero, got 0"


def test_a_promise_of_more_than_is_owed_is_refused(consumer):
    problem = promise_problem(
        consumer, ACCOUNT, promise(date(2026, 3, 6), amount_minor=OWED + 1), OWED, at(2026, 3, 4, 11)
    )
    assert problem == f"promised amount {OWED + 1} is more than the {OWED} owed"


def test_a_promise_of_part_of_the_balance_is_accepted(consumer):
    assert (
        promise_problem(consumer, ACCOUNT, promise(date(2026, 3, 6), amount_minor=100_000), OWED, at(2026, 3, 4, 11))
        == ""
    )


def test_a_policy_without_promise_rules_takes_no_promises(consumer):
    problem = promise_problem(
        consumer.model_copy(update={"promises": None}), ACCOUNT, promise(date(2026, 3, 6)), OWED, at(2026, 3, 4, 11)
    )
    assert problem.endswith("takes no promises to pay")


# --- which plans are agreed -----------------------------------------------------------------------------------


def test_a_plan_that_clears_the_balance_in_order_within_the_limits_is_agreed(consumer):
    proposed = plan((date(2026, 3, 10), 100_000), (date(2026, 4, 10), 100_000), (date(2026, 5, 10), 50_000))
    assert plan_problem(consumer, ACCOUNT, proposed, OWED, at(2026, 3, 4, 11)) == ""


def test_a_plan_that_does_not_add_up_to_the_balance_is_refused(consumer):
    proposed = plan((date(2026, 3, 10), 100_000), (date(2026, 4, 10), 100_000))
    problem = plan_problem(consumer, ACCOUNT, proposed, OWED, at(2026, 3, 4, 11))
    assert problem == f"instalments add up to 200000 but the account owes {OWED}"


def test_a_plan_that_pays_more_than_the_balance_is_refused(consumer):
    proposed = plan((date(2026, 3, 10), 200_000), (date(2026, 4, 10), 100_000))
    assert "add up to 300000" in plan_problem(consumer, ACCOUNT, proposed, OWED, at(2026, 3, 4, 11))


@pytest.mark.parametrize("second", [date(2026, 3, 9), date(2026, 3, 10)], ids=["earlier", "same_day"])
def test_instalments_must_fall_on_later_days_one_after_the_other(consumer, second):
    proposed = plan((date(2026, 3, 10), 100_000), (second, 150_000))
    problem = plan_problem(consumer, ACCOUNT, proposed, OWED, at(2026, 3, 4, 11))
    assert problem == "instalment dates must be in ascending order, one instalment a day at most"


def test_a_plan_of_more_instalments_than_the_policy_allows_is_refused(consumer):
    thirteen = (
        [(date(2026, month, 10), 10_000) for month in range(4, 13)]
        + [(date(2026, 12, day), 10_000) for day in (20, 21, 22)]
        + [(date(2027, 1, 10), OWED - 120_000)]
    )
    problem = plan_problem(consumer, ACCOUNT, plan(*thirteen), OWED, at(2026, 3, 4, 11))
    assert problem == "13 instalments, more than the 12 the policy allows"


def test_twelve_instalments_are_allowed(consumer):
    twelve = [(date(2026, month, 1), 20_000) for month in range(4, 13)] + [
        (date(2027, 1, 1), 20_000),
        (date(2027, 2, 1), 20_000),
        (date(2027, 3, 1), OWED - 220_000),
    ]
    assert plan_problem(consumer, ACCOUNT, plan(*twelve), OWED, at(2026, 3, 4, 11)) == ""


def test_the_first_instalment_must_fall_within_30_days_of_agreement(consumer):
    now = at(2026, 3, 4, 11)
    assert plan_problem(consumer, ACCOUNT, plan((date(2026, 4, 3), OWED)), OWED, now) == ""
    assert plan_problem(consumer, ACCOUNT, plan((date(2026, 4, 4), OWED)), OWED, now) == (
        "first instalment 2026-04-04 is more than 30 days after agreement"
    )


def test_the_first_instalment_cannot_be_before_the_plan_is_agreed(consumer):
    problem = plan_problem(consumer, ACCOUNT, plan((date(2026, 3, 3), OWED)), OWED, at(2026, 3, 4, 11))
    assert problem == "first instalment 2026-03-03 is before the day the plan was agreed (2026-03-04)"


def test_the_last_instalment_must_fall_within_365_days_of_agreement(consumer):
    now = at(2026, 3, 4, 11)
    within = plan((date(2026, 3, 10), 100_000), (date(2027, 3, 4), 150_000))
    beyond = plan((date(2026, 3, 10), 100_000), (date(2027, 3, 5), 150_000))
    assert plan_problem(consumer, ACCOUNT, within, OWED, now) == ""
    assert plan_problem(consumer, ACCOUNT, beyond, OWED, now) == (
        "last instalment 2027-03-05 is more than 365 days after agreement"
    )


def test_a_plan_with_an_instalment_of_nothing_is_refused(consumer):
    proposed = plan((date(2026, 3, 10), 0), (date(2026, 4, 10), OWED))
    problem = plan_problem(consumer, ACCOUNT, proposed, OWED, at(2026, 3, 4, 11))
    assert problem == "every instalment must be more than zero"


def test_a_policy_without_plan_rules_offers_no_plans(consumer):
    problem = plan_problem(
        consumer.model_copy(update={"plans": None}), ACCOUNT, plan((date(2026, 3, 10), OWED)), OWED, at(2026, 3, 4, 11)
    )
    assert problem.endswith("offers no repayment plans")


# --- reminders and confirmations ------------------------------------------------------------------------------


def test_a_reminder_before_a_monday_promise_goes_out_on_friday(consumer):
    commitment = promise_commitment(promise(date(2026, 3, 9)), at(2026, 3, 4, 11))
    assert schedule(commitment, consumer)[0] == ("promise_reminder", at(2026, 3, 6, 10))


def test_a_promise_is_confirmed_in_the_morning_at_noon_and_in_the_evening_of_its_day(consumer):
    commitment = promise_commitment(promise(date(2026, 3, 9)), at(2026, 3, 4, 11))
    assert schedule(commitment, consumer) == [
        ("promise_reminder", at(2026, 3, 6, 10)),
        ("promise_confirmation", at(2026, 3, 9, 10)),
        ("promise_confirmation", at(2026, 3, 9, 12)),
        ("promise_confirmation", at(2026, 3, 9, 19)),
    ]


def test_the_reminder_and_confirmations_are_keyed_by_promise_and_tagged_with_their_stage(consumer):
    steps = timeline(consumer, ACCOUNT, promise_commitment(promise(date(2026, 3, 9)), at(2026, 3, 4, 11)))
    assert [s.key for s in steps] == [
        "promise_reminder:P1#1.0",
        "promise_confirmation:P1#1.1",
        "promise_confirmation:P1#1.2",
        "promise_confirmation:P1#1.3",
    ]
    assert [(s.channel, s.dpd, s.stage) for s in steps[:2]] == [("sms", 5, "1-5"), ("call", 8, "6-17")]
    assert {(s.cause, s.instalment) for s in steps} == {("promise P1", 1)}


def test_a_reminder_before_a_promise_after_the_spring_festival_goes_out_on_the_make_up_saturday(consumer):
    commitment = promise_commitment(promise(date(2026, 2, 24)), at(2026, 2, 12, 11))
    assert schedule(commitment, consumer)[0] == ("promise_reminder", at(2026, 2, 14, 10))


def test_a_promise_for_a_named_hour_is_confirmed_once_30_minutes_before_it(consumer):
    commitment = promise_commitment(promise(date(2026, 3, 9), hour=time(15)), at(2026, 3, 4, 11))
    assert schedule(commitment, consumer) == [
        ("promise_reminder", at(2026, 3, 6, 10)),
        ("promise_confirmation", at(2026, 3, 9, 14, 30)),
    ]


def test_moments_already_past_when_the_promise_was_made_are_left_out(consumer):
    commitment = promise_commitment(promise(date(2026, 3, 9)), at(2026, 3, 9, 11))
    assert schedule(commitment, consumer) == [
        ("promise_confirmation", at(2026, 3, 9, 12)),
        ("promise_confirmation", at(2026, 3, 9, 19)),
    ]


def test_each_instalment_of_a_plan_gets_a_reminder_a_working_day_before(consumer):
    commitment = plan_commitment(plan((date(2026, 3, 9), 100_000), (date(2026, 10, 8), 150_000)), at(2026, 3, 4, 11))
    steps = timeline(consumer, ACCOUNT, commitment)
    assert [(s.step_id, s.due_at, s.instalment) for s in steps] == [
        ("plan_instalment_reminder", at(2026, 3, 6, 10), 1),
        ("plan_instalment_reminder", at(2026, 9, 30, 10), 2),  # before National Day
    ]


# --- missed, kept or broken -----------------------------------------------------------------------------------


def test_a_promise_is_missed_at_send_time_the_day_after_two_working_days_of_grace(consumer):
    commitment = promise_commitment(promise(date(2026, 3, 9)), at(2026, 3, 4, 11))
    assert missed_at(consumer, ACCOUNT, commitment, 0) == at(2026, 3, 12, 10)


def test_the_grace_of_a_promise_counts_working_days_of_the_calendar(consumer):
    before_festival = promise_commitment(promise(date(2026, 2, 13)), at(2026, 2, 10, 11))
    before_national_day = promise_commitment(promise(date(2026, 9, 30)), at(2026, 9, 28, 11))
    assert missed_at(consumer, ACCOUNT, before_festival, 0) == at(2026, 2, 25, 10)  # grace: 14 Feb, 24 Feb
    assert missed_at(consumer, ACCOUNT, before_national_day, 0) == at(2026, 10, 10, 10)  # grace: 8, 9 Oct


def test_a_promise_is_open_until_its_grace_ends(consumer):
    commitment = promise_commitment(promise(date(2026, 3, 9)), at(2026, 3, 4, 11))
    assert review(consumer, ACCOUNT, commitment, at(2026, 3, 12, 9, 59)) == "open"
    assert review(consumer, ACCOUNT, paid(commitment, 1), at(2026, 3, 12, 9, 59)) == "open"


def test_a_promise_paid_in_full_is_kept_even_before_its_day(consumer):
    commitment = promise_commitment(promise(date(2026, 3, 9)), at(2026, 3, 4, 11))
    assert review(consumer, ACCOUNT, paid(commitment, OWED), at(2026, 3, 5, 9)) == "kept"
    assert review(consumer, ACCOUNT, paid(commitment, OWED + 500), at(2026, 3, 20, 9)) == "kept"


def test_a_promise_partly_paid_when_the_grace_ends_is_kept_in_part(consumer):
    commitment = paid(promise_commitment(promise(date(2026, 3, 9)), at(2026, 3, 4, 11)), 100_000)
    assert review(consumer, ACCOUNT, commitment, at(2026, 3, 12, 10)) == "kept_in_part"


def test_a_promise_without_any_money_when_the_grace_ends_is_broken(consumer):
    commitment = promise_commitment(promise(date(2026, 3, 9)), at(2026, 3, 4, 11))
    assert review(consumer, ACCOUNT, commitment, at(2026, 3, 12, 10)) == "broken"


def test_a_plan_whose_second_instalment_is_missed_after_the_first_was_paid_is_broken(consumer):
    commitment = paid(
        plan_commitment(plan((date(2026, 3, 9), 100_000), (date(2026, 4, 9), 150_000)), at(2026, 3, 4, 11)), 100_000
    )
    assert review(consumer, ACCOUNT, commitment, at(2026, 3, 20, 10)) == "open"  # the first is covered
    assert missed_at(consumer, ACCOUNT, commitment, 1) == at(2026, 4, 14, 10)
    assert review(consumer, ACCOUNT, commitment, at(2026, 4, 14, 10)) == "broken"


def test_a_plan_partly_paid_when_an_instalment_runs_out_of_grace_is_broken_not_kept_in_part(consumer):
    commitment = paid(
        plan_commitment(plan((date(2026, 3, 9), 100_000), (date(2026, 4, 9), 150_000)), at(2026, 3, 4, 11)), 50_000
    )
    assert review(consumer, ACCOUNT, commitment, at(2026, 3, 12, 10)) == "broken"


def test_a_plan_paid_through_every_instalment_is_kept(consumer):
    commitment = paid(
        plan_commitment(plan((date(2026, 3, 9), 100_000), (date(2026, 4, 9), 150_000)), at(2026, 3, 4, 11)), OWED
    )
    assert review(consumer, ACCOUNT, commitment, at(2026, 3, 20, 10)) == "kept"


# --- what a reminder quotes -----------------------------------------------------------------------------------


def test_a_reminder_quotes_what_is_still_to_pay_of_a_partly_paid_promise(consumer):
    commitment = paid(promise_commitment(promise(date(2026, 3, 9)), at(2026, 3, 4, 11)), 100_000)
    facts = promise_facts(commitment, 1)
    assert (facts.amount_minor, facts.due_date) == (150_000, date(2026, 3, 9))


def test_money_beyond_one_instalment_goes_toward_the_next(consumer):
    commitment = paid(
        plan_commitment(plan((date(2026, 3, 9), 100_000), (date(2026, 4, 9), 150_000)), at(2026, 3, 4, 11)), 130_000
    )
    assert promise_facts(commitment, 1).amount_minor == 0
    assert (promise_facts(commitment, 2).amount_minor, promise_facts(commitment, 2).due_date) == (
        120_000,
        date(2026, 4, 9),
    )


def test_an_instalment_not_yet_paid_quotes_its_full_amount(consumer):
    commitment = plan_commitment(plan((date(2026, 3, 9), 100_000), (date(2026, 4, 9), 150_000)), at(2026, 3, 4, 11))
    assert [promise_facts(commitment, n).amount_minor for n in (1, 2)] == [100_000, 150_000]
