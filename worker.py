"""The worker: runs AccountWorkflow and the activities that do its I/O.

Environment: see infra/config.py. Migrations and search attributes are applied at start.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from contextlib import asynccontextmanager

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.accounts import AccountActivities
from activities.channels import ChannelActivities
from dunning.messages import Templates
from infra import db, twilio_sms
from infra.config import Settings
from infra.logging import configure
from infra.temporal import connect, ensure_search_attributes
from workflows.account import AccountWorkflow
from workflows.fraud_claim import FraudClaimWorkflow

log = structlog.get_logger()


def build_worker(client, settings: Settings, pool, sms_client, **options) -> Worker:
    accounts = AccountActivities(pool)
    channels = ChannelActivities(pool, Templates.load(), sms_client, settings.twilio_from_number or "")
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[AccountWorkflow, FraudClaimWorkflow],
        activities=[
            accounts.open_account, accounts.record_payment, accounts.record_reversal, accounts.record_dispute,
            accounts.record_verification, accounts.record_cease, accounts.record_commitment, accounts.record_contact,
            accounts.record_fraud_claim, accounts.record_resumption, accounts.record_deferral, accounts.plan_follow_ups,
            accounts.close_account,
            channels.send_sms, channels.send_email, channels.create_call_task, channels.queue_letter,
            channels.order_field_visit, channels.place_with_agency, channels.raise_internal_task, channels.skip_step,
            channels.record_failure,
        ],
        # Long enough for an SMS in flight to get Twilio's answer stored before a deploy stops us.
        graceful_shutdown_timeout=timedelta(seconds=30),
        **options,
    )


@asynccontextmanager
async def serving(client: Client, settings: Settings) -> AsyncIterator[Worker]:
    """A running worker with what it needs around it: search attributes, a migrated database, a Twilio client."""
    await ensure_search_attributes(client, settings.temporal_namespace)
    pool = await db.create_pool(settings.database_url)
    try:
        await db.migrate(pool)
        sms_client = twilio_sms.make_client(settings)
        try:
            async with build_worker(client, settings, pool, sms_client) as worker:
                yield worker
        finally:
            await sms_client.http_client.close()
    finally:
        await pool.close()


def stop_requested() -> asyncio.Event:
    """Set on Ctrl-C or SIGTERM, so the process drains the worker instead of dying mid-task."""
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    return stop


async def main() -> None:
    settings = Settings.from_env()
    configure(settings.log_format)
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set (make run starts an embedded PostgreSQL and sets it)")
    if not (settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number):
        raise SystemExit("TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER must be set")
    stop = stop_requested()
    async with serving(await connect(settings), settings):
        log.info("worker started", task_queue=settings.task_queue, namespace=settings.temporal_namespace)
        await stop.wait()
    log.info("worker stopped")


if __name__ == "__main__":
    asyncio.run(main())
