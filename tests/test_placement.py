"""Placement hints (domain §3): the best windows and days a rule set prefers. They place a ladder step, never break
a hard rule, and never move a step earlier."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from dunning import ladder
from dunning.channels import Channel
from dunning.compliance import check, load_rules, place
from tests.conftest import UNIT_TESTS_TODAY, make_account, pinned
from tests.test_compliance_rules import ZONES

SHANGHAI = ZoneInfo("Asia/Shanghai")
CONSUMER, COMMERCIAL = load_rules("cn_consumer"), load_rules("cn_commercial")
B2B = pinned("b2b_receivables", UNIT_TESTS_TODAY)
CALENDAR = B2B.working_days  # cn_mainland


def shanghai(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def placed(rules, channel: Channel, at: datetime, time_zone: str = "Asia/Shanghai") -> datetime:
    return place(rules, make_account(due=date(2026, 3, 2), time_zone=time_zone), channel, at, CALENDAR)


def test_a_consumer_call_goes_in_the_next_best_window_of_its_day():
    day = date(2026, 3, 10)
    assert placed(CONSUMER, Channel.call, shanghai(day, 10)) == shanghai(day, 10)
    assert placed(CONSUMER, Channel.call, shanghai(day, 9)) == shanghai(day, 10)  # 10:00-11:30 is the first
    assert placed(CONSUMER, Channel.call, shanghai(day, 12)) == shanghai(day, 14)  # then 14:00-16:30
    assert placed(CONSUMER, Channel.call, shanghai(day, 21, 30)) == shanghai(day, 21, 30)  # none left: the guard's
    assert placed(CONSUMER, Channel.sms, shanghai(day, 8, 5)) == shanghai(day, 8, 5)  # texts have no best window


def test_a_b2b_chase_moves_off_weekends_holidays_and_month_end_to_a_working_morning():
    assert placed(COMMERCIAL, Channel.email, shanghai(date(2026, 3, 7), 9, 30)) == shanghai(date(2026, 3, 9), 9, 30)
    assert placed(COMMERCIAL, Channel.email, shanghai(date(2026, 3, 6), 9, 30)) == shanghai(date(2026, 3, 6), 9, 30)
    # The 29th of April 2026 is in the month's last 3 days and May opens with the Labour Day holiday (1-5 May):
    # nothing better within 5 days, so it stays.
    assert placed(COMMERCIAL, Channel.email, shanghai(date(2026, 4, 29), 9, 30)) == shanghai(date(2026, 4, 29), 9, 30)
    # Friday 30 January 2026 is month-end: the next good day is Monday 2 February.
    assert placed(COMMERCIAL, Channel.call, shanghai(date(2026, 1, 30), 9, 30)) == shanghai(date(2026, 2, 2), 9, 30)
    # Mornings: an afternoon call goes to the next morning that is a good day.
    assert placed(COMMERCIAL, Channel.call, shanghai(date(2026, 3, 10), 15)) == shanghai(date(2026, 3, 10), 15)
    assert placed(COMMERCIAL, Channel.call, shanghai(date(2026, 3, 10), 8)) == shanghai(date(2026, 3, 10), 9)


def test_a_weekend_s_daily_chases_become_monday_s_one():
    account = make_account(due=date(2026, 3, 2), policy="b2b_receivables")
    daily = [p for p in ladder.plan(B2B, account) if p.step_id == "chase_email_daily"]
    by_day = [(p.due_at.astimezone(SHANGHAI).date(), p.dpd) for p in daily]
    # 8-30 dpd is 10 March - 1 April: the weekends' rungs and 29-31 March fold into the next working day.
    assert (date(2026, 3, 16), 14) in by_day and all(day.weekday() < 5 for day, _ in by_day)
    assert len(by_day) == len({day for day, _ in by_day}) == 15  # 14 working days in March, and 1 April
    assert by_day[-1] == (date(2026, 4, 1), 30)


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    rules=st.sampled_from([CONSUMER, COMMERCIAL]),
    channel=st.sampled_from([Channel.call, Channel.email, Channel.sms]),
    moment=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(ZoneInfo("UTC"))
    ),
)
def test_a_hint_never_moves_a_step_earlier_or_far_and_the_guard_still_decides(zone, rules, channel, moment):
    account = make_account(due=date(2026, 1, 1), time_zone=zone)
    at = place(rules, account, channel, moment, CALENDAR)
    assert moment <= at <= moment + timedelta(days=rules.preferred.days.max_shift_days + 1)
    verdict = check(rules, account, channel, at, [])
    assert verdict.at >= at  # the hint proposes; the guard's window still holds
