"""Answering an account (or a fraud claim) whose calendar does not know the days ahead: the days the `holidays`
library announces now for the years it asks about, returned as data its history records."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from dunning.account import Payload
from dunning.calendar import CalendarError, WorkingCalendar
from infra.logging import activity_logger
from infra.public_holidays import LIBRARY, working_calendar


class CalendarAsked(Payload):
    calendar: str  # the name the pinned calendar carries (calendars/<name>.yaml)
    years: list[int]  # the years it does not know yet


class CalendarActivities:
    @activity.defn
    async def announced_days(self, asked: CalendarAsked) -> WorkingCalendar:
        """Those of the years asked that are announced now (none: `covers` is empty), with the file's overrides as
        they are now. Fails for good, with the reason, if the calendar file is gone or wrong: retrying would not
        change the file, and the account carries on with what it knows."""
        try:
            calendar = working_calendar(asked.calendar, asked.years)
        except CalendarError as err:
            raise ApplicationError(str(err), type="NoCalendar", non_retryable=True) from None
        activity_logger().info(
            "calendar asked", calendar=asked.calendar, asked=asked.years, announced=calendar.covers, library=LIBRARY
        )
        return calendar
