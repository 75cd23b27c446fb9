"""Workload pacing (domain §4): between the ladder's call tasks, the days a collector follows a case up.

"Valid" cases (contactable, negotiating) are worked daily; the others every 2 days, or every 3 once the
collector's book passes 200 cases. Effort concentrates on paydays: a payday inside the gap is a follow-up day too.
The days are a plan; each still passes the contact guard before it is kept.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from pydantic import Field, model_validator

from dunning.account import Payload
from dunning.datafile import Strict


class BookSize(Strict):
    """Cases that are not valid are followed up every `every_days` while the queue holds at most `up_to_cases`
    open accounts (None: any number)."""

    up_to_cases: int | None = Field(default=None, ge=1)
    every_days: int = Field(ge=1)


class FollowUpRules(Strict):
    stages: list[str] = Field(min_length=1)  # stages whose call tasks are followed up (each must end)
    valid_every_days: int = Field(ge=1)
    valid_for_days: int = Field(ge=1)  # a case stays valid this many days after a conversation with the debtor
    others_every_days: list[BookSize] = Field(min_length=1)  # smallest book first; the last has no bound

    @model_validator(mode="after")
    def _books_ordered(self) -> FollowUpRules:
        bounds = [book.up_to_cases for book in self.others_every_days]
        if bounds[-1] is not None or None in bounds[:-1]:
            raise ValueError("others_every_days: only the last book size is unbounded (no up_to_cases)")
        bounded = [bound for bound in bounds if bound is not None]
        if bounded != sorted(bounded):
            raise ValueError("others_every_days: list the book sizes from the smallest up")
        return self

    def others_every(self, queue_cases: int | None) -> int:
        """The gap for a case that is not valid; an unknown book size counts as the smallest."""
        return next(
            book.every_days
            for book in self.others_every_days
            if queue_cases is None or book.up_to_cases is None or queue_cases <= book.up_to_cases
        )


class FollowUp(Payload):
    """One day a collector works the case: from `at` (the guard's earliest moment that day), `attempts` calls."""

    day: date
    at: datetime
    attempts: int


class FollowUpPlan(Payload):
    """The follow-up days of the account's current ladder call task, as written for the collector queue."""

    task_key: str  # the action key of the ladder call task the days belong to
    anchor: date  # the task's own day: the cadence counts from it
    until: date  # first day that is no longer the task's (the next stage)
    queue_cases: int | None = None  # the queue's book size the cadence was chosen for
    days: list[FollowUp] = []  # still to come
    # A day is fixed once it has begun: a new plan replaces the days from `replace_from` on; `stopped` marks the
    # replaced days stopped, today's included (collection paused, ceased or over, or a conversation's cool-down).
    replace_from: date
    stopped: bool = False
    live_day: date | None = None  # the last day that has begun and was not stopped
    written: bool = False  # the collector queue has this plan


def cadence(
    rules: FollowUpRules,
    anchor: date,
    until: date,
    valid_until: date | None,
    queue_cases: int | None,
    paydays: list[int],
) -> list[date]:
    """The follow-up days after `anchor` and before `until`: daily while the case is valid (before `valid_until`),
    otherwise at the gap the book size calls for, pulled forward to any payday inside the gap."""
    days: list[date] = []
    day = anchor
    while True:
        every = rules.valid_every_days if valid_until and day < valid_until else rules.others_every(queue_cases)
        gap = [day + timedelta(days=offset) for offset in range(1, every + 1)]
        day = next((d for d in gap if d.day in paydays), gap[-1])
        if day >= until:
            return days
        days.append(day)
