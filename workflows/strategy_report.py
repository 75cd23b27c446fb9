"""StrategyReportWorkflow: the strategy report over the last days, started by a Temporal schedule (or by hand)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.reports import ReportActivities, ReportRequest
    from dunning.account import Clock, DemoClock, Payload, local_date
    from workflows.steps import STEP_RETRY

REPORT_WORKFLOW_ID = "strategy-report"
REPORT_TIMEOUT = timedelta(minutes=10)  # SQL over the book, then a few charts


class ReportAsked(Payload):
    period_days: int = Field(default=90, ge=1, le=3660)
    time_zone: str = "Asia/Shanghai"  # whose calendar day the period ends on
    clock: DemoClock | None = None  # the demo's fast days: the period is in business time


@workflow.defn
class StrategyReportWorkflow:
    @workflow.run
    async def run(self, asked: ReportAsked) -> str:
        now = Clock(asked.clock).business(workflow.now())
        today = local_date(now, asked.time_zone)
        return await workflow.execute_activity_method(
            ReportActivities.write_strategy_report,
            ReportRequest(first=today - timedelta(days=asked.period_days - 1), last=today, written_at=now),
            start_to_close_timeout=REPORT_TIMEOUT,
            retry_policy=STEP_RETRY,
        )
