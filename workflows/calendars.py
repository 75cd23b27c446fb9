"""Working days in workflow code: a run whose calendar does not know the days ahead asks the worker for the years
announced since it was pinned.

The answer is a local activity's result, recorded in the run's history, so a replay reads the same days whatever
the library says by then. Runs started before asking existed recorded no answer where the new code would ask: the
`calendar-asks-worker` patch keeps them as they were. A run that met the patch while replaying its old history keeps
that answer to its end, so `collections deploys announce-calendars` signals `calendar_announced` to the runs in
flight, and a run told so asks from then on (the `calendar-told` patch covers a signal an old worker took).
"""

from __future__ import annotations

from datetime import date, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.calendars import CalendarActivities, CalendarAsked
    from dunning.calendar import AHEAD_DAYS, WorkingCalendar
    from workflows.steps import STEP_RETRY, STEP_TIMEOUT

ASKS = "calendar-asks-worker"
TOLD = "calendar-told"
AHEAD = timedelta(days=AHEAD_DAYS)


class AsksForWorkingDays:
    """The part of a workflow that keeps its calendar knowing the days ahead."""

    _told_of_calendars = False

    def _told(self) -> None:
        """A `calendar_announced` signal: from now on this run asks, even one from before asking existed."""
        self._told_of_calendars = self._told_of_calendars or workflow.patched(TOLD)

    async def _announced(self, calendar: WorkingCalendar, day: date) -> WorkingCalendar | None:
        """The worker's days for the years from `day` to `AHEAD` later that `calendar` does not know (None: it knows
        them, the run may not ask, or the worker could not answer, and the run carries on with what it knows)."""
        years = calendar.unknown_years(day, day + AHEAD)
        if not years or not (self._told_of_calendars or workflow.patched(ASKS)):
            return None
        try:
            return await workflow.execute_local_activity_method(
                CalendarActivities.announced_days,
                CalendarAsked(calendar=calendar.name, years=years),
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=STEP_RETRY,
            )
        except ActivityError as err:
            workflow.logger.warning(
                "calendar %s: the worker could not say which days are announced: %s", calendar.name, err.cause
            )
            return None
