"""`make run`: the whole stack on this machine, then a sample portfolio walking its ladders.

Starts what is not configured: the Temporal dev server with its Web UI (no Temporal address in the environment or a
TOML profile), an embedded PostgreSQL (DATABASE_URL unset), the Twilio stand-in (Twilio credentials unset); then the
worker, then the accounts of sample_data/portfolio.csv dated relative to today. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import secrets
import subprocess
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
from temporalio.client import Client
from temporalio.runtime import Runtime

from client import CollectionsClient, inputs
from client.setup import (
    dev_server_flags,
    ensure_letter_batch_schedule,
    ensure_report_schedule,
    ensure_retention_schedule,
)
from dunning.account import AccountDocument, Clock, DemoClock
from dunning.money import to_major
from dunning.operators import load_roles
from inbound.codec import CODEC_PATH
from inbound.reports import LOGIN_PATH, REPORTS_PATH
from infra import db, operators
from infra.config import LOCAL_KEY_RING, Settings, temporal_profile
from infra.logging import configure
from infra.sealing import new_ring, write_ring
from infra.stack_clock import CLOCK_FILE, read_stack_clock, write_stack_clock
from infra.temporal import connect, local_binary
from infra.twilio_sms import INBOUND_SMS_PATH
from standins.smtp_server import SmtpStandIn
from standins.twilio_api import TwilioStandIn
from worker import metrics_runtime, serving, stop_requested

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
TEMPORAL_STATE = RUN_DIR / "temporal.db"  # the dev server's SQLite file
PORTFOLIO = ROOT / "sample_data" / "portfolio.csv"
DEMO_OPERATOR = "demo"  # signs in to the strategy report
UI_PORT = 8233
STANDIN_SID = "AC" + "d" * 32
STANDIN_TOKEN = "demo-auth-token"
STANDIN_FROM = "+15005550006"


def dated_portfolio(today: date, source: Path = PORTFOLIO, target_dir: Path = RUN_DIR) -> Path:
    """Writes the sample portfolio for `collections accounts import`, due dates set from its days_past_due column."""
    target = target_dir / f"portfolio-{today.isoformat()}.csv"
    with source.open(newline="", encoding="utf-8") as src, target.open("w", newline="", encoding="utf-8") as out:
        reader = csv.DictReader(src)
        fields = [("due_date" if f == "days_past_due" else f) for f in reader.fieldnames or []]
        writer = csv.DictWriter(out, fieldnames=fields)
        writer.writeheader()
        for row in reader:
            row["due_date"] = (today - timedelta(days=int(row.pop("days_past_due")))).isoformat()
            writer.writerow(row)
    return target


def start_dev_server(
    codec_endpoint: str, state_file: Path = TEMPORAL_STATE, port: int = 7233, ui_port: int = UI_PORT
) -> subprocess.Popen:
    """The dev server with its Web UI, keeping its state (every workflow, timer and schedule) in `state_file`; its
    log beside that file."""
    return subprocess.Popen(
        [
            local_binary("temporal"),
            "server",
            "start-dev",
            "--db-filename",
            str(state_file),
            "--port",
            str(port),
            "--ui-port",
            str(ui_port),
            "--ui-codec-endpoint",
            codec_endpoint,
            "--log-level",
            "warn",
            *dev_server_flags(),
        ],
        stdout=state_file.with_suffix(".log").open("a"),
        stderr=subprocess.STDOUT,
        # Its own session: Ctrl-C reaches only us, and we stop the server after the worker has drained.
        start_new_session=True,
    )


async def wait_for_temporal(
    settings: Settings, process: subprocess.Popen | None, runtime: Runtime | None = None
) -> Client:
    for _ in range(120):
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the Temporal dev server exited; see {TEMPORAL_STATE.with_suffix('.log')}")
        try:
            return await connect(settings, runtime)
        except RuntimeError:
            await asyncio.sleep(0.5)
    raise SystemExit(f"Temporal at {settings.temporal_address} did not answer within 60 s")


def forget_local_state() -> None:
    """`make run FRESH=1`: the dev server's state and the demo clock go (the database is replaced on start)."""
    for path in (TEMPORAL_STATE, *TEMPORAL_STATE.parent.glob(f"{TEMPORAL_STATE.name}-*"), CLOCK_FILE):
        path.unlink(missing_ok=True)


