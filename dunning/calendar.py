"""Working days: the weekends and public holidays of a calendar the policy names (calendars/<name>.yaml)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dunning.datafile import load_named

CALENDAR_DIR = Path(__file__).resolve().parent.parent / "calendars"
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


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


class WorkingCalendar(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    weekend: list[Weekday]
    covers: list[int] = []  # years whose holidays are listed
    holidays: list[Holiday] = []
    working_weekend_days: list[date] = []  # weekend days worked in exchange for a holiday

    def is_working_day(self, day: date) -> bool:
        if day in self.working_weekend_days:
            return True
        if WEEKDAYS[day.weekday()] in self.weekend:
            return False
        return not any(h.first <= day <= h.last for h in self.holidays)

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


# Monday to Friday without holidays: for policies that name no calendar.
WEEKDAYS_ONLY = WorkingCalendar(name="weekdays", weekend=["saturday", "sunday"])


class CalendarError(ValueError):
    """A calendar file that cannot be used, with the file and the reason."""


def load_calendar(name: str, directory: Path = CALENDAR_DIR) -> WorkingCalendar:
    return load_named(WorkingCalendar, directory, name, "calendar", CalendarError)
