"""What the workflows need of a Temporal namespace: their search attributes, and the schedules of the letter batch,
the strategy report and the erasure of personal data past its retention."""

from __future__ import annotations

from datetime import timedelta

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
)
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.service import RPCError, RPCStatusCode

from dunning.account import DemoClock
from infra.config import Settings
from workflows import search_attributes
from workflows.letter_batch import LETTER_BATCH_WORKFLOW_ID, LetterBatchWorkflow
from workflows.retention import RETENTION_WORKFLOW_ID, PersonalDataRetentionWorkflow, RetentionAsked
from workflows.strategy_report import REPORT_WORKFLOW_ID, ReportAsked, StrategyReportWorkflow


def dev_server_flags() -> list[str]:
    """`--search-attribute Name=Type` flags that register our attributes when the dev server starts."""
    return [flag for key in search_attributes.ALL for flag in ("--search-attribute", f"{key.name}={_type_name(key)}")]


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Registers any of our search attributes the namespace lacks (idempotent)."""
    try:
        listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
        existing = set(listed.custom_attributes)
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:  # the time-skipping test server cannot list, only add
            raise
        existing = set()
    missing = {
        key.name: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{_type_name(key).upper()}")
        for key in search_attributes.ALL
        if key.name not in existing
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )


async def ensure_letter_batch_schedule(client: Client, settings: Settings, every: timedelta | None = None) -> None:
    """The print vendor's batch runs daily at `letter_batch_at` in `letter_batch_zone` (or `every` so often, for the
    demo's fast days); a changed setting updates the schedule, and ops can trigger or pause it in the Web UI."""
    action = ScheduleActionStartWorkflow(
        LetterBatchWorkflow.run, id=LETTER_BATCH_WORKFLOW_ID, task_queue=settings.task_queue
    )
    await _ensure_schedule(client, LETTER_BATCH_WORKFLOW_ID, action, _daily(settings, settings.letter_batch_at, every))


async def ensure_report_schedule(
    client: Client, settings: Settings, every: timedelta | None = None, clock: DemoClock | None = None
) -> None:
    """The strategy report is written daily at `report_at` (or `every` so often in the demo, on its clock)."""
    asked = ReportAsked(period_days=settings.report_period_days, time_zone=settings.letter_batch_zone, clock=clock)
    action = ScheduleActionStartWorkflow(
        StrategyReportWorkflow.run, asked, id=REPORT_WORKFLOW_ID, task_queue=settings.task_queue
    )
    await _ensure_schedule(client, REPORT_WORKFLOW_ID, action, _daily(settings, settings.report_at, every))


async def ensure_retention_schedule(
    client: Client, settings: Settings, every: timedelta | None = None, clock: DemoClock | None = None
) -> None:
    """Closed accounts past their retention lose their personal data daily at `erasure_at` (or `every` so often in
    the demo, on its clock)."""
    action = ScheduleActionStartWorkflow(
        PersonalDataRetentionWorkflow.run,
        RetentionAsked(clock=clock),
        id=RETENTION_WORKFLOW_ID,
        task_queue=settings.task_queue,
    )
    await _ensure_schedule(client, RETENTION_WORKFLOW_ID, action, _daily(settings, settings.erasure_at, every))


def _daily(settings: Settings, at: str, every: timedelta | None) -> ScheduleSpec:
    if every:
        return ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)])
    hour, minute = Settings.time_of_day(at)
    daily = ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)], second=[ScheduleRange(0)])
    return ScheduleSpec(calendars=[daily], time_zone_name=settings.letter_batch_zone)


async def _ensure_schedule(client: Client, schedule_id: str, action: ScheduleActionStartWorkflow, spec: ScheduleSpec):
    """Creates the schedule, or updates it to the settings of this start."""
    schedule = Schedule(action=action, spec=spec, policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP))
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(schedule_id).update(lambda _: ScheduleUpdate(schedule=schedule))


def _type_name(key) -> str:
    return SearchAttributeIndexedValueType(key.indexed_value_type).name.title()