async def main(day_seconds: float | None, fresh: bool = False) -> None:
    RUN_DIR.mkdir(exist_ok=True)
    settings = Settings.from_env()
    configure(settings.log_format)
    started: list[str] = []
    if fresh:
        forget_local_state()

    # Kept across starts, as Temporal's state is, so every account resumes where it was.
    database_url = settings.database_url or await db.create_database(
        db.embedded_database_url(RUN_DIR / "postgres"), "collections", replace=fresh, keep=True
    )
    started += [] if settings.database_url else ["embedded PostgreSQL (data in .run/postgres)"]

    standin = None
    if not settings.twilio_account_sid:
        standin = TwilioStandIn(STANDIN_SID, STANDIN_TOKEN)
        await standin.start()
        started.append(f"Twilio stand-in at {standin.base_url}")
    smtp = None
    if "SMTP_HOST" not in os.environ:
        smtp = SmtpStandIn()
        await smtp.start()
        started.append(f"SMTP stand-in at {smtp.host}:{smtp.port} (e-mails are kept in memory)")
    settings = Settings(
        **{
            **settings.__dict__,
            **({"smtp_host": smtp.host, "smtp_port": smtp.port} if smtp else {}),
            "database_url": database_url,
            "twilio_account_sid": settings.twilio_account_sid or STANDIN_SID,
            "twilio_auth_token": settings.twilio_auth_token or STANDIN_TOKEN,
            "twilio_from_number": settings.twilio_from_number or STANDIN_FROM,
            "twilio_api_base": standin.base_url if standin else settings.twilio_api_base,
        }
    )

    if settings.payload_keys is None and settings.payload_keys_file is None:
        write_ring(new_ring("local-1"), LOCAL_KEY_RING)
        settings = replace(settings, payload_keys_file=LOCAL_KEY_RING)
        started.append(f"a new payload key ring in {LOCAL_KEY_RING.relative_to(ROOT)}")
    # The UI (http://localhost:8233) calls the codec server by the same host name, so the browser sends it the
    # session cookie of a sign-in there: a cookie of 127.0.0.1 is another site's to a page of localhost.
    codec_url = settings.public_base_url or f"http://localhost:{settings.inbound_http_port}"
    server = None if temporal_profile().address else start_dev_server(f"{codec_url}{CODEC_PATH}")
    try:
        client = await wait_for_temporal(settings, server, metrics_runtime(settings))
        if settings.metrics_address:
            started.append(f"the worker's metrics for Prometheus at http://{settings.metrics_address}/metrics")
        if server:
            started.append(
                f"Temporal dev server on {settings.temporal_address}, Web UI http://localhost:{UI_PORT}"
                f" (state in {TEMPORAL_STATE.relative_to(ROOT)})"
            )
        stop = stop_requested()
        resumed = await accounts_on_file(database_url)
        if server:
            await refuse_a_lost_temporal_state(client, database_url)
        clock, note = stack_clock(day_seconds, fresh_system=resumed == 0)
        started += [note] if note else []
        inputs.follow(clock)  # the sample debtors' answers are dated on the stack's days too
        now = Clock(clock).business(datetime.now(UTC))
        # In the demo a business day passes every DAY_SECONDS, and the print vendor's batch and the report with it.
        every = timedelta(seconds=clock.day_seconds) if clock else None
        await ensure_letter_batch_schedule(client, settings, every)
        await ensure_report_schedule(client, settings, every, clock)
        await ensure_retention_schedule(client, settings, every, clock)
        started.append(f"print vendor's letter batches in {settings.letter_drop_dir.relative_to(ROOT)}")
        # The calendars' warning looks ahead from the stack's day, which a demo clock may have moved on.
        async with serving(client, settings, now.date()) as (_, webhooks_url):
            started.append(f"Twilio webhooks (status callbacks, replies) at {webhooks_url}")
            password = secrets.token_urlsafe(12)
            pool = await db.create_pool(database_url, max_size=1)
            try:
                # A new password each start; the demo's operator holds every role and sees every creditor.
                await operators.add_operator(pool, DEMO_OPERATOR, password, roles=list(load_roles().roles))
            finally:
                await pool.close()
            pace = "every business day" if clock else f"daily at {settings.report_at}"
            started.append(
                f"strategy report at {webhooks_url}{REPORTS_PATH} (operator {DEMO_OPERATOR}, password {password}),"
                f" written {pace}"
            )
            started.append(
                f"codec server at {codec_url}{CODEC_PATH}: the Web UI shows sealed payloads opened once you sign in at"
                f" {codec_url}{LOGIN_PATH} and, in the UI's codec settings, use the browser's setting with"
                ' "Include cross-origin credentials"'
            )
            if standin:  # texts from the sample debtors' handsets reach the worker as Twilio's would
                standin.sms_url = webhooks_url + INBOUND_SMS_PATH
            collections = CollectionsClient(client, settings.task_queue, clock)
            if resumed:
                opened = f"{resumed} accounts resumed where they were (make run FRESH=1 starts afresh)"
                answered = []
            else:  # the sample portfolio goes into an empty system only
                portfolio = dated_portfolio(now.date())
                documents = inputs.parse_csv(portfolio)
                await collections.open_many(documents)
                answered = await debtors_answer(collections, documents, now.date())
                opened = f"{len(documents)} sample accounts opened from {portfolio.relative_to(ROOT)}"
            _print_banner(started, opened, clock, answered, database_url)
            await stop.wait()
    finally:
        if standin:
            await standin.stop()
        if smtp:
            await smtp.stop()
        if server:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    print("stopped everything make run started")


