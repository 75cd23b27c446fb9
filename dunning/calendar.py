"""Working days: the weekend, the public holidays and the days worked in exchange, as data an account pins.

A calendar file (calendars/<name>.yaml) names a country of the `holidays` library and keeps only local overrides.
The worker resolves it (infra/public_holidays.py) into a `WorkingCalendar`: the days of the years whose holidays are
announced (`covers`). An account pins that calendar with its policy, and workflow code counts on those days alone,
never on the library, whose data changes with its version. A year the calendar does not cover is unknown, not
guessed: only the weekend and the overrides count in it. When a running account's calendar does not know the coming
`AHEAD_DAYS` it asks the worker again (an activity, recorded in its history, so a replay reads the same answer), and
`with_years` adds the years newly announced, leaving those it knew as pinned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from dunning.datafile import Strict, load_named

CALENDAR_DIR = Path(__file__).resolve().parent.parent / "calendars"
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# How far ahead a calendar must know its days: the worker warns at start of a calendar that does not, and an account
# whose calendar does not asks the worker for newly announced years. Promises (7 days and their grace), approval
# reminders, fraud deadlines and the validation period all fall well inside it.
AHEAD_DAYS = 60


class Holiday(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    first: date = Field(alias="from")
    last: date = Field(alias="to")
    name: str

    @model_validator(mode="after")
    def _ordered(self) -> Holiday:
        if self.last < self.first:
            raise ValueError(f"holiday {self.name!r} ends ({self.last}) before it starts ({self.first})")
        return self

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


class WorkingCalendar(BaseModel):
    """The days a policy counts on: pinned with it, carried across continue-as-new, and grown only by `with_years`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    weekend: list[Weekday]
    covers: list[int] = []  # years whose public holidays are announced and listed; any other year is unknown
    holidays: list[Holiday] = []  # the public holidays of those years, and the local closing days
    working_weekend_days: list[date] = []  # days worked though weekend or holiday: make-up days, local ones
    _off: frozenset[date] = PrivateAttr(default=frozenset())
    _worked: frozenset[date] = PrivateAttr(default=frozenset())

    def model_post_init(self, context: Any, /) -> None:
        # Counting runs through these many times a workflow task: sets, not the lists.
        self._off = frozenset(day for holiday in self.holidays for day in holiday.days())
        self._worked = frozenset(self.working_weekend_days)

    def is_working_day(self, day: date) -> bool:
        if day in self._worked:
            return True
        return WEEKDAYS[day.weekday()] not in self.weekend and day not in self._off

    def add_working_days(self, day: date, count: int) -> date:
        """The working day `count` working days after `day` (before it, if negative); 0 gives `day` itself if it
        is a working day, else the next one."""
        step = 1 if count >= 0 else -1
        remaining = abs(count)
        while remaining or not self.is_working_day(day):
            day += timedelta(days=step)
            if self.is_working_day(day):
                remaining = max(remaining - 1, 0)
                if not remaining:
                    break
        return day

    def unknown_years(self, first: date, last: date) -> list[int]:
        """The years from `first` to `last` whose public holidays the calendar does not know."""
        return [year for year in range(first.year, last.year + 1) if year not in self.covers]

    def with_years(self, announced: WorkingCalendar) -> WorkingCalendar:
        """This calendar with the years `announced` covers and it does not: their holidays and worked days (with
        those in the December before, where a year's notice moves New Year's make-up day there). The years it covers
        keep their pinned days, so an edited file or library never changes what an account already counted on."""
        new = set(announced.covers) - set(self.covers)
        if not new:
            return self
        worked = {d for d in announced.working_weekend_days if d.year in new or (d.month == 12 and d.year + 1 in new)}
        return WorkingCalendar(
            name=self.name,
            weekend=self.weekend,
            covers=sorted({*self.covers, *new}),
            holidays=self.holidays + [h for h in announced.holidays if h.first.year in new and h not in self.holidays],
            working_weekend_days=sorted({*self.working_weekend_days, *worked}),
        )


# Monday to Friday without holidays: for policies that name no calendar.
WEEKDAYS_ONLY = WorkingCalendar(name="weekdays", weekend=["saturday", "sunday"])


class CalendarFile(Strict):
    """calendars/<name>.yaml: the country whose public holidays count (the `holidays` library's code, and the
    subdivision's if any), the working week, and the local overrides on top of the library."""

    name: str
    country: str = Field(pattern=r"^[A-Z]{2}$")  # ISO 3166-1 alpha-2, as the library names it: CN, US
    subdivision: str | None = None  # e.g. a US state; none: the country's own holidays only
    weekend: list[Weekday] = ["saturday", "sunday"]
    closed: list[Holiday] = []  # days the company closes besides the public holidays
    worked: list[date] = []  # days it works though they are weekend days or public holidays

    @field_validator("weekend")
    @classmethod
    def _once_each(cls, weekend: list[Weekday]) -> list[Weekday]:
        if len(set(weekend)) != len(weekend) or len(weekend) == len(WEEKDAYS):
            raise ValueError(f"weekend {weekend}: each day once, and at least one working day in the week")
        return weekend

    @model_validator(mode="after")
    def _closed_or_worked(self) -> CalendarFile:
        both = sorted({day for holiday in self.closed for day in holiday.days()} & set(self.worked))
        if both:
            raise ValueError(f"closed and worked both list {', '.join(map(str, both))}: say which it is")
        return self

    def unresolved(self) -> WorkingCalendar:
        """The calendar before any year is resolved: the weekend and the overrides; every year unknown."""
        return self.working_calendar([], {}, [])

    def working_calendar(
        self, covers: Iterable[int], holidays: Mapping[date, str], worked: Iterable[date]
    ) -> WorkingCalendar:
        """The calendar of the years `covers`, with the library's `holidays` (name by day) and `worked` days of those
        years under the file's overrides: a day it closes is off, a day it works is worked."""
        closed = {day for holiday in self.closed for day in holiday.days()}
        public = [Holiday(first=day, last=day, name=name) for day, name in sorted(holidays.items())]
        return WorkingCalendar(
            name=self.name,
            weekend=self.weekend,
            covers=sorted(set(covers)),
            holidays=_joined([h for h in public if h.first not in self.worked]) + self.closed,
            working_weekend_days=sorted({*(d for d in worked if d not in closed), *self.worked}),
        )


def _joined(days: list[Holiday]) -> list[Holiday]:
    """Consecutive days of the same name as one holiday (the National Day week is one entry, not seven)."""
    joined: list[Holiday] = []
    for day in days:
        last = joined[-1] if joined else None
        if last and last.name == day.name and last.last + timedelta(days=1) == day.first:
            joined[-1] = Holiday(first=last.first, last=day.last, name=day.name)
        else:
            joined.append(day)
    return joined


class CalendarError(ValueError):
    """A calendar file that cannot be used, with the file and the reason."""


def load_calendar_file(name: str, directory: Path = CALENDAR_DIR) -> CalendarFile:
    return load_named(CalendarFile, directory, name, "calendar", CalendarError)
