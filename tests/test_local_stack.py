"""`make run` keeps its accounts: the dev server keeps its state in a file, so a stack stopped in the middle of a
ladder and started again resumes every account where it was, on the stack's demo clock, taking no step twice. And
under the demo clock every surface follows it: an account a person opens, promises and pays on through the CLI moves
on the same compressed days as the samples."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cli import devstack
from cli.devstack import start_dev_server, wait_for_temporal
from client import CollectionsClient
from dunning.account import Clock, DemoClock, local_date
from infra import db
from infra.stack_clock import write_stack_clock
from tests.conftest import make_account, run_cli
from worker import build_worker

DAY_SECONDS = 2.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=20)


async def steps_done(pool, account_id: str, dpd: bool = True) -> list[str]:
    rows = await pool.fetch(
        "SELECT step_id, dpd FROM action_log WHERE account_id = $1 AND result = 'done' ORDER BY due_at", account_id
    )
    return [f"{row['step_id']}@{row['dpd']}" if dpd else row["step_id"] for row in rows]


async def until_steps(pool, account_id: str, more_than: int, seconds: float = 60) -> list[str]:
    for _ in range(int(seconds * 4)):
        if len(done := await steps_done(pool, account_id)) > more_than:
            return done
        await asyncio.sleep(0.25)
    raise AssertionError(f"no step beyond {more_than} within {seconds} s")


async def test_a_stack_stopped_mid_ladder_resumes_its_account_and_takes_no_step_twice(
    tmp_path, pool, sms_client, settings, twilio
):
    state, port = tmp_path / "temporal.db", free_port()
    now = datetime.now(UTC)
    clock = DemoClock(day_seconds=DAY_SECONDS, anchor_real=now, anchor_business=now)
    account = make_account(due=local_date(now, "Asia/Shanghai") - timedelta(days=2))
    served = replace(settings, temporal_address=f"127.0.0.1:{port}", task_queue="local-stack")

    async def stack_running():
        server = start_dev_server("http://127.0.0.1:9/codec", state, port=port, ui_port=free_port())
        try:
            return server, await wait_for_temporal(served, server)
        except BaseException:
            stop(server)
            raise

    server, client = await stack_running()
    try:
        async with build_worker(client, served, pool, sms_client):
            await CollectionsClient(client, served.task_queue, clock).open(account)
            before = await until_steps(pool, account.account_id, more_than=1)
    finally:
        stop(server)
    stopped_at = Clock(clock).business(datetime.now(UTC))

    server, client = await stack_running()  # the same state file: the account is still there, its timers too
    try:
        async with build_worker(client, served, pool, sms_client):
            after = await until_steps(pool, account.account_id, more_than=len(before) + 1)
            described = await client.get_workflow_handle(account.workflow_id).describe()
    finally:
        stop(server)

    assert after[: len(before)] == before and len(set(after)) == len(after), after
    assert described.status is not None and described.status.name == "RUNNING"
    # Every text Twilio took is one action's, and each action's text went once, across the restart too.
    texts = sorted(m["sid"] for m in twilio.messages if m["to"] == account.points("mobile")[0].value)
    sent = await pool.fetch("SELECT twilio_sid FROM sms_messages WHERE account_id = $1", account.account_id)
    assert len(texts) >= 2 and texts == sorted(row["twilio_sid"] for row in sent)
    # Business time ran on while the stack was stopped, as real days do.
    assert Clock(clock).business(datetime.now(UTC)) > stopped_at


async def promise_ended(pool, account_id: str) -> str | None:
    return await pool.fetchval(
        "SELECT status FROM commitments WHERE account_id = $1 AND commitment_id = 'PTP1' AND status <> 'open'",
        account_id,
    )


async def cli(*args: str, env: dict[str, str]) -> dict | str:
    """`collections ...` as a person types it beside the stack."""
    result = await run_cli(*args, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    return json.loads(text) if "--json" in args else text


async def test_on_the_demo_clock_an_account_opened_promised_and_paid_through_the_cli_fails_its_promise_in_demo_time(
    tmp_path, pool, sms_client, settings
):
    port, day_seconds = free_port(), 6.0  # slow enough for a command typed in to land on the day it means
    now = datetime.now(UTC)
    clock = DemoClock(day_seconds=day_seconds, anchor_real=now, anchor_business=now)
    write_stack_clock(clock, tmp_path / "demo-clock.json")
    served = replace(settings, temporal_address=f"127.0.0.1:{port}", task_queue="demo-clock-cli")
    env = {
        "TEMPORAL_ADDRESS": served.temporal_address,
        "TASK_QUEUE": served.task_queue,
        "DEMO_CLOCK_FILE": str(tmp_path / "demo-clock.json"),
    }
    account = make_account(due=local_date(now, "Asia/Shanghai") - timedelta(days=8))
    document = tmp_path / "account.json"
    document.write_text(account.model_dump_json())

    server = start_dev_server("http://127.0.0.1:9/codec", tmp_path / "temporal.db", port=port, ui_port=free_port())
    try:
        client = await wait_for_temporal(served, server)
        async with build_worker(client, served, pool, sms_client):
            await cli("accounts", "open", str(document), env=env)
            # The day after tomorrow as the stack's calendar has it now, as a collector reads it off the account.
            today = local_date(Clock(clock).business(datetime.now(UTC)), "Asia/Shanghai")
            promised_for = (today + timedelta(days=2)).isoformat()
            promise = ("--id", "PTP1", "--amount", "2500", "--date", promised_for, "--channel", "call")
            await cli("promises", "make", account.account_id, *promise, "--taken-by", "agent-7", env=env)
            await cli("payments", "pay", account.account_id, "--amount", "500", "--payment-id", "PART1", env=env)
            # Then silence: the promised day and its two working days of grace pass in demo seconds.
            for _ in range(int(12 * day_seconds / 0.25)):
                ended = await promise_ended(pool, account.account_id)
                if ended and "broken_promise_sms" in await steps_done(pool, account.account_id, dpd=False):
                    break
                await asyncio.sleep(0.25)
            view = await cli("accounts", "status", account.account_id, "--json", env=env)
    finally:
        stop(server)

    # A part payment does not keep a promise: it ends kept only in part, and the broken-promise treatment starts.
    assert ended == "kept_in_part" and view["commitment"] is None
    assert "broken_promise_sms" in await steps_done(pool, account.account_id, dpd=False)
    assert view["outstanding_minor"] == 250_000 - 50_000
    assert view["dpd"] > 8  # the account moved on the stack's days, not on wall time


async def test_make_run_refuses_a_database_whose_open_accounts_temporal_does_not_run(dev_env, database_url):
    """Temporal's state removed (or kept by an older make run) while the database kept its accounts: starting would
    resume nothing and leave them without ladders, so make run says so and how to start afresh."""
    name = f"collections_lost_{uuid.uuid4().hex[:8]}"
    url = await db.create_database(database_url, name)
    pool = await db.create_pool(url, max_size=1)
    try:
        await db.migrate(pool)
        await devstack.refuse_a_lost_temporal_state(dev_env.client, url)  # an empty system starts
        await pool.execute(
            "INSERT INTO accounts (account_id, workflow_id, policy_ref, policy_digest, currency, amount_due_minor,"
            " outstanding_minor, due_date, segment, time_zone, status, document, opened_at)"
            " VALUES ('LOST-1', 'account-LOST-1', 'consumer_loan@v7', '', 'CNY', 100, 100, '2026-11-01', 'standard',"
            " 'Asia/Shanghai', 'open', '{}', now())"
        )
        with pytest.raises(SystemExit, match="make run FRESH=1 starts afresh"):
            await devstack.refuse_a_lost_temporal_state(dev_env.client, url)
    finally:
        await pool.close()
        await db.drop_database(database_url, name)