async def accounts_on_file(database_url: str, status: str | None = None) -> int:
    """How many accounts the database holds, of the status if given (none before its first migration)."""
    connection = await asyncpg.connect(database_url)
    try:
        if not await connection.fetchval("SELECT to_regclass('accounts') IS NOT NULL"):
            return 0
        return int(await connection.fetchval("SELECT count(*) FROM accounts WHERE status = $1 OR $1 IS NULL", status))
    finally:
        await connection.close()


async def refuse_a_lost_temporal_state(client: Client, database_url: str) -> None:
    """Open accounts on file that Temporal does not run (closed ones may be gone, past the namespace's retention):
    resuming would leave them without their ladders, and loading the samples would mix two books."""
    running = await client.count_workflows("WorkflowType = 'AccountWorkflow' AND ExecutionStatus = 'Running'")
    if running.count == 0 and await accounts_on_file(database_url, "open"):
        raise SystemExit(
            f"the database holds open accounts, but Temporal's state ({TEMPORAL_STATE.relative_to(ROOT)}) runs none"
            " of them: it was removed, or kept by a make run older than this one. make run FRESH=1 starts afresh"
        )


def stack_clock(day_seconds: float | None, fresh_system: bool) -> tuple[DemoClock | None, str]:
    """The stack's clock: chosen when the system is empty (DAY_SECONDS, or real days), then kept with its state, for
    its accounts are pinned to it; returns it and a note when DAY_SECONDS asked for another."""
    kept = read_stack_clock(CLOCK_FILE)
    if fresh_system:
        now = datetime.now(UTC)
        kept = DemoClock(day_seconds=day_seconds, anchor_real=now, anchor_business=now) if day_seconds else None
        write_stack_clock(kept, CLOCK_FILE)
        return kept, ""
    if (kept.day_seconds if kept else None) != day_seconds:
        pace = f"one business day every {kept.day_seconds:g} s" if kept else "real days"
        return kept, f"kept the stack's clock, {pace}, which its accounts run on (make run FRESH=1 to change it)"
    return kept, ""


async def debtors_answer(collections: CollectionsClient, documents: list[AccountDocument], today: date) -> list[str]:
    """Some sample debtors answer back at once, so the demo shows a promise, an unanswered call and a fraud
    claim at work; returns what each did, for the banner."""
    early = [d for d in documents if d.product == "consumer_loan" and 1 <= (today - d.due_date).days <= 17]
    answers = (
        [
            (
                "promise_made",
                inputs.parse_promise(
                    "DEMO-PTP",
                    str(to_major(d.amount_due_minor, d.currency)),
                    d.currency,
                    (today + timedelta(days=3)).isoformat(),
                    None,
                    "call",
                    "demo-collector",
                ),
                "promised to pay in full in 3 days",
            )
            for d in early[:1]
        ]
        + [
            (
                "contact_outcome",
                inputs.parse_outcome("DEMO-NA", "no_answer", "dialer", "demo-dialer", d.points("mobile")[0].value, ""),
                "did not answer the dialer",
            )
            for d in early[1:2]
        ]
        + [
            (
                "fraud_claimed",
                inputs.parse_fraud_claim("DEMO-F", "says they never applied", "demo-collector"),
                "claims they never applied: contact stopped",
            )
            for d in early[2:3]
        ]
    )
    for document, (signal, payload, _) in zip(early, answers):
        await collections.signal(document.account_id, signal, payload)
    return [f"{document.account_id} {what}" for document, (_, _, what) in zip(early, answers)]


def _print_banner(
    started: list[str], opened: str, clock: DemoClock | None, answered: list[str], database_url: str
) -> None:
    pace = (
        f"one business day every {clock.day_seconds:g} s, kept in {CLOCK_FILE.relative_to(ROOT)} (it runs on while"
        " the stack is stopped)"
        if clock
        else "real days (make run FRESH=1 DAY_SECONDS=5 to speed up)"
    )
    lines = [
        "",
        "Collections orchestrator is running.",
        *[f"  - {item}" for item in started],
        f"  - worker on task queue 'collections'; {opened}",
        f"  - clock: {pace}",
        *[f"  - {answer}" for answer in answered],
        "",
        f"Look: http://localhost:{UI_PORT}/namespaces/default/workflows",
        '  filter e.g.  Stage = "18-29" AND Outstanding > 5000     or     Policy = "b2b_receivables"',
        '               Segment = "high_risk"     or     Strategy = "consumer_plan_offer@v1/plan_offer"',
        "Try:  .venv/bin/collections accounts status DEMO1005",
        "      .venv/bin/collections payments pay DEMO1005 --amount 100 --payment-id P1",
        "      .venv/bin/collections contacts outcome DEMO1005 --id O1 --code unable_to_pay --source collector"
        " --reported-by me",
        f"      DATABASE_URL='{database_url}' .venv/bin/collections accounts audit DEMO1003",
        "Ctrl-C stops everything; make run again resumes it, make run FRESH=1 starts afresh.",
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--day-seconds", type=float, help="demo clock: one business day lasts this many seconds")
    parser.add_argument("--fresh", action="store_true", help="forget the accounts, the clock and Temporal's state")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.day_seconds, arguments.fresh))
