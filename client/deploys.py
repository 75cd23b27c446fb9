"""What a deploy needs to know of the workflows running now, and what an upgrade must carry over.

The replay check: their histories replayed on this tree's workflow code. A change that would give a running account a
different command than its history recorded (a non-deterministic change, not guarded by `workflow.patched`) fails
here, naming the workflow, instead of failing the account after the deploy. Before an old patch's branch is
removed: which runs have not recorded the patch. On upgrading to closed runs kept in PostgreSQL: keeping those of the
accounts that closed before. On upgrading to calendars from the holidays library: telling the runs in flight to ask
for the days announced since they opened."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer

from infra import retention
from workflows.account import AccountWorkflow
from workflows.fraud_claim import FraudClaimWorkflow
from workflows.registry import WORKFLOWS

# Every type the worker runs, registered under its class name: other types in the namespace are not ours to replay.
_TYPES = ", ".join(f'"{workflow.__name__}"' for workflow in WORKFLOWS)
RUNNING = f'WorkflowType IN ({_TYPES}) AND ExecutionStatus = "Running"'
CLOSED_ACCOUNTS = f'WorkflowType = "{AccountWorkflow.__name__}" AND ExecutionStatus = "Completed"'
# The workflows that count working days on a pinned calendar.
COUNTING_DAYS = (
    f'WorkflowType IN ("{AccountWorkflow.__name__}", "{FraudClaimWorkflow.__name__}") AND ExecutionStatus = "Running"'
)
# The SDK wraps the reason in its core's debug dump of the task failure: `... message: "[TMPRL1100] ...", ...`.
_REASON = re.compile(r'message: "((?:[^"\\]|\\.)*)"')
# How the SDK's core records `workflow.patched(id)`: a marker whose details hold {"id": ..., "deprecated": ...} as
# plain JSON (never sealed: the core writes it, not our data converter).
PATCH_MARKER = "core_patch"


@dataclass(frozen=True)
class ReplayFailure:
    workflow_id: str
    run_id: str
    message: str  # the SDK's, e.g. the non-determinism error naming the first command that differs from the history


@dataclass
class ReplayCheck:
    replayed: int = 0
    failures: list[ReplayFailure] = field(default_factory=list)


async def replay_check(client: Client, workflows: Sequence[type], query: str, limit: int | None) -> ReplayCheck:
    """Replays the histories of the workflows `query` finds (at most `limit`) on `workflows`, with the client's data
    converter (sealed payloads open with its key ring). Raises the client's RPCError for a query the server refuses.
    """
    replayer = Replayer(
        workflows=list(workflows),
        data_converter=client.data_converter,
        # Without the core's console log, which would print each failure again as a warning.
        runtime=Runtime(telemetry=TelemetryConfig(logging=None)),
    )
    histories = await _histories(client, query, limit)
    check = ReplayCheck()
    # One result per history, as it is replayed; replay_workflows would key failures by run id alone.
    async with replayer.workflow_replay_iterator(histories) as results:
        async for result in results:
            check.replayed += 1
            if result.replay_failure is not None:
                history = result.history
                check.failures.append(
                    ReplayFailure(history.workflow_id, history.run_id, _reason(result.replay_failure))
                )
    return check


def _reason(failure: Exception) -> str:
    """The failure's own message on one line, e.g. `[TMPRL1100] Nondeterminism error: Timer machine does not handle
    this event: HistoryEvent(id: 18, ActivityTaskScheduled)`: the command the code gave and the recorded event."""
    text = str(failure)
    found = _REASON.search(text)
    return " ".join((found.group(1) if found else text).split())


@dataclass(frozen=True)
class RunWithoutPatch:
    workflow_id: str
    run_id: str
    started_at: datetime


async def runs_without_patch(
    client: Client, patch_id: str, query: str, limit: int | None
) -> tuple[int, list[RunWithoutPatch]]:
    """How many histories `query` finds (at most `limit`), and those that have not recorded `patch_id`: each took
    the old branch, or has not reached the patched code yet (then it takes the new one when it does)."""
    read, without = 0, []
    async for history in await _histories(client, query, limit):
        read += 1
        if patch_id not in _recorded_patches(history):
            started_at = history.events[0].event_time.ToDatetime(tzinfo=UTC)
            without.append(RunWithoutPatch(history.workflow_id, history.run_id, started_at))
    return read, without


def _recorded_patches(history: WorkflowHistory) -> set[str]:
    return {
        json.loads(event.marker_recorded_event_attributes.details["patch-data"].payloads[0].data)["id"]
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and event.marker_recorded_event_attributes.marker_name == PATCH_MARKER
    }


async def _histories(client: Client, query: str, limit: int | None) -> AsyncIterator[WorkflowHistory]:
    """Raises the client's RPCError at once for a query the server refuses, before any history is fetched."""
    await client.count_workflows(query)
    return client.list_workflows(query, limit=limit).map_histories()


@dataclass
class ClosedRunsKept:
    kept: int = 0
    already_kept: int = 0
    reopened: int = 0  # closed once, running again: kept when it next closes


async def keep_closed_runs(client: Client, pool: asyncpg.Pool) -> ClosedRunsKept:
    """Once, on upgrading from a version that did not keep closed runs: the result of every closed account Temporal
    still holds goes to PostgreSQL, so a payment after the namespace's retention still reopens it and its personal
    data is erased when its retention ends."""
    tally = ClosedRunsKept()
    seen: set[str] = set()
    async for execution in client.list_workflows(CLOSED_ACCOUNTS):
        if execution.id in seen:  # a reopened account lists each closed run
            continue
        seen.add(execution.id)
        if await pool.fetchval(
            "SELECT 1 FROM closed_runs JOIN accounts USING (account_id) WHERE workflow_id = $1", execution.id
        ):
            tally.already_kept += 1
            continue
        handle = client.get_workflow_handle_for(AccountWorkflow.run, execution.id)  # its latest run
        if (await handle.describe()).status != WorkflowExecutionStatus.COMPLETED:
            tally.reopened += 1
            continue
        await retention.keep(pool, await handle.result())
        tally.kept += 1
    return tally


async def announce_calendars(client: Client, query: str = COUNTING_DAYS, limit: int | None = None) -> int:
    """Signals `calendar_announced` to each running workflow `query` finds (at most `limit`); returns how many. Once,
    after upgrading to calendars from the holidays library: a run from before asks the worker for the days ahead from
    then on, as runs started since do by themselves (workflows/calendars.py). Telling a run twice changes nothing."""
    await client.count_workflows(query)  # a query the server refuses fails here, before any signal
    told = 0
    async for execution in client.list_workflows(query, limit=limit):
        try:
            await client.get_workflow_handle(execution.id).signal("calendar_announced")  # its latest run
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise
            continue  # it closed meanwhile
        told += 1
    return told
