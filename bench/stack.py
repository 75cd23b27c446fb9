"""What both benchmarks run the worker against: a fresh database on an embedded PostgreSQL, the Twilio and SMTP
stand-ins, and varied account documents."""

from __future__ import annotations

import logging
import shutil
import uuid
import zlib
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import asyncpg
from temporalio.testing import WorkflowEnvironment

from client.setup import dev_server_flags
from dunning.account import AccountDocument, ContactPoint
from infra import db, twilio_sms
from infra.config import Settings
from infra.logging import configure
from infra.sealing import new_ring, sealed_data_converter
from infra.temporal import local_binary
from standins.smtp_server import SmtpStandIn
from standins.twilio_api import TwilioStandIn

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ("consumer_loan", "b2b_receivables", "property_fees")
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "bench-auth-token"
TWILIO_FROM = "+15005550006"
# (time zone, currency, locale, mobile prefix, city): accounts in several zones exercise the dpd arithmetic. A prefix
# and any four digits make a valid mobile number of its country.
REGIONS = (
    ("Asia/Shanghai", "CNY", "zh", "+861380013", "Shanghai"),
    ("Europe/London", "GBP", "en", "+44791112", "London"),
    ("America/New_York", "USD", "en", "+1212555", "New York"),
)
KEY_RING = new_ring("bench")  # payloads sealed as in production, with a key that dies with the run
SEALED = sealed_data_converter(KEY_RING)


@dataclass(frozen=True)
class Services:
    pool: asyncpg.Pool
    settings: Settings
    sms_client: object

    def worker_settings(self, task_queue: str) -> Settings:
        return replace(self.settings, task_queue=task_queue)

    def worker_environment(self, temporal_address: str, task_queue: str) -> dict[str, str]:
        """What `python -m worker` reads (infra/config.py) to work on our queue, database and stand-in."""
        settings = self.settings
        return {
            "TEMPORAL_ADDRESS": temporal_address,
            "TEMPORAL_NAMESPACE": settings.temporal_namespace,
            "TASK_QUEUE": task_queue,
            "DATABASE_URL": settings.database_url,
            "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
            "TWILIO_AUTH_TOKEN": settings.twilio_auth_token,
            "TWILIO_FROM_NUMBER": settings.twilio_from_number,
            "TWILIO_API_BASE": settings.twilio_api_base,
            "SMTP_HOST": settings.smtp_host,
            "SMTP_PORT": str(settings.smtp_port),
            "LETTER_DROP_DIR": str(settings.letter_drop_dir),
            "AGENCY_DROP_DIR": str(settings.agency_drop_dir),
            "LOG_FORMAT": "json",
            "PAYLOAD_KEYS": KEY_RING.to_variable(),
        }


async def dev_server() -> WorkflowEnvironment:
    """Temporal's dev server (real time, no UI) with our search attributes, its payloads sealed as in production."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=local_binary("temporal"),
        dev_server_extra_args=dev_server_flags(),
        data_converter=SEALED,
        ui=False,
    )


@asynccontextmanager
async def services():
    """A migrated database of its own (dropped afterwards), the Twilio and SMTP stand-ins and handoff folders of
    its own, for a worker."""
    # One log line per activity would drown the figures; warnings still show.
    configure("console", logging.WARNING)
    async with AsyncExitStack() as stack:
        server_url = db.embedded_database_url(ROOT / ".run" / "bench-postgres")
        name = f"collections_bench_{uuid.uuid4().hex[:8]}"
        database_url = await db.create_database(server_url, name)
        stack.push_async_callback(db.drop_database, server_url, name)
        pool = await db.create_pool(database_url)
        stack.push_async_callback(pool.close)
        await db.migrate(pool)

        twilio = TwilioStandIn(TWILIO_SID, TWILIO_TOKEN)
        await twilio.start()
        stack.push_async_callback(twilio.stop)
        smtp = SmtpStandIn()
        await smtp.start()
        stack.push_async_callback(smtp.stop)
        drop = ROOT / ".run" / f"bench-handoff-{name}"
        stack.callback(shutil.rmtree, drop, True)
        settings = Settings(
            temporal_address="",
            temporal_namespace="default",
            task_queue="unused",
            database_url=database_url,
            twilio_account_sid=TWILIO_SID,
            twilio_auth_token=TWILIO_TOKEN,
            twilio_from_number=TWILIO_FROM,
            twilio_api_base=twilio.base_url,
            log_format="console",
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            letter_drop_dir=drop / "print-vendor",
            agency_drop_dir=drop / "agencies",
        )
        sms_client = twilio_sms.make_client(settings)
        stack.push_async_callback(sms_client.http_client.close)
        yield Services(pool, settings, sms_client)


def account_document(account_id: str, policy: str, due: date, variant: int = 0) -> AccountDocument:
    """An account like tests/conftest.make_account, with region and amount varied by `variant`."""
    time_zone, currency, locale, mobile, city = REGIONS[variant % len(REGIONS)]
    suffix = zlib.crc32(account_id.encode()) % 10_000
    return AccountDocument(
        account_id=account_id,
        debtor_name=f"Bench Debtor {account_id}",
        contact_points=[
            ContactPoint(kind="mobile", value=f"{mobile}{suffix:04d}"),
            ContactPoint(kind="work_phone", value=f"{mobile}{(suffix + 1) % 10_000:04d}"),
            ContactPoint(kind="email", value=f"{account_id.lower()}@example.com"),
            ContactPoint(kind="address", value=f"{variant % 500 + 1} Bench Road, {city}"),
            ContactPoint(
                kind="mobile", value=f"{mobile}{(suffix + 2) % 10_000:04d}", owner="contact", relation="spouse"
            ),
        ],
        time_zone=time_zone,
        currency=currency,
        amount_due_minor=50_000 + 1_237 * (variant % 997),
        due_date=due,
        policy=policy,
        locale=locale,
        creditor="Demo Consumer Finance",  # a creditor with a letterhead, so its letters can be made
    )
