"""Working days in mainland China: weekends and public holidays off, make-up weekend days worked, and counting
working days across them (promise reminders and grace periods depend on it)."""

from __future__ import annotations

from datetime import date

import pytest

from dunning.calendar import CalendarError, load_calendar


@pytest.fixture(scope="module")
def cn():
    return load_calendar("cn_mainland")


# --- which days are worked ------------------------------------------------------------------------------------


def test_weekdays_are_working_days_and_weekends_are_not(cn):
    assert cn.is_working_day(date(2026, 3, 6))  # Friday
    assert not cn.is_working_day(date(2026, 3, 7))  # Saturday
    assert not cn.is_working_day(date(2026, 3, 8))  # Sunday
    assert cn.is_working_day(date(2026, 3, 9))  # Monday


def test_every_day_of_the_national_day_holiday_is_off(cn):
    assert not any(cn.is_working_day(date(2026, 10, day)) for day in range(1, 8))
    assert cn.is_working_day(date(2026, 9, 30))
    assert cn.is_working_day(date(2026, 10, 8))


def test_a_make_up_saturday_is_a_working_day(cn):
    assert cn.is_working_day(date(2026, 10, 10))
    assert not cn.is_working_day(date(2026, 10, 11))  # the Sunday after is still off


def test_the_spring_festival_is_off_and_the_saturdays_around_it_are_worked(cn):
    assert not any(cn.is_working_day(date(2026, 2, day)) for day in range(15, 24))
    assert cn.is_working_day(date(2026, 2, 14))
    assert cn.is_working_day(date(2026, 2, 28))


# --- counting working days ------------------------------------------------------------------------------------


def test_one_working_day_after_a_friday_is_the_monday(cn):
    assert cn.add_working_days(date(2026, 3, 6), 1) == date(2026, 3, 9)


def test_one_working_day_before_a_monday_is_the_friday(cn):
    assert cn.add_working_days(date(2026, 3, 9), -1) == date(2026, 3, 6)


def test_counting_forward_over_the_spring_festival_uses_the_make_up_saturday(cn):
    assert cn.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert cn.add_working_days(date(2026, 2, 13), 2) == date(2026, 2, 24)


def test_counting_back_over_the_spring_festival_lands_on_the_make_up_saturday(cn):
    assert cn.add_working_days(date(2026, 2, 24), -1) == date(2026, 2, 14)
    assert cn.add_working_days(date(2026, 2, 24), -2) == date(2026, 2, 13)


def test_zero_working_days_from_a_working_day_is_that_day(cn):
    assert cn.add_working_days(date(2026, 3, 9), 0) == date(2026, 3, 9)


def test_zero_working_days_from_a_holiday_is_the_next_working_day(cn):
    assert cn.add_working_days(date(2026, 10, 1), 0) == date(2026, 10, 8)
    assert cn.add_working_days(date(2026, 3, 7), 0) == date(2026, 3, 9)


# --- loading --------------------------------------------------------------------------------------------------


def test_the_shipped_calendar_says_which_years_it_covers(cn):
    assert cn.name == "cn_mainland"
    assert 2026 in cn.covers


def test_an_unknown_calendar_is_refused_naming_the_known_ones():
    with pytest.raises(CalendarError, match=r"unknown calendar 'atlantis'.*known calendars: cn_mainland"):
        load_calendar("atlantis")


def test_a_holiday_that_ends_before_it_starts_is_refused(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "name: bad\nweekend: [saturday, sunday]\nholidays:\n  - {from: 2026-05-05, to: 2026-05-01, name: Labour Day}\n",
        encoding="utf-8",
    )
    with pytest.raises(CalendarError, match=r"Labour Day.*ends \(2026-05-01\) before it starts \(2026-05-05\)"):
        load_calendar("bad", directory=tmp_path)


def test_a_calendar_whose_name_does_not_match_its_file_is_refused(tmp_path):
    (tmp_path / "cn.yaml").write_text("name: cn_mainland\nweekend: [saturday, sunday]\n", encoding="utf-8")
    with pytest.raises(CalendarError, match=r"field 'name' is 'cn_mainland' but the file is named 'cn'"):
        load_calendar("cn", directory=tmp_path)


def test_a_misspelt_weekday_is_refused(tmp_path):
    (tmp_path / "typo.yaml").write_text("name: typo\nweekend: [saturday, sundy]\n", encoding="utf-8")
    with pytest.raises(CalendarError, match="typo.yaml"):
        load_calendar("typo", directory=tmp_path)
