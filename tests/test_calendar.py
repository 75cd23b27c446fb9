"""Working days from the `holidays` library: weekends and public holidays off, make-up weekend days worked, counting
working days across them (promise reminders and grace periods depend on it); a year not yet announced is unknown,
not guessed; the calendar files keep only local overrides; the worker warns of a calendar that does not know the
days ahead."""

from __future__ import annotations

from datetime import date, timedelta

import holidays
import pytest
from holidays.countries.china import ChinaStaticHolidays
from structlog.testing import capture_logs

from dunning.calendar import AHEAD_DAYS, CalendarError, Holiday, WorkingCalendar, load_calendar_file
from dunning.policy import load_policy
from infra.public_holidays import opening_years, unannounced, with_working_days, working_calendar
from worker import warn_of_unannounced_days

NOTICES = ChinaStaticHolidays.special_public_holidays  # the State Council notices the library's release holds
LAST_NOTICE = max(NOTICES)  # the last year this release of the library announces for mainland China


def announce(monkeypatch, year: int, *exchanged: tuple[date, date]) -> None:
    """A release of the library that holds `year`'s notice: each (day off, weekend day worked in exchange). The
    days the tests give are illustrative, not a real notice."""
    notice = tuple((off.month, off.day, worked.month, worked.day, worked.year) for off, worked in exchanged)
    monkeypatch.setitem(NOTICES, year, notice)


def unannounce(monkeypatch, year: int) -> None:
    """A release of the library without `year`'s notice (as before the State Council publishes it)."""
    monkeypatch.delitem(NOTICES, year, raising=False)


@pytest.fixture(scope="module")
def cn() -> WorkingCalendar:
    return working_calendar("cn_mainland", [2026])


@pytest.fixture(scope="module")
def us() -> WorkingCalendar:
    return working_calendar("us_federal", [2026, 2027])


# --- which days are worked in mainland China ------------------------------------------------------------------


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


def test_2026_counts_as_the_state_council_notice_has_it():
    """The notice of 4 Nov 2025, as the calendar file listed it before the library: every day of 2026 agrees."""
    notice = WorkingCalendar(
        name="notice",
        weekend=["saturday", "sunday"],
        holidays=[
            Holiday(first=date(2026, 1, 1), last=date(2026, 1, 3), name="New Year's Day"),
            Holiday(first=date(2026, 2, 15), last=date(2026, 2, 23), name="Spring Festival"),
            Holiday(first=date(2026, 4, 4), last=date(2026, 4, 6), name="Qingming"),
            Holiday(first=date(2026, 5, 1), last=date(2026, 5, 5), name="Labour Day"),
            Holiday(first=date(2026, 6, 19), last=date(2026, 6, 21), name="Dragon Boat Festival"),
            Holiday(first=date(2026, 9, 25), last=date(2026, 9, 27), name="Mid-Autumn Festival"),
            Holiday(first=date(2026, 10, 1), last=date(2026, 10, 7), name="National Day"),
        ],
        working_weekend_days=[date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9)]
        + [date(2026, 9, 20), date(2026, 10, 10)],
    )
    library = working_calendar("cn_mainland", [2026])
    year = [date(2026, 1, 1) + timedelta(days=n) for n in range(365)]
    assert [d for d in year if library.is_working_day(d) != notice.is_working_day(d)] == []


# --- a year announced, or not yet ---------------------------------------------------------------------------


def test_the_spring_festival_of_2027_is_off_once_the_library_knows_2027_and_unknown_until_then():
    calendar = working_calendar("cn_mainland", [2027])
    if 2027 in NOTICES:  # a release with the State Council's notice for 2027
        assert calendar.covers == [2027]
        assert not calendar.is_working_day(date(2027, 2, 8))  # the third day of the new year, a Monday
        assert any(d.weekday() >= 5 for d in calendar.working_weekend_days)  # a make-up weekend day
    else:
        assert calendar.covers == [] and calendar.unknown_years(date(2027, 1, 1), date(2027, 12, 31)) == [2027]
        assert calendar.holidays == [] and calendar.working_weekend_days == []
        assert calendar.is_working_day(date(2027, 2, 8))  # until then a Monday is a Monday


def test_a_newly_announced_spring_festival_is_off_and_its_make_up_days_are_worked(monkeypatch):
    announce(monkeypatch, 2027, (date(2027, 2, 11), date(2027, 1, 31)), (date(2027, 2, 12), date(2027, 2, 20)))
    calendar = working_calendar("cn_mainland", [2027])
    assert calendar.covers == [2027]
    assert [d for d in (date(2027, 2, day) for day in range(5, 13)) if calendar.is_working_day(d)] == []
    assert calendar.is_working_day(date(2027, 1, 31))  # a Sunday worked in exchange
    assert calendar.is_working_day(date(2027, 2, 20))  # a Saturday worked in exchange
    assert not calendar.is_working_day(date(2027, 2, 21))
    assert calendar.is_working_day(date(2027, 2, 15))
    assert calendar.add_working_days(date(2027, 2, 4), 1) == date(2027, 2, 15)


