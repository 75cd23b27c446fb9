"""The worker: runs AccountWorkflow and the activities that do its I/O.

Environment: see infra/config.py. Migrations and search attributes are applied at start.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import structlog
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import Worker

from activities.accounts import AccountActivities
from activities.calendars import CalendarActivities
from activities.channels import ChannelActivities
from activities.print_mail import PrintMailActivities
from activities.reports import ReportActivities
from activities.retention import RetentionActivities
from activities.treatments import TreatmentActivities
from client.setup import (
    ensure_letter_batch_schedule,
    ensure_report_schedule,
    ensure_retention_schedule,
    ensure_search_attributes,
)
from dunning.calendar import AHEAD_DAYS, CALENDAR_DIR, CalendarError
from dunning.messages import Templates
from inbound import server as inbound_http
from infra import db, twilio_sms
from infra.config import Settings
from infra.letters import LetterRenderer
from infra.logging import configure
from infra.metrics import prometheus_runtime
from infra.public_holidays import LIBRARY, calendar_names, unannounced
from infra.smtp_mail import Mailer
from infra.temporal import connect
from workflows.registry import WORKFLOWS

log = structlog.get_logger()


def build_worker(client, settings: Settings, pool, sms_client, **options) -> Worker:
    accounts = AccountActivities(pool, settings.agency_drop_dir)
    letters = LetterRenderer.load(settings.letterheads_file, settings.letter_press_processes)
    channels = ChannelActivities(
        pool, Templates.load(), letters, sms_client, settings.twilio_from_number or "", Mailer.from_settings(settings)
    )
    print_mail = PrintMailActivities(pool, letters, settings.letter_drop_dir)
    treatments = TreatmentActivities(settings)
    reports = ReportActivities(pool)
    retention = RetentionActivities(pool)
    calendars = CalendarActivities()
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=list(WORKFLOWS),
        activities=[
            treatments.choose_treatment,
            calendars.announced_days,
            accounts.open_account,
            accounts.record_segment_change,
            accounts.record_payment,
            accounts.record_reversal,
            accounts.record_balance_change,
            accounts.record_concession,
            accounts.record_dispute,
            accounts.record_verification,
            accounts.record_cease,
            accounts.record_commitment,
            accounts.record_contact,
            accounts.record_fraud_claim,
            accounts.record_resumption,
            accounts.record_deferral,
            accounts.plan_follow_ups,
            accounts.record_approval,
            accounts.record_placement,
            accounts.record_bureau_report,
            accounts.record_statement,
            accounts.close_account,
            accounts.keep_closed_run,
            channels.send_sms,
            channels.send_email,
            channels.create_call_task,
            channels.queue_letter,
            channels.order_field_visit,
            channels.place_with_agency,
            channels.raise_internal_task,
            channels.skip_step,
            channels.record_failure,
            print_mail.produce_letter_batch,
            reports.write_strategy_report,
            retention.erase_personal_data,
        ],
        # Long enough for an SMS in flight to get Twilio's answer stored before a deploy stops us.
        graceful_shutdown_timeout=timedelta(seconds=30),
        max_concurrent_workflow_tasks=settings.workflow_task_slots,
        **options,
    )


def warn_of_unannounced_days(today: date, directory: Path = CALENDAR_DIR) -> None:
    """Logs a warning for each calendar whose announced holidays do not cover the next AHEAD_DAYS from `today`:
    until a release of the library announces them (a State Council notice it does not hold yet, say), those days count
    only the weekend; an error for a calendar file that cannot be used."""
    for name in calendar_names(directory):
        try:
            gap = unannounced(name, today, AHEAD_DAYS, directory)
        except CalendarError as err:
            log.error("calendar cannot be read", calendar=name, problem=str(err))
            continue
        if gap is not None:
            log.warning(
                "calendar does not know the days ahead",
                calendar=gap.calendar,
                country=gap.country,
                unknown_from=gap.unknown_from.isoformat(),
                unknown_years=gap.unknown,
                days_ahead=AHEAD_DAYS,
                library=LIBRARY,
                meanwhile="only weekends count on those days until a release of the library announces them",
            )


@asynccontextmanager
async def serving(client: Client, settings: Settings, today: date | None = None) -> AsyncIterator[tuple[Worker, str]]:
    """A running worker with what it needs around it: search attributes, a migrated database, a Twilio client, the
    HTTP server for Twilio's webhooks; a warning for each calendar that does not know the days ahead of `today`
    (default: the real one). Yields the worker and the base URL Twilio's webhooks must call."""
    warn_of_unannounced_days(today or date.today())
    await ensure_search_attributes(client, settings.temporal_namespace)
    pool = await db.create_pool(settings.database_url)
    try:
        await db.migrate(pool)
        async with inbound_http.serve(settings, pool, client) as webhooks_url:
            # Every text asks Twilio to report its fate to the server just started, and every mail links its
            # opt-out page there.
            reachable = replace(settings, public_base_url=webhooks_url)
            sms_client = twilio_sms.make_client(reachable)
            try:
                async with build_worker(client, reachable, pool, sms_client) as worker:
                    yield worker, webhooks_url
            finally:
                await sms_client.http_client.close()
    finally:
        await pool.close()


def metrics_runtime(settings: Settings) -> Runtime | None:
    """The runtime that serves the worker's metrics at METRICS_ADDRESS (None: the SDK's default, which serves none).
    Only the worker's process makes one: a port binds once, so the CLI and the tests' many workers keep the default."""
    if not settings.metrics_address:
        return None
    try:
        return prometheus_runtime(settings.metrics_address)
    except ValueError as err:  # the port is taken
        raise SystemExit(f"error: METRICS_ADDRESS {settings.metrics_address}: {err}") from None


def stop_requested() -> asyncio.Event:
    """Set on Ctrl-C or SIGTERM, so the process drains the worker instead of dying mid-task."""
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    return stop


async def main() -> None:
    try:
        settings = Settings.from_env()
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    configure(settings.log_format)
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set (make run starts an embedded PostgreSQL and sets it)")
    if not (settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from_number):
        raise SystemExit("TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER must be set")
    stop = stop_requested()
    client = await connect(settings, metrics_runtime(settings))
    await ensure_letter_batch_schedule(client, settings)
    await ensure_report_schedule(client, settings)
    await ensure_retention_schedule(client, settings)
    async with serving(client, settings):
        log.info(
            "worker started",
            task_queue=settings.task_queue,
            namespace=settings.temporal_namespace,
            metrics=f"http://{settings.metrics_address}/metrics" if settings.metrics_address else None,
        )
        await stop.wait()
    log.info("worker stopped")


if __name__ == "__main__":
    asyncio.run(main())
