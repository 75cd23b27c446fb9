"""A portfolio on Temporal's time-skipping test servers: the real workflows and activities, days passing in seconds.

The Java test server keeps every time-skipping lock and unlock it has seen in a list that it scans each time a timer
fires (`SelfAdvancingTimerImpl.lockEvents`), so one server's time grows with the square of its work: a thousand
accounts took 14 minutes on one server, 5 on eight. So the portfolio is spread over servers of SHARD_ACCOUNTS
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
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import asyncpg
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from client import CollectionsClient
from client.setup import ensure_search_attributes
from infra import twilio_sms
from infra.config import Settings
from infra.temporal import local_binary
from worker import build_worker

SHARD_ACCOUNTS = 125  # accounts per time-skipping server


async def gather_bounded(calls: Iterable[Awaitable[object]], limit: int = 8) -> None:
    """Awaits every call with at most `limit` in flight: a portfolio's signals must not flood the servers."""
    slots = asyncio.Semaphore(limit)

    async def one(call: Awaitable[object]) -> None:
        async with slots:
            await call

    await asyncio.gather(*(one(call) for call in calls))


async def patient_sleep(env: WorkflowEnvironment, duration: timedelta) -> None:
    """`env.sleep` with a deadline a server of busy accounts can meet (the SDK's default is 30 seconds)."""
    request = SleepRequest()
    request.duration.FromTimedelta(max(duration, timedelta(0)))
    await env.client.test_service.unlock_time_skipping_with_sleep(request, timeout=timedelta(minutes=15))


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


@dataclass(frozen=True)
class Shards:
    """The servers of one portfolio; account number i (from 0) runs on server i // SHARD_ACCOUNTS, so adding
    accounts never moves one already placed."""

    servers: list[WorkflowEnvironment]
    task_queue: str

    def server_of(self, number: int) -> WorkflowEnvironment:
        return self.servers[number // SHARD_ACCOUNTS]

    def collections(self, number: int) -> CollectionsClient:
        return CollectionsClient(self.server_of(number).client, self.task_queue)

    async def now(self) -> datetime:
        """The latest of the servers' clocks (each moves on its own while its accounts work)."""
        return max(await asyncio.gather(*(server.get_current_time() for server in self.servers)))

    async def advance(self, duration: timedelta) -> None:
        await asyncio.gather(*(patient_sleep(server, duration) for server in self.servers))

    async def advance_to(self, moment: datetime) -> None:
        """Every server's clock to `moment` (a server already past it stays where it is)."""

        async def one(server: WorkflowEnvironment) -> None:
            await patient_sleep(server, moment - await server.get_current_time())

        await asyncio.gather(*(one(server) for server in self.servers))


@asynccontextmanager
async def sharded(accounts: int, settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Shards]:
    """Servers for `accounts` accounts, SHARD_ACCOUNTS each, each with a worker of `settings` (its task queue, its
    vendors) writing to `pool`, for as long as the block runs."""
    sms_client = twilio_sms.make_client(settings)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(sms_client.http_client.close)
        servers = []
        for _ in range(max(1, math.ceil(accounts / SHARD_ACCOUNTS))):
            server = await WorkflowEnvironment.start_time_skipping(
                data_converter=pydantic_data_converter, test_server_existing_path=local_binary("temporal-test-server")
            )
            stack.push_async_callback(server.shutdown)
            await ensure_search_attributes(server.client, "default")
            await stack.enter_async_context(build_worker(server.client, settings, pool, sms_client))
            servers.append(server)
        yield Shards(servers, settings.task_queue)
