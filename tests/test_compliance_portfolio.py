"""A portfolio under each shipped rule set: random time zones and answers through 60 days of the ladder, and the
compliance report finds no breach (issue 4's 'done when')."""

from __future__ import annotations

import asyncio
import math
import os
import random
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta

import pytest
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from client.setup import ensure_search_attributes
from dunning.outcomes import ContactOutcome
from dunning.policy import load_policy
from dunning.state import AccountRun
from infra import audit, twilio_sms
from infra.config import Settings
from infra.temporal import local_binary
from tests.conftest import make_account, server_today
from tests.test_compliance_rules import ZONES
from worker import build_worker

ACCOUNTS = int(os.environ.get("COMPLIANCE_ACCOUNTS", "1000"))
SHARD_ACCOUNTS = 125  # accounts per time-skipping server (see portfolio_shards)
ANSWERS = ["no_answer", "busy", "line_dead", "reached", "unable_to_pay", "unwilling_to_pay", "wrong_number"]


async def patient_sleep(env, duration: timedelta) -> None:
    """`env.sleep` with a deadline a thousand busy accounts can meet (the SDK's default is 30 seconds)."""
    request = SleepRequest()
    request.duration.FromTimedelta(duration)
    await env.client.test_service.unlock_time_skipping_with_sleep(request, timeout=timedelta(minutes=15))


async def gather_bounded(calls, limit: int = 8) -> None:
    slots = asyncio.Semaphore(limit)

    async def one(call):
        async with slots:
            await call

    await asyncio.gather(*(one(call) for call in calls))


async def _vendor(module: str, *args: str) -> tuple[asyncio.subprocess.Process, str]:
    """A stand-in started as its own program, and the first line it prints (where it listens)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", module, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    assert process.stdout is not None
    return process, (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode().strip()


@pytest.fixture
async def vendor_settings(settings) -> AsyncIterator[Settings]:
    """Settings whose Twilio and mail relay are stand-ins in processes of their own, as the real ones are on other
    hosts: tens of thousands of texts and mails would otherwise take the worker's own CPU."""
    credentials = ("--account-sid", settings.twilio_account_sid, "--auth-token", settings.twilio_auth_token)
    twilio, twilio_line = await _vendor("standins.twilio_api", "--port", "0", *credentials)
    smtp, smtp_line = await _vendor("standins.smtp_server", "--port", "0")
    smtp_host, smtp_port = smtp_line.rsplit(" ", 1)[1].rsplit(":", 1)
    yield Settings(
        **{
            **settings.__dict__,
            "task_queue": "portfolio",
            "twilio_api_base": twilio_line.removeprefix("TWILIO_API_BASE="),
            "smtp_host": smtp_host,
            "smtp_port": int(smtp_port),
        }
    )
    for process in (twilio, smtp):
        process.terminate()
        await process.wait()


@pytest.fixture
async def portfolio_shards(pool, vendor_settings) -> AsyncIterator[list[WorkflowEnvironment]]:
    """Time-skipping servers for ACCOUNTS accounts, SHARD_ACCOUNTS each, each with a worker of its own in this
    process. One server would do, but the Java test server keeps every time-skipping lock and unlock it has seen in
    a list that it scans each time a timer fires (`SelfAdvancingTimerImpl.lockEvents`), so a server's time grows
    with the square of its work: the consumer portfolio took 14 minutes on one server, 5 on eight. Contact rules hold
    per account, so what the proof checks is the same."""
    sms_client = twilio_sms.make_client(vendor_settings)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(sms_client.http_client.close)
        shards = []
        for _ in range(math.ceil(ACCOUNTS / SHARD_ACCOUNTS)):
            env = await WorkflowEnvironment.start_time_skipping(
                data_converter=pydantic_data_converter, test_server_existing_path=local_binary("temporal-test-server")
            )
            stack.push_async_callback(env.shutdown)
            await ensure_search_attributes(env.client, "default")
            await stack.enter_async_context(build_worker(env.client, vendor_settings, pool, sms_client))
            shards.append(env)
        yield shards