def test_a_year_the_library_has_no_notice_for_is_unknown_not_estimated():
    unknown = LAST_NOTICE + 1
    # The library itself estimates that year from the statutory days (a Spring Festival on a weekday, say) ...
    estimated = holidays.country_holidays("CN", years=unknown, language="en_US")
    festival = next(d for d, name in sorted(estimated.items()) if "Spring Festival" in name and d.weekday() < 5)
    # ... but no notice says which days are off and which weekend days are worked: the calendar leaves it unknown.
    calendar = working_calendar("cn_mainland", [LAST_NOTICE, unknown])
    assert calendar.covers == [LAST_NOTICE]
    assert calendar.unknown_years(date(LAST_NOTICE, 12, 1), date(unknown, 1, 31)) == [unknown]
    assert all(h.first.year == LAST_NOTICE for h in calendar.holidays)
    assert calendar.is_working_day(festival)  # only the weekend counts in an unknown year


def test_a_notice_can_move_new_years_make_up_day_into_the_december_before(monkeypatch):
    announce(monkeypatch, 2027, (date(2027, 1, 4), date(2026, 12, 26)))
    calendar = working_calendar("cn_mainland", [2027])
    assert calendar.is_working_day(date(2026, 12, 26))  # a Saturday
    assert not calendar.is_working_day(date(2027, 1, 4))


# --- a pinned calendar learning a year -------------------------------------------------------------------------


def test_a_pinned_calendar_gains_a_newly_announced_year_and_keeps_the_years_it_knew(monkeypatch):
    unannounce(monkeypatch, 2027)  # as before the State Council's notice
    pinned = working_calendar("cn_mainland", [2026, 2027])
    assert pinned.covers == [2026]
    announce(monkeypatch, 2027, (date(2027, 1, 4), date(2026, 12, 26)), (date(2027, 2, 11), date(2027, 2, 20)))
    announced = working_calendar("cn_mainland", [2026, 2027])
    learned = pinned.with_years(announced)
    assert learned.covers == [2026, 2027]
    assert not learned.is_working_day(date(2027, 2, 11)) and learned.is_working_day(date(2027, 2, 20))
    assert learned.is_working_day(date(2026, 12, 26))  # announced with 2027
    assert [h for h in learned.holidays if h.first.year == 2026] == pinned.holidays
    assert pinned.with_years(working_calendar("cn_mainland", [2028])) is pinned  # nothing new


def test_the_years_a_calendar_knew_stay_as_pinned_whatever_the_library_says_later():
    pinned = WorkingCalendar(
        name="cn_mainland",
        weekend=["saturday", "sunday"],
        covers=[2026],
        holidays=[Holiday(first=date(2026, 3, 9), last=date(2026, 3, 9), name="as it was pinned")],
    )
    learned = pinned.with_years(working_calendar("cn_mainland", [2025, 2026]))
    assert learned.covers == [2025, 2026]
    assert not learned.is_working_day(date(2026, 3, 9))
    assert learned.is_working_day(date(2026, 10, 8)) and not learned.is_working_day(date(2025, 10, 8))


# --- United States federal holidays -----------------------------------------------------------------------------


def test_us_federal_holidays_are_off_on_the_days_they_are_observed(us):
    assert not us.is_working_day(date(2026, 7, 3))  # Independence Day, a Saturday, observed on the Friday
    assert not us.is_working_day(date(2026, 11, 26))  # Thanksgiving
    assert us.is_working_day(date(2026, 11, 27))  # the Friday after is no federal holiday
    assert not us.is_working_day(date(2027, 6, 18))  # Juneteenth, a Saturday, observed on the Friday
    assert not us.is_working_day(date(2027, 7, 5))  # Independence Day, a Sunday, observed on the Monday
    assert not us.is_working_day(date(2027, 12, 24))  # Christmas Day observed
    assert not us.is_working_day(date(2027, 12, 31))  # New Year's Day 2028 observed
    assert us.is_working_day(date(2027, 12, 30))


def test_us_federal_holidays_follow_the_law_so_every_year_is_known():
    assert working_calendar("us_federal", [2040]).covers == [2040]
    assert not working_calendar("us_federal", [2040]).is_working_day(date(2040, 11, 22))  # Thanksgiving


# --- counting working days -------------------------------------------------------------------------------------


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


# --- the files: local overrides only ---------------------------------------------------------------------------


