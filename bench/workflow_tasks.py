"""Workflow-task latency under a B2B book's load, from the SDK's own metrics: does heavy work (the statement of
account's PDF, rendered for a month-late account's statement e-mail) hold up the accounts' workflow tasks?

    python -m bench.workflow_tasks        (make bench)

One dev server (real time), one worker, a B2B portfolio on a demo clock so its daily chases and month-late statements
come in real seconds: first with PDFs rendered in the worker's own process (LETTER_PRESS_PROCESSES=0, the baseline),
then in the letter press's processes (the default), the same portfolio each time. After a business day for the
portfolio's arrival, prints for each the p50, p99 and maximum of the workflow tasks' schedule-to-start and execution
latencies (temporal_workflow_task_*), read from a metric buffer. Target: p99 of both under 1 second with the press.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from temporalio.client import Client
from temporalio.runtime import MetricBuffer, MetricBufferDurationFormat, Runtime, TelemetryConfig
from temporalio.testing import WorkflowEnvironment

from bench.stack import SEALED, Services, account_document, dev_server, services
from client import CollectionsClient
from dunning.account import Clock, DemoClock, local_date
from worker import build_worker

ACCOUNTS = int(os.environ.get("BENCH_B2B_ACCOUNTS", "120"))
DAY_SECONDS = float(os.environ.get("BENCH_DAY_SECONDS", "8"))
STATEMENT_DAYS = 10  # the accounts' month-late statements spread over this many business days
STATEMENT_DPD = 30  # b2b_receivables' statement_email step
TARGET_SECONDS = 1.0
LATENCIES = ("temporal_workflow_task_schedule_to_start_latency", "temporal_workflow_task_execution_latency")


@dataclass(frozen=True)
class Phase:
    name: str
    press_processes: int | None  # 0: rendering in the worker's own process


PHASES = (Phase("rendering in the worker's process (baseline)", 0), Phase("rendering in the letter press", None))


async def main() -> None:
    env = await dev_server()
    try:
        async with services() as stack:
            pace = f"a business day every {DAY_SECONDS:g} s"
            print(f"{ACCOUNTS} B2B accounts, {pace}, their statements over {STATEMENT_DAYS} business days")
            for phase in PHASES:
                report(phase, await run_phase(env, stack, phase))
    finally:
        await env.shutdown()


async def run_phase(env: WorkflowEnvironment, stack: Services, phase: Phase) -> dict[str, list[float]]:
    """The portfolio through STATEMENT_DAYS business days on a worker of its own, its metrics in a buffer."""
    buffer = MetricBuffer(1_000_000, duration_format=MetricBufferDurationFormat.SECONDS)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    target = env.client.service_client.config.target_host
    client = await Client.connect(target, namespace="default", data_converter=SEALED, runtime=runtime)
    queue = f"bench-b2b-{uuid.uuid4().hex[:8]}"
    settings = stack.worker_settings(queue)
    now = datetime.now(UTC)
    clock = DemoClock(day_seconds=DAY_SECONDS, anchor_real=now, anchor_business=now)
    today = local_date(Clock(clock).business(now), "Asia/Shanghai")
    seen: dict[str, list[float]] = {name: [] for name in LATENCIES}
    async with build_worker(
        client, replace(settings, letter_press_processes=phase.press_processes), stack.pool, stack.sms_client
    ):
        collections = CollectionsClient(client, queue, clock)
        for n in range(ACCOUNTS):
            # Account n reaches its month-late statement on business day n % STATEMENT_DAYS + 1 of the phase.
            due = today - timedelta(days=STATEMENT_DPD - 1 - n % STATEMENT_DAYS)
            await collections.open(account_document(f"B{n:04d}{queue[-8:]}", "b2b_receivables", due))
        # The portfolio's arrival (every account choosing its treatment and catching up at once) is not the steady
        # load asked about: a business day to settle, its tasks left out.
        await asyncio.sleep(DAY_SECONDS)
        drain(buffer, {name: [] for name in LATENCIES})
        ends = time.monotonic() + STATEMENT_DAYS * DAY_SECONDS
        while time.monotonic() < ends:
            await asyncio.sleep(1)
            drain(buffer, seen)
    drain(buffer, seen)
    rendered = await stack.pool.fetchval(
        "SELECT count(*) FROM action_log WHERE step_id = 'statement_email' AND result = 'done' AND workflow_id LIKE $1",
        f"account-B%{queue[-8:]}",
    )
    print(f"  {phase.name}: {rendered} statements rendered and e-mailed")
    return seen


def drain(buffer: MetricBuffer, seen: dict[str, list[float]]) -> None:
    for update in buffer.retrieve_updates():
        if update.metric.name in seen:
            seen[update.metric.name].append(float(update.value))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def report(phase: Phase, seen: dict[str, list[float]]) -> None:
    print(f"{phase.name}:")
    for name, values in seen.items():
        p99 = percentile(values, 0.99)
        verdict = "within" if p99 < TARGET_SECONDS else "OVER"
        latency = f"p50 {percentile(values, 0.5):.3f} s  p99 {p99:.3f} s  max {max(values, default=float('nan')):.3f} s"
        what = name.removeprefix("temporal_workflow_task_")
        print(f"  {what:<22} {len(values):>6} tasks  {latency}  ({verdict} the {TARGET_SECONDS:g} s target)")


if __name__ == "__main__":
    asyncio.run(main())
