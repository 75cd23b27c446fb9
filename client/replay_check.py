"""The pre-deploy check: the histories of the workflows running now, replayed on this tree's workflow code. A change
that would give a running account a different command than its history recorded (a non-deterministic change, not
guarded by `workflow.patched`) fails here, naming the workflow, instead of failing the account after the deploy."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from temporalio.client import Client
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.worker import Replayer

from workflows.registry import WORKFLOWS

# Every type the worker runs, registered under its class name: other types in the namespace are not ours to replay.
_TYPES = ", ".join(f'"{workflow.__name__}"' for workflow in WORKFLOWS)
RUNNING = f'WorkflowType IN ({_TYPES}) AND ExecutionStatus = "Running"'
# The SDK wraps the reason in its core's debug dump of the task failure: `... message: "[TMPRL1100] ...", ...`.
_REASON = re.compile(r'message: "((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class ReplayFailure:
    workflow_id: str
    run_id: str
    message: str  # the SDK's, e.g. the non-determinism error naming the first command that differs from the history


@dataclass
class ReplayCheck:
    replayed: int = 0
    failures: list[ReplayFailure] = field(default_factory=list)


async def replay_check(
    client: Client, workflows: Sequence[type] = WORKFLOWS, query: str = RUNNING, limit: int | None = None
) -> ReplayCheck:
    """Replays the histories of the workflows `query` finds (at most `limit`) on `workflows`, with the client's data
    converter (sealed payloads open with its key ring). Raises the client's RPCError for a query the server refuses.
    """
    await client.count_workflows(query)  # a query the server refuses fails here, before any history is fetched
    replayer = Replayer(
        workflows=list(workflows),
        data_converter=client.data_converter,
        # Without the core's console log, which would print each failure again as a warning.
        runtime=Runtime(telemetry=TelemetryConfig(logging=None)),
    )
    histories = client.list_workflows(query, limit=limit).map_histories()
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