def write(tmp_path, name: str, text: str) -> None:
    (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")


def test_the_shipped_calendars_name_their_library_country_and_override_nothing():
    shipped = [load_calendar_file(name) for name in ("cn_mainland", "us_federal")]
    assert [(f.country, f.subdivision, f.closed, f.worked) for f in shipped] == [
        ("CN", None, [], []),
        ("US", None, [], []),
    ]


def test_local_closing_days_are_off_and_local_working_days_are_worked(tmp_path):
    write(
        tmp_path,
        "ours",
        "name: ours\ncountry: CN\nclosed:\n  - {from: 2026-03-09, to: 2026-03-10, name: stocktaking}\n"
        "  - {from: 2026-10-10, to: 2026-10-10, name: closed on the make-up Saturday}\n"
        "worked: [2026-10-08, 2026-10-07]\n",
    )
    calendar = working_calendar("ours", [2026], tmp_path)
    assert not calendar.is_working_day(date(2026, 3, 9)) and not calendar.is_working_day(date(2026, 3, 10))
    assert not calendar.is_working_day(date(2026, 10, 10))  # the library's make-up day, closed here
    assert calendar.is_working_day(date(2026, 10, 7))  # the library's holiday, worked here
    assert not calendar.is_working_day(date(2026, 10, 6))


def test_a_policy_pins_its_calendar_knowing_no_year_until_the_worker_adds_the_announced_days():
    loaded = load_policy("consumer_loan")
    assert loaded.calendar is not None and loaded.calendar.covers == []
    pinned = with_working_days(loaded, date(2026, 7, 1))
    assert pinned.calendar is not None and pinned.calendar.name == "cn_mainland"
    assert pinned.calendar.covers == [year for year in opening_years(date(2026, 7, 1)) if year in NOTICES]
    assert {2025, 2026} <= set(pinned.calendar.covers)
    assert not pinned.working_days.is_working_day(date(2026, 10, 1))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name: atlantis\ncountry: XX\n", r"the holidays library \(holidays .*\) has no country 'XX'"),
        ("name: atlantis\ncountry: US\nsubdivision: XX\n", r"US has no subdivision 'XX'.*its subdivisions: AK, AL"),
    ],
)
def test_a_country_or_subdivision_the_library_does_not_know_is_refused(tmp_path, text, problem):
    write(tmp_path, "atlantis", text)
    with pytest.raises(CalendarError, match=problem):
        working_calendar("atlantis", [2026], tmp_path)


def test_an_unknown_calendar_is_refused_naming_the_known_ones():
    with pytest.raises(CalendarError, match=r"unknown calendar 'atlantis'.*known calendars: cn_mainland, us_federal"):
        load_calendar_file("atlantis")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "name: bad\ncountry: CN\nclosed:\n  - {from: 2026-05-05, to: 2026-05-01, name: Labour Day}\n",
            r"Labour Day.*ends \(2026-05-01\) before it starts \(2026-05-05\)",
        ),
        ("name: bad\ncountry: CN\nweekend: [saturday, sundy]\n", "bad.yaml"),
        ("name: bad\ncountry: china\n", "country"),
        ("name: bad\ncountry: CN\nholidays: []\n", "holidays"),  # the days come from the library, not the file
        (
            "name: bad\ncountry: CN\nclosed: [{from: 2026-03-09, to: 2026-03-09, name: x}]\nworked: [2026-03-09]\n",
            "closed and worked both list 2026-03-09",
        ),
    ],
)
def test_a_calendar_file_that_is_wrong_is_refused_with_the_reason(tmp_path, text, problem):
    write(tmp_path, "bad", text)
    with pytest.raises(CalendarError, match=problem):
        load_calendar_file("bad", tmp_path)


def test_a_calendar_whose_name_does_not_match_its_file_is_refused(tmp_path):
    write(tmp_path, "cn", "name: cn_mainland\ncountry: CN\n")
    with pytest.raises(CalendarError, match=r"field 'name' is 'cn_mainland' but the file is named 'cn'"):
        load_calendar_file("cn", tmp_path)


# --- the warning at start --------------------------------------------------------------------------------------


def test_the_worker_warns_of_a_calendar_that_does_not_know_the_next_60_days():
    december = date(LAST_NOTICE, 12, 1)  # the next 60 days reach a year no notice covers yet
    with capture_logs() as logs:
        warn_of_unannounced_days(december)
    [warning] = [entry for entry in logs if entry["log_level"] == "warning"]
    assert warning["event"] == "calendar does not know the days ahead"
    assert (warning["calendar"], warning["country"]) == ("cn_mainland", "CN")
    assert warning["unknown_from"] == f"{LAST_NOTICE + 1}-01-01" and warning["unknown_years"] == [LAST_NOTICE + 1]
    assert warning["days_ahead"] == AHEAD_DAYS == 60


def test_no_warning_while_the_announced_days_reach_60_days_ahead(monkeypatch):
    with capture_logs() as logs:
        warn_of_unannounced_days(date(LAST_NOTICE, 10, 1))  # 60 days on is still within the year
    assert logs == []
    announce(monkeypatch, LAST_NOTICE + 1, (date(LAST_NOTICE + 1, 1, 4), date(LAST_NOTICE, 12, 26)))
    assert unannounced("cn_mainland", date(LAST_NOTICE, 12, 1)) is None  # a release that holds the next notice


def test_a_calendar_file_that_cannot_be_used_is_logged_at_start_and_the_others_still_checked(tmp_path):
    write(tmp_path, "broken", "name: broken\ncountry: XX\n")
    write(tmp_path, "cn", "name: cn\ncountry: CN\n")
    with capture_logs() as logs:
        warn_of_unannounced_days(date(LAST_NOTICE, 12, 1), tmp_path)
    assert [(e["log_level"], e["event"], e["calendar"]) for e in logs] == [
        ("error", "calendar cannot be read", "broken"),
        ("warning", "calendar does not know the days ahead", "cn"),
    ]