@pytest.mark.portfolio
@pytest.mark.parametrize(
    "policy_name, currency, locale",
    [("consumer_loan", "CNY", "zh"), ("us_consumer_loan", "USD", "en"), ("b2b_receivables", "CNY", "zh")],
    ids=["cn_consumer", "us_reg_f", "cn_commercial"],
)
async def test_a_portfolio_through_60_days_breaks_no_contact_rule(
    portfolio_shards, pool, portfolio_figures, request, policy_name, currency, locale
):
    queue, started = "portfolio", time.monotonic()
    policy = load_policy(policy_name)
    rule_set = policy.contact_rules.name
    rng = random.Random(f"portfolio-{rule_set}")
    today = await server_today(portfolio_shards[0])  # the servers started at the real now, seconds apart
    prefix = rule_set.replace("_", "").upper()  # accounts of one portfolio only
    accounts = [
        make_account(
            due=today - timedelta(days=rng.randint(0, 20)),
            account_id=f"{prefix}{i:05d}",
            policy=policy_name,
            time_zone=rng.choice(ZONES),
            currency=currency,
            locale=locale,
        )
        for i in range(ACCOUNTS)
    ]
    shard = {a.account_id: i // SHARD_ACCOUNTS for i, a in enumerate(accounts)}
    await gather_bounded(
        portfolio_shards[shard[account.account_id]].client.start_workflow(
            "AccountWorkflow",
            AccountRun(account=account, policy=policy),
            id=account.workflow_id,
            task_queue=queue,
            start_signal="account_document_received",
            start_signal_args=[account],
        )
        for account in accounts
    )
    for day in range(0, 60, 3):
        step = timedelta(days=3, hours=rng.randint(0, 23))
        await asyncio.gather(*(patient_sleep(env, step) for env in portfolio_shards))
        answers, nows = [], await asyncio.gather(*(env.get_current_time() for env in portfolio_shards))
        for account in rng.sample(accounts, k=ACCOUNTS // 10):
            env, now = portfolio_shards[shard[account.account_id]], nows[shard[account.account_id]]
            point = rng.choice([p.value for p in account.contact_points if p.kind != "address"])
            answers.append(
                env.client.get_workflow_handle(account.workflow_id).signal(
                    "contact_outcome",
                    ContactOutcome(
                        outcome_id=f"O{day}-{account.account_id}",
                        code=rng.choice(ANSWERS),
                        source="dialer",
                        reported_by="dialer-1",
                        contact_point=None if "@" in point else point,
                        occurred_at=now,
                    ),
                )
            )
        await gather_bounded(answers)

    first, last = today - timedelta(days=21), today + timedelta(days=66)
    counts, breaches = await audit.compliance_report(pool, first, last)
    ids = [a.account_id for a in accounts]
    assert [b for b in breaches if b.split(":")[0] in ids] == []
    assert len({line.split()[0] for line in counts} & set(ids)) == ACCOUNTS
    verdicts = dict(
        await pool.fetch(
            "SELECT verdict, count(*) FROM contact_checks WHERE account_id = ANY($1) GROUP BY verdict", ids
        )
    )
    assert verdicts["allowed"] > ACCOUNTS * 5 and verdicts["deferred"] > 0  # it ran, and the guard had work
    if policy.follow_up:  # collectors followed cases up between the stage call tasks; those days count too
        follow_ups = await pool.fetchval(
            "SELECT count(*) FROM follow_ups WHERE account_id = ANY($1) AND status = 'planned'", ids
        )
        assert follow_ups > ACCOUNTS * 3
    if policy.validation_notice:  # each account's first communication was its validation notice
        firsts = await pool.fetch(
            "SELECT DISTINCT ON (account_id) step_id FROM action_log WHERE account_id = ANY($1)"
            " AND channel IN ('sms', 'email', 'call', 'letter') ORDER BY account_id, taken_at,"
            " recorded_at",
            ids,
        )
        assert {r["step_id"] for r in firsts} == {policy.validation_notice.id} and len(firsts) == ACCOUNTS
    portfolio_figures.append(
        f"portfolio {request.node.callspec.id}: {ACCOUNTS} accounts, {verdicts['allowed']} contacts,"
        f" {time.monotonic() - started:.0f} s"
    )
