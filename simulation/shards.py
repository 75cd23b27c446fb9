"""A portfolio on Temporal's time-skipping test servers: the real workflows and activities, days passing in seconds.

The Java test server keeps every time-skipping lock and unlock it has seen in a list that it scans each time a timer
fires (`SelfAdvancingTimerImpl.lockEvents`), so one server's time grows with the square of its work: a thousand
accounts took 14 minutes on one server, 5 on eight; the B2B portfolio with its statement cycle took 1,363 s on eight,
1,125 s on sixteen. So the portfolio is spread over servers of SHARD_ACCOUNTS
accounts, each with a worker of its own in this process; the Twilio and SMTP stand-ins run as programs of their own,
as the real vendors are elsewhere (tens of thousands of texts would otherwise take the worker's CPU). Contact rules
and cures hold per account, so what the portfolio shows is the same as on one server.
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import AsyncIterator, Awaitable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta

import asyncpg
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.testservice.v1 import SleepRequest, UnlockTimeSkippingRequest
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from client import CollectionsClient
from client.setup import ensure_search_attributes
from dunning.account import AccountDocument
from infra import twilio_sms
from infra.config import Settings
from infra.sealing import new_ring, sealed_data_converter
from infra.temporal import local_binary
from worker import build_worker

SHARD_ACCOUNTS = 42  # accounts per time-skipping server
# The workers of a portfolio share one process and its core: each takes few activities at once, or an activity waits
# behind the others past its 2-minute timeout (as 2,000 accounts opening at once did, each choosing its treatment).
ACTIVITY_SLOTS = 8
STUCK_AFTER = timedelta(minutes=2)  # real time a server may go without skipping before it is looked at
SLEEP_DEADLINE = timedelta(hours=12)  # a day's sleep of a watched server (2,000 accounts opening took 20 minutes)
IDLE_POLL, IDLE_POLLS = timedelta(milliseconds=50), 200  # how often, and how many times, an account is asked


async def gather_bounded(calls: Iterable[Awaitable[object]], limit: int = 8) -> None:
    """Awaits every call with at most `limit` in flight: a portfolio's signals must not flood the servers."""
    slots = asyncio.Semaphore(limit)

    async def one(call: Awaitable[object]) -> None:
        async with slots:
            await call

    await asyncio.gather(*(one(call) for call in calls))


async def patient_sleep(
    env: WorkflowEnvironment, duration: timedelta, deadline: timedelta = timedelta(minutes=15)
) -> None:
    """`env.sleep` with a deadline a server of busy accounts can meet (the SDK's default is 30 seconds)."""
    request = SleepRequest()
    request.duration.FromTimedelta(max(duration, timedelta(0)))
    await env.client.test_service.unlock_time_skipping_with_sleep(request, timeout=deadline)


