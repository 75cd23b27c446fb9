"""Onboarding throughput: billing's signal-with-start of a full account, against plain starts of a no-op workflow.

    python -m bench.onboarding [--accounts 10000] [--concurrency 100] [--no-worker]

Both run on one local dev server in one run, because this machine is too noisy to compare across runs, and in
alternating blocks, because the in-memory server slows as it fills: drift then costs both sides alike.
Target: accounts/s >= 0.7 x no-op starts/s. Then, unless --no-worker, `python -m worker` onboards a second batch
and we time until every account has its `accounts` row in PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from time import perf_counter

from temporalio import workflow
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench.stack import POLICIES, ROOT, Services, account_document, dev_server, services
from client import CollectionsClient
from dunning.account import AccountDocument

# No worker polls this queue: starting a workflow is all we measure there.
START_QUEUE = "bench-start-only"
WORKER_QUEUE = "bench-onboarding"
WORKER_LOG = ROOT / ".run" / "bench-worker.log"
BLOCK = 1_000
WARM_UP = 200
TARGET = 0.7
STALL_SECONDS = 60


@workflow.defn
class NoopWorkflow:
    @workflow.run
    async def run(self) -> None:
        return None


async def timed(indices: range, start_one, concurrency: int) -> float:
    """Seconds to call `start_one(i)` for every i in `indices` with at most `concurrency` calls in flight."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await start_one(i)

    began = perf_counter()
    await asyncio.gather(*(one(i) for i in indices))
    return perf_counter() - began


def documents(prefix: str, count: int) -> list[AccountDocument]:
    """A portfolio mixing the three policies, three regions and 0-30 dpd, as billing would send it."""
    today = datetime.now(UTC).date()
    return [
        account_document(f"{prefix}{i:06d}", POLICIES[i % len(POLICIES)], today - timedelta(days=i % 31), i)
        for i in range(count)
    ]


async def compare(client: Client, prefix: str, count: int, concurrency: int) -> tuple[float, float, list[float]]:
    """(no-op starts/s, accounts/s, the ratio of each block), `count` of each started in blocks of BLOCK."""
    batch = documents(prefix, count)
    starters = {
        "no-op": lambda i: client.start_workflow(NoopWorkflow.run, id=f"noop-{prefix}{i}", task_queue=START_QUEUE),
        "accounts": lambda i: CollectionsClient(client, START_QUEUE).open(batch[i]),
    }
    seconds = {name: 0.0 for name in starters}
    block_ratios = []
    for block, first in enumerate(range(0, count, BLOCK)):
        indices = range(first, min(first + BLOCK, count))
        # Each side goes first in every other block, so neither always meets the server finishing the other's work.
        order = list(starters) if block % 2 == 0 else list(reversed(starters))
        took = {name: await timed(indices, starters[name], concurrency) for name in order}
        block_ratios.append(took["no-op"] / took["accounts"])
        for name in starters:
            seconds[name] += took[name]
    return count / seconds["no-op"], count / seconds["accounts"], block_ratios


async def end_to_end(client: Client, batch: list[AccountDocument], concurrency: int) -> tuple[float, float]:
    """(seconds to start the batch, seconds until every account has its row) with a worker process running."""
    async with services() as stack, worker_process(client, stack):
        began = perf_counter()
        started = await timed(
            range(len(batch)), lambda i: CollectionsClient(client, WORKER_QUEUE).open(batch[i]), concurrency
        )
        seen, progress_at = 0, perf_counter()
        while seen < len(batch):
            await asyncio.sleep(0.2)
            rows = await stack.pool.fetchval("SELECT count(*) FROM accounts")
            if rows > seen:
                seen, progress_at = rows, perf_counter()
            elif perf_counter() - progress_at > STALL_SECONDS:
                raise RuntimeError(
                    f"only {seen} of {len(batch)} accounts rows, none for {STALL_SECONDS}s; see {WORKER_LOG}"
                )
        return started, perf_counter() - began


@asynccontextmanager
async def worker_process(client: Client, stack: Services):
    """`python -m worker` as deployed: in a process of its own, its workflow tasks do not queue behind our starts
    for the GIL (in one process they overran the 5 s workflow task timeout)."""
    environment = {**os.environ, **stack.worker_environment(client.service_client.config.target_host, WORKER_QUEUE)}
    with WORKER_LOG.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "worker", cwd=ROOT, env=environment, stdout=log, stderr=log
        )
    try:
        while not await has_poller(client, WORKER_QUEUE):
            if process.returncode is not None:
                raise RuntimeError(f"the worker exited with {process.returncode}; see {WORKER_LOG}")
            await asyncio.sleep(0.2)
        yield
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)  # the worker's own clean shutdown
        if await process.wait():
            print(f"  the worker exited with {process.returncode}; see {WORKER_LOG}")


async def has_poller(client: Client, task_queue: str) -> bool:
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name=task_queue))
    )
    return bool(described.pollers)


async def main(count: int, concurrency: int, with_worker: bool) -> None:
    env = await dev_server()
    try:
        client = env.client
        print(
            f"onboarding: {count:,} of each, alternating in blocks of {BLOCK:,}, {concurrency} in flight,"
            f" local dev server"
        )
        await compare(client, "W", WARM_UP, concurrency)  # connections, server caches, code paths
        noop, accounts, block_ratios = await compare(client, "A", count, concurrency)
        ratio = accounts / noop
        print(f"  no-op starts                 {noop:8.1f} /s")
        print(f"  CollectionsClient.open       {accounts:8.1f} /s")
        print(
            f"  accounts/s / no-op starts/s  {ratio:8.2f}    target >= {TARGET}:"
            f" {'OK' if ratio >= TARGET else 'BELOW TARGET'}   (blocks {min(block_ratios):.2f}"
            f" to {max(block_ratios):.2f})"
        )
        if with_worker:
            started, onboarded = await end_to_end(client, documents("E", count), concurrency)
            print(
                f"  with a worker process: started in {started:.1f}s, every accounts row after {onboarded:.1f}s"
                f" = {count / onboarded:.1f} accounts onboarded/s end to end"
            )
    finally:
        await env.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000, help="workflows of each kind (default 10000)")
    parser.add_argument("--concurrency", type=int, default=100, help="starts in flight at once (default 100)")
    parser.add_argument("--no-worker", action="store_true", help="skip the end-to-end figure with a worker")
    args = parser.parse_args()
    asyncio.run(main(args.accounts, args.concurrency, not args.no_worker))
