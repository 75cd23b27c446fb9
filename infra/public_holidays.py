"""Public holidays from the `holidays` library: a calendar file resolved into the days of its announced years.

Only the worker's side calls this (pinning a policy, answering an account that asks, the start-up warning): the
library's data changes with its version, so workflow code counts on the days it was handed, as recorded in its
history. A year the library has no announcement for is left out (unknown), never filled in from the library's
rule-based estimate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import holidays

from dunning.calendar import AHEAD_DAYS, CALENDAR_DIR, CalendarError, CalendarFile, WorkingCalendar, load_calendar_file
from dunning.policy import Policy

LIBRARY = f"holidays {holidays.__version__}"
# Countries whose holidays a yearly notice sets (China's State Council, usually in November: the holidays and the
# weekend days worked in exchange). The library computes any year from the statutory days, but a year is announced
# only once it holds that year's notice, its special days. Elsewhere the law fixes the days (5 U.S.C. 6103 and its
# observed-day rule), so every year the library supports is known.
YEARLY_NOTICE = frozenset({"CN"})


def working_calendar(name: str, years: Iterable[int], directory: Path = CALENDAR_DIR) -> WorkingCalendar:
    """Calendar `name` for those of `years` whose holidays are announced, with its file's overrides."""
    file = load_calendar_file(name, directory)
    wanted = sorted(set(years))
    entity = _entity(file, wanted)
    covers = [year for year in wanted if _announced(entity, file, year)]
    public = {day: label for day, label in entity.items() if day.year in covers}
    # A year's notice may move New Year's make-up day into the December before it.
    worked = [d for d in entity.weekend_workdays if d.year in covers or (d.month == 12 and d.year + 1 in covers)]
    return file.working_calendar(covers, public, worked)


def opening_years(today: date) -> range:
    """The years an opening account's calendar is resolved for: last year (counting back from a due date), this year
    and the next; later years it asks for as it comes near them."""
    return range(today.year - 1, today.year + 2)


def with_working_days(policy: Policy, today: date) -> Policy:
    """The policy with its calendar's announced days around `today` (a policy naming no calendar as it is)."""
    if policy.calendar is None:
        return policy
    calendar = working_calendar(policy.calendar.name, opening_years(today))
    return policy.model_copy(update={"calendar": calendar})


@dataclass(frozen=True)
class Unannounced:
    """A calendar whose announced days end before the days ahead do."""

    calendar: str
    country: str
    unknown: list[int]  # the years within the days ahead the library has not announced
    unknown_from: date  # the first day ahead no announcement covers


def calendar_names(directory: Path = CALENDAR_DIR) -> list[str]:
    return sorted(path.stem for path in directory.glob("*.yaml"))


def unannounced(name: str, today: date, days: int = AHEAD_DAYS, directory: Path = CALENDAR_DIR) -> Unannounced | None:
    """Where calendar `name` does not know its next `days` days from `today` (None: it knows them all); raises
    CalendarError for a file that cannot be used."""
    last = today + timedelta(days=days)
    calendar = working_calendar(name, range(today.year, last.year + 1), directory)
    unknown = calendar.unknown_years(today, last)
    if not unknown:
        return None
    file = load_calendar_file(name, directory)
    return Unannounced(name, _where(file), unknown, max(today, date(unknown[0], 1, 1)))


def _entity(file: CalendarFile, years: list[int]) -> holidays.HolidayBase:
    supported = holidays.list_supported_countries()
    if file.country not in supported:
        raise CalendarError(f"calendar {file.name!r}: the holidays library ({LIBRARY}) has no country {file.country!r}")
    if file.subdivision is not None and file.subdivision not in supported[file.country]:
        known = ", ".join(supported[file.country]) or "none"
        raise CalendarError(
            f"calendar {file.name!r}: {file.country} has no subdivision {file.subdivision!r} in the holidays"
            f" library ({LIBRARY}); its subdivisions: {known}"
        )
    language = "en_US" if "en_US" in holidays.list_localized_countries().get(file.country, []) else None
    return holidays.country_holidays(file.country, subdiv=file.subdivision, years=years, language=language)


def _announced(entity: holidays.HolidayBase, file: CalendarFile, year: int) -> bool:
    if not entity.start_year <= year <= entity.end_year:
        return False
    if file.country in YEARLY_NOTICE:
        return year in getattr(entity, "special_public_holidays", {})
    return True


def _where(file: CalendarFile) -> str:
    return f"{file.country}-{file.subdivision}" if file.subdivision else file.country
