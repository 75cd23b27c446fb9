"""Shared fixtures: a real PostgreSQL, the Twilio stand-in, Temporal's time-skipping and dev servers, the worker."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import uuid
import zlib
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from temporalio.runtime import Runtime
from temporalio.testing import WorkflowEnvironment

import worker
from activities.channels import ChannelActivities
from client import CollectionsClient
from client.setup import dev_server_flags, ensure_search_attributes
from dunning import ladder
from dunning.account import AccountDocument, ContactPoint, local_datetime
from dunning.messages import Templates
from dunning.orders import StepOrder
from dunning.orders import step_order as build_step_order
from dunning.outcomes import ContactOutcome
from dunning.policy import Policy, load_policy
from infra import db, twilio_sms
from infra.config import Settings
from infra.letters import LetterRenderer
from infra.public_holidays import with_working_days
from infra.sealing import read_ring, sealed_data_converter
from infra.smtp_mail import Mailer
from infra.temporal import local_binary
from standins.smtp_server import SmtpStandIn
from standins.twilio_api import TwilioStandIn
from worker import build_worker

ROOT = Path(__file__).resolve().parent.parent
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "test-auth-token"
TWILIO_FROM = "+15005550006"
TEST_LETTERHEADS = ROOT / "tests" / "data" / "letterheads.yaml"
PORTFOLIO_FIGURES = pytest.StashKey[list[str]]()
pytest_plugins = ["tests.log_scan"]  # no personal data in any log of the run
# Tests seal payloads with a key ring of their own (never a production key); the CLI runs they start inherit it.
TEST_KEY_RING = ROOT / "tests" / "data" / "payload-keys.json"
os.environ["PAYLOAD_KEYS_FILE"] = str(TEST_KEY_RING)
# Nor do they follow the demo clock a `make run DAY_SECONDS=...` in this checkout keeps: no such file, real days.
os.environ["DEMO_CLOCK_FILE"] = str(ROOT / "tests" / "data" / "no-demo-clock.json")
SEALED = sealed_data_converter(read_ring(None, TEST_KEY_RING))
# The CLI runs tests start act as the system, never as an operator signed in on this machine (cli/signed_in.py).
os.environ.pop("COLLECTIONS_SESSION", None)
os.environ["XDG_CONFIG_HOME"] = str(ROOT / ".run" / "test-config")


def pytest_addoption(parser):
    parser.addoption(
        "--test-order",
        default="written",
        help="written, reverse or shuffle[:SEED]: the order of the modules and of the tests in each; the flow tests"
        " pass in any of them (module fixtures stay set up once)",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    order = config.getoption("--test-order")
    if order == "written":
        return
    modules: dict[Path, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.path, []).append(item)
    groups = list(modules.values())
    if order == "reverse":
        groups = [group[::-1] for group in groups[::-1]]
    elif order.startswith("shuffle"):
        rng = random.Random(order.partition(":")[2])
        rng.shuffle(groups)
        for group in groups:
            rng.shuffle(group)
    else:
        raise pytest.UsageError(f"--test-order: {order!r} is not written, reverse or shuffle[:SEED]")
    items[:] = [item for group in groups for item in group]


def pytest_configure(config):
    if config.option.test_order == "shuffle":  # a seed of its own, shown at the end
        config.option.test_order = f"shuffle:{random.randrange(10_000)}"
    config.stash[PORTFOLIO_FIGURES] = []


@pytest.fixture
def portfolio_figures(request) -> list[str]:
    """Lines the run ends with (`make soak`: each portfolio's accounts, contacts and seconds)."""
    return request.config.stash[PORTFOLIO_FIGURES]


def pytest_terminal_summary(terminalreporter, config):
    if (order := config.option.test_order) != "written":  # shown with -q too, to run that order again
        terminalreporter.write_line(f"test order: {order}")
    if figures := config.stash[PORTFOLIO_FIGURES]:
        terminalreporter.section("portfolios")
        for line in figures:
            terminalreporter.write_line(line)


# The day the unit tests' fixed dates (2026) are seen from: their policies' calendars know the years around it.
UNIT_TESTS_TODAY = date(2026, 7, 1)


def pinned(name: str, today: date | None = None) -> Policy:
    """Policy `name` as the worker pins it for an account opening `today` (default: the real today, as the flow tests'
    accounts open): its calendar with the announced days of last year, this year and the next."""
    return with_working_days(load_policy(name), today or date.today())


@pytest.fixture(scope="session")
def consumer() -> Policy:
    return pinned("consumer_loan", UNIT_TESTS_TODAY)


@pytest.fixture(scope="session")
def b2b() -> Policy:
    return pinned("b2b_receivables", UNIT_TESTS_TODAY)


@pytest.fixture(scope="session")
async def database_url():
    """A fresh database per test session on DATABASE_URL's server, or on an embedded PostgreSQL."""
    server_url = os.environ.get("DATABASE_URL") or db.embedded_database_url(ROOT / ".run" / "test-postgres")
    name = f"collections_test_{uuid.uuid4().hex[:8]}"
    yield await db.create_database(server_url, name)
    await db.drop_database(server_url, name)


@pytest.fixture
async def own_pool(database_url):
    """A database of the test's own, for work that takes everything queued (the print vendor's batch), so it sees
    only this test's letters."""
    server_url, name = database_url, f"collections_own_{uuid.uuid4().hex[:8]}"
    pool = await db.create_pool(await db.create_database(server_url, name))
    await db.migrate(pool)
    yield pool
    await pool.close()
    await db.drop_database(server_url, name)


@pytest.fixture(scope="session")
async def pool(database_url):
    pool = await db.create_pool(database_url)
    await db.migrate(pool)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
async def twilio():
    standin = TwilioStandIn(TWILIO_SID, TWILIO_TOKEN)
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture(scope="session")
async def smtp():
    standin = SmtpStandIn()
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture(scope="session")
def settings(twilio, smtp, tmp_path_factory) -> Settings:
    return Settings(
        temporal_address="",
        temporal_namespace="default",
        task_queue="unused",
        database_url=None,
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_from_number=TWILIO_FROM,
        twilio_api_base=twilio.base_url,
        log_format="console",
        letterheads_file=TEST_LETTERHEADS,
        letter_drop_dir=tmp_path_factory.mktemp("print-vendor"),
        agency_drop_dir=tmp_path_factory.mktemp("agencies"),
        inbound_spool_dir=tmp_path_factory.mktemp("inbound-spool"),
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        mail_from="collections@lender.test",
        payload_keys_file=TEST_KEY_RING,
    )


@pytest.fixture(scope="session")
async def sms_client(settings):
    client = twilio_sms.make_client(settings)
    yield client
    await client.http_client.close()


def first_morning_after(now: datetime) -> datetime:
    """The first Monday 10:00 in Shanghai after `now`: where every flow test's clock starts, whatever the hour and
    the weekday the suite runs at."""
    local = now.astimezone(ZoneInfo("Asia/Shanghai"))
    monday = local.date() + timedelta(days=7 - local.weekday())
    return datetime.combine(monday, time(10), local.tzinfo)


@asynccontextmanager
async def time_skipping_env(runtime: Runtime | None = None):
    """A time-skipping server of its own (a tenth of a second to start), its clock set to a Monday morning, with a
    client on `runtime` (the SDK's default unless given)."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=SEALED, test_server_existing_path=local_binary("temporal-test-server"), runtime=runtime
    )
    await ensure_search_attributes(env.client, "default")
    now = await env.get_current_time()
    await env.sleep(first_morning_after(now) - now)
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
async def dev_env():
    """The real Temporal dev server (visibility queries, the CLI's own connection), one per test module."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=local_binary("temporal"),
        dev_server_extra_args=dev_server_flags(),
        data_converter=SEALED,
        ui=False,
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def env():
    """The test's own time-skipping server: no earlier test's accounts run on it and no earlier test moved its clock,
    so a flow test passes in any order."""
    async with time_skipping_env() as env:
        yield env


@pytest.fixture
async def worker_queue(env, pool, sms_client, settings):
    """The test's worker, for the whole test: accounts it opened keep running while it skips time (the
    time-skipping server stops skipping while any workflow task waits for a worker)."""
    queue = "tests"
    async with build_worker(env.client, Settings(**{**settings.__dict__, "task_queue": queue}), pool, sms_client):
        yield queue


@pytest.fixture
def run_worker(env, pool, sms_client, settings, worker_queue):
    """`async with run_worker() as task_queue:` gives the test's worker's queue; with a client, a task queue or
    worker options it runs a worker of its own for the duration of the block."""

    @asynccontextmanager
    async def start(client=None, task_queue: str | None = None, **worker_options):
        if client is None and task_queue is None and not worker_options:
            yield worker_queue
            return
        queue = task_queue or f"test-{uuid.uuid4().hex[:8]}"
        worker_settings = Settings(**{**settings.__dict__, "task_queue": queue})
        async with build_worker(client or env.client, worker_settings, pool, sms_client, **worker_options):
            yield queue

    return start


def make_account(
    due: date,
    account_id: str | None = None,
    *,
    policy: str = "consumer_loan",
    amount_minor: int = 250_000,
    time_zone: str = "Asia/Shanghai",
    currency: str = "CNY",
    locale: str = "zh",
    creditor: str = "Test Lender",
    **extra,
) -> AccountDocument:
    account_id = account_id or f"T{uuid.uuid4().hex[:10]}"
    # Numbers valid in China's plan, unique per account: mobiles 1300..., 1500..., a Shanghai landline 021 6...
    suffix = zlib.crc32(account_id.encode()) % 10_000_000
    return AccountDocument(
        account_id=account_id,
        debtor_name="Test Debtor",
        contact_points=[
            ContactPoint(kind="mobile", value=f"+8613{suffix:09d}"),
            ContactPoint(kind="home_phone", value=f"+86216{suffix:07d}"),
            ContactPoint(kind="email", value=f"{account_id.lower()}@example.com"),
            ContactPoint(kind="address", value="1 Test Road, Shanghai"),
            ContactPoint(kind="mobile", value=f"+8615{suffix:09d}", owner="contact", relation="spouse"),
        ],
        time_zone=time_zone,
        currency=currency,
        amount_due_minor=amount_minor,
        due_date=due,
        policy=policy,
        locale=locale,
        creditor=creditor,
        **extra,
    )


def channel_activities(pool, sms_client, settings: Settings) -> ChannelActivities:
    """The channel activities as the worker builds them, for tests that call them directly."""
    return ChannelActivities(
        pool,
        Templates.load(),
        LetterRenderer.load(settings.letterheads_file),
        sms_client,
        settings.twilio_from_number or "",
        Mailer.from_settings(settings),
    )


async def server_today(env, time_zone: str = "Asia/Shanghai") -> date:
    """Today in the debtor's zone by the test server's clock, which the test may have moved forward."""
    return (await env.get_current_time()).astimezone(ZoneInfo(time_zone)).date()


async def step_order(pool, account: AccountDocument, step_key: str) -> StepOrder:
    """The order the workflow would hand a channel activity, for an account whose row exists (as after opening)."""
    policy = load_policy(account.policy)
    await pool.execute(
        "INSERT INTO accounts (account_id, workflow_id, policy_ref, policy_digest, currency,"
        " amount_due_minor, outstanding_minor, due_date, segment, time_zone, status, document,"
        " opened_at) VALUES ($1, $2, $7, 'd', $3, $4, $4, $5, 's', $6, 'open', '{}', now())"
        " ON CONFLICT (account_id) DO NOTHING",
        account.account_id,
        account.workflow_id,
        account.currency,
        account.amount_due_minor,
        account.due_date,
        account.time_zone,
        policy.ref,
    )
    planned = next(p for p in ladder.plan(policy, account) if p.key == step_key)
    return build_step_order(
        policy,
        account,
        planned,
        ladder_life="life",
        workflow_id=account.workflow_id,
        run_id="run",
        outstanding_minor=account.amount_due_minor,
        taken_at=planned.due_at,
    )


@dataclass(frozen=True)
class ServedWorker:
    task_queue: str
    url: str  # its HTTP server: Twilio's webhooks, the partners' endpoints


@asynccontextmanager
async def serving_worker(env, settings: Settings):
    """A worker as `python worker.py` runs it (`worker.serving`), with its HTTP server, on the settings' queue."""
    with pytest.MonkeyPatch.context() as patch:
        # The env fixture registered them; the time-skipping server refuses to do it twice.
        patch.setattr(worker, "ensure_search_attributes", lambda *_: asyncio.sleep(0))
        async with worker.serving(env.client, settings) as (_, url):
            yield ServedWorker(settings.task_queue, url)


@pytest.fixture
def open_account(env, stack: ServedWorker):
    """Opens accounts on the test's served worker (`stack`)."""

    async def open_(account: AccountDocument) -> AccountDocument:
        await CollectionsClient(env.client, stack.task_queue).open(account)
        return account

    return open_


async def reach_the_debtor_on_dpd_44(env, account: AccountDocument) -> datetime:
    """Skips to 16:00 local on 44 dpd, when a collector reaches the debtor (who pays nothing); returns that moment.
    The 45 dpd pressure visit is then ordered 24 h later (domain §8)."""
    contact_at = local_datetime(account.due_date + timedelta(days=44), time(16), account.time_zone)
    await env.sleep(contact_at - await env.get_current_time())
    reached = ContactOutcome(
        outcome_id="O1", code="reached", source="collector", reported_by="agent7", occurred_at=contact_at
    )
    await CollectionsClient(env.client).signal(account.account_id, "contact_outcome", reached)
    return contact_at


async def run_cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """`collections ...` as a person types it (`python starter.py ...`), in the environment given on top of the
    test process's own, without blocking the loop a test's worker answers on."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "starter.py",
        *args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=timeout)
    return subprocess.CompletedProcess(args, process.returncode or 0, stdout.decode(), stderr.decode())