async def _vendor(module: str, *args: str) -> tuple[asyncio.subprocess.Process, str]:
    """A stand-in started as its own program, and the first line it prints (where it listens)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    assert process.stdout is not None
    return process, (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode().strip()


@asynccontextmanager
async def vendor_standins(settings: Settings) -> AsyncIterator[Settings]:
    """The settings with Twilio and the mail relay pointed at stand-ins in processes of their own, for as long as
    the block runs. Twilio's account and token are the settings' own."""
    assert settings.twilio_account_sid and settings.twilio_auth_token, "the stand-in checks Twilio's credentials"
    credentials = ("--account-sid", settings.twilio_account_sid, "--auth-token", settings.twilio_auth_token)
    twilio, twilio_line = await _vendor("standins.twilio_api", "--port", "0", *credentials)
    smtp, smtp_line = await _vendor("standins.smtp_server", "--port", "0")
    try:
        smtp_host, smtp_port = smtp_line.rsplit(" ", 1)[1].rsplit(":", 1)
        yield replace(
            settings,
            twilio_api_base=twilio_line.removeprefix("TWILIO_API_BASE="),
            smtp_host=smtp_host,
            smtp_port=int(smtp_port),
        )
    finally:
        for process in (twilio, smtp):
            process.terminate()
            await process.wait()


class Shards:
    """The servers of one portfolio; account number i (from 0) runs on server i // SHARD_ACCOUNTS, so adding
    accounts never moves one already placed."""

    def __init__(self, servers: list[WorkflowEnvironment], task_queue: str) -> None:
        self.servers = servers
        self.task_queue = task_queue
        self.workflows: list[list[str]] = [[] for _ in servers]  # those opened through `open`, per server
        self.locks_released: list[str] = []  # what the watchdog did, for the run's report

    def server_of(self, number: int) -> WorkflowEnvironment:
        return self.servers[number // SHARD_ACCOUNTS]

    def collections(self, number: int) -> CollectionsClient:
        return CollectionsClient(self.server_of(number).client, self.task_queue)

    async def open(self, number: int, document: AccountDocument) -> None:
        await self.collections(number).open(document)
        self.workflows[number // SHARD_ACCOUNTS].append(document.workflow_id)

    async def now(self) -> datetime:
        """The latest of the servers' clocks (each moves on its own while its accounts work)."""
        return max(await asyncio.gather(*(server.get_current_time() for server in self.servers)))

    async def advance(self, duration: timedelta) -> None:
        await asyncio.gather(*(patient_sleep(server, duration) for server in self.servers))

    async def advance_to(self, moment: datetime) -> None:
        """Every server's clock to `moment` (a server already past it stays where it is)."""
        await asyncio.gather(*(self._advance(index, moment) for index in range(len(self.servers))))

    async def _advance(self, index: int, moment: datetime) -> None:
        """Sleeps the server to `moment`, watching it: the test server keeps the time-skipping lock of an activity
        still out when its workflow run closes (temporalio/sdk-java#1138, open) and then stops skipping for good.
        A server that has not skipped at all for STUCK_AFTER while none of its accounts has work in flight holds
        such a lock: it is released once, and the run reports it. The sleep is never abandoned (the server would
        still unlock for it), so its deadline is long: the watchdog, not the deadline, finds a stuck server."""
        server = self.servers[index]
        duration = moment - await server.get_current_time()
        sleeping = asyncio.ensure_future(patient_sleep(server, duration, deadline=SLEEP_DEADLINE))
        while True:
            before = await server.get_current_time()
            done, _ = await asyncio.wait({sleeping}, timeout=STUCK_AFTER.total_seconds())
            if done:
                return sleeping.result()
            if await self._stuck(index, before):
                await self._release(index, before)

    async def _stuck(self, index: int, before: datetime) -> bool:
        server, workflows = self.servers[index], self.workflows[index]
        try:
            if not workflows or await server.get_current_time() - before > STUCK_AFTER * 2:
                return False  # it skipped, or the accounts it runs are not known here
            return not await _any_in_flight(server.client, workflows)
        except RPCError:  # too busy to answer: not stuck
            return False

    async def _release(self, index: int, before: datetime) -> None:
        try:
            await self.servers[index].client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
        except RPCError as err:  # nothing was locked after all: keep waiting
            self.locks_released.append(f"server {index} at {before:%Y-%m-%d %H:%M} UTC: not locked ({err})")
        else:
            self.locks_released.append(f"server {index} at {before:%Y-%m-%d %H:%M} UTC")


async def _in_flight(client: Client, workflow_id: str) -> bool:
    """Whether the workflow's latest run has a workflow task or an activity out."""
    described = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    return bool(described.pending_activities) or described.HasField("pending_workflow_task")


async def _any_in_flight(client: Client, workflow_ids: list[str]) -> bool:
    """One account after another, stopping at the first busy one: a busy server is not asked 125 things at once."""
    for workflow_id in workflow_ids:
        if await _in_flight(client, workflow_id):
            return True
    return False


async def until_idle(client: Client, workflow_id: str) -> None:
    """Waits (a while at most) until the account has no step or record in flight: news that closes an account while
    one of its activities is out would leave the server a lock it never releases (see Shards._advance)."""
    for _ in range(IDLE_POLLS):
        try:
            if not await _in_flight(client, workflow_id):
                return
        except RPCError:  # a server too busy to answer is asked again
            pass
        await asyncio.sleep(IDLE_POLL.total_seconds())


@asynccontextmanager
async def sharded(accounts: int, settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Shards]:
    """Servers for `accounts` accounts, SHARD_ACCOUNTS each, each with a worker of `settings` (its task queue, its
    vendors) writing to `pool`, for as long as the block runs."""
    sms_client = twilio_sms.make_client(settings)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(sms_client.http_client.close)
        servers = []
        converter = sealed_data_converter(new_ring("simulation"))  # sealed as in production; the ring dies with the run
        for _ in range(max(1, math.ceil(accounts / SHARD_ACCOUNTS))):
            server = await WorkflowEnvironment.start_time_skipping(
                data_converter=converter, test_server_existing_path=local_binary("temporal-test-server")
            )
            stack.push_async_callback(server.shutdown)
            await ensure_search_attributes(server.client, "default")
            worker = build_worker(server.client, settings, pool, sms_client, max_concurrent_activities=ACTIVITY_SLOTS)
            await stack.enter_async_context(worker)
            servers.append(server)
        yield Shards(servers, settings.task_queue)
