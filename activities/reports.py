"""The strategy report, written by a scheduled workflow off the accounts' path (`/reports` reads the latest)."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from dunning.account import Payload
from dunning.measures import Period
from infra.logging import activity_logger
from infra.strategy_report import write_report


class ReportRequest(Payload):
    first: date
    last: date
    written_at: datetime  # business time


class ReportActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn
    async def write_strategy_report(self, request: ReportRequest) -> str:
        """Fails for good on a data file that cannot price or band the book (a retry would not change it)."""
        try:
            report_id = await write_report(
                self._pool, Period(first=request.first, last=request.last), request.written_at
            )
        except ValueError as err:
            raise ApplicationError(str(err), type="ReportDataError", non_retryable=True) from None
        activity_logger().info("strategy report written", report_id=report_id)
        return report_id
