"""A portfolio under each shipped rule set: random time zones and answers through 60 days of the ladder, and the
compliance report finds no breach (issue 4's 'done when')."""

from __future__ import annotations

import asyncio
import os
import random
import time
from datetime import timedelta

import pytest
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from client.setup import ensure_search_attributes
from dunning.outcomes import ContactOutcome
from dunning.policy import load_policy
from dunning.state import AccountRun
from infra import audit
from infra.config import Settings
from infra.temporal import local_binary
from tests.conftest import make_account, server_today
from tests.test_compliance_rules import ZONES
from worker import build_worker

ACCOUNTS = int(os.environ.get("COMPLIANCE_ACCOUNTS", "1000"))
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


@pytest.fixture
async def portfolio_env(pool, sms_client, settings):
    """A time-skipping server and worker of its own, its clock at the real now (as this proof has always run) and its
    worker on a queue of its own."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=local_binary("temporal-test-server")
    )
    await ensure_search_attributes(env.client, "default")
    async with build_worker(env.client, Settings(**{**settings.__dict__, "task_queue": "portfolio"}), pool, sms_client):
        yield env
    await env.shutdown()


@pytest.mark.portfolio
@pytest.mark.parametrize(
    "policy_name, currency, locale",
    [("consumer_loan", "CNY", "zh"), ("us_consumer_loan", "USD", "en"), ("b2b_receivables", "CNY", "zh")],
    ids=["cn_consumer", "us_reg_f", "cn_commercial"],
)
async def test_a_portfolio_through_60_days_breaks_no_contact_rule(
    portfolio_env, pool, portfolio_figures, request, policy_name, currency, locale
):
    env, queue, started = portfolio_env, "portfolio", time.monotonic()
    policy = load_policy(policy_name)
    rule_set = policy.contact_rules.name
    rng = random.Random(f"portfolio-{rule_set}")
    today = await server_today(env)
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
    await gather_bounded(
        env.client.start_workflow(
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
        await patient_sleep(env, timedelta(days=3, hours=rng.randint(0, 23)))
        answers, now = [], await env.get_current_time()
        for account in rng.sample(accounts, k=ACCOUNTS // 10):
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
