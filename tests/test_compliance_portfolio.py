"""A portfolio under each shipped rule set: random time zones and answers through 60 days of the ladder, and the
compliance report finds no breach (issue 4's 'done when')."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest

from dunning.account import workflow_id
from dunning.channels import ThirdParties
from dunning.outcomes import ContactOutcome
from dunning.policy import load_policy
from dunning.state import AccountRun
from dunning.statements import StatementConfirmed
from infra import audit
from infra.config import Settings
from simulation.shards import SHARD_ACCOUNTS, Shards, gather_bounded, sharded, vendor_standins
from tests.conftest import make_account, server_today
from tests.test_compliance_rules import ZONES

ACCOUNTS = int(os.environ.get("COMPLIANCE_ACCOUNTS", "1000"))
ANSWERS = ["no_answer", "busy", "line_dead", "reached", "unable_to_pay", "unwilling_to_pay", "wrong_number"]


@pytest.fixture
async def vendor_settings(settings) -> AsyncIterator[Settings]:
    """Settings whose Twilio and mail relay are stand-ins in processes of their own (simulation.shards)."""
    async with vendor_standins(replace(settings, task_queue="portfolio")) as with_vendors:
        yield with_vendors


@pytest.fixture
async def portfolio_shards(pool, vendor_settings) -> AsyncIterator[Shards]:
    """Time-skipping servers for ACCOUNTS accounts, SHARD_ACCOUNTS each, each with a worker of its own in this
    process (simulation.shards says why)."""
    async with sharded(ACCOUNTS, vendor_settings, pool) as shards:
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
    servers = portfolio_shards.servers
    today = await server_today(servers[0])  # the servers started at the real now, seconds apart
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
        servers[shard[account.account_id]].client.start_workflow(
            "AccountWorkflow",
            AccountRun(account=account, policy=policy),
            id=account.workflow_id,
            task_queue=queue,
            start_signal="account_document_received",
            start_signal_args=[account],
        )
        for account in accounts
    )
    ids = [a.account_id for a in accounts]
    never = set(rng.sample(ids, k=ACCOUNTS // 20))  # B2B customers who never confirm a statement
    for day in range(0, 60, 3):
        await portfolio_shards.advance(timedelta(days=3, hours=rng.randint(0, 23)))
        answers, nows = [], await asyncio.gather(*(env.get_current_time() for env in servers))
        sample = rng.sample(accounts, k=ACCOUNTS // 10)
        sheets = await dialable(pool, [a.account_id for a in sample])
        for account in sample:
            env, now = servers[shard[account.account_id]], nows[shard[account.account_id]]
            # The dialer dials what the call sheets hold (contact persons only where the guard put them); an answer
            # may also come by e-mail.
            email = [p.value for p in account.contact_points if p.kind == "email"]
            point = rng.choice(sheets.get(account.account_id) or [account.points("mobile")[0].value] + email)
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
        if policy.statements:  # most customers confirm a statement within days; one in twenty never do
            confirming = [(m, a) for m, a in await unconfirmed(pool, ids) if a not in never and rng.random() < 0.8]
            await gather_bounded(
                servers[shard[account_id]]
                .client.get_workflow_handle(workflow_id(account_id))
                .signal(
                    "statement_confirmed",
                    StatementConfirmed(
                        month=month,
                        confirmed_by="billing",
                        confirmed_at=nows[shard[account_id]],
                    ),
                )
                for month, account_id in confirming
            )

    first, last = today - timedelta(days=21), today + timedelta(days=66)
    counts, breaches = await audit.compliance_report(pool, first, last)
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
    third_party = dict(
        await pool.fetch(
            "SELECT verdict, count(*) FROM third_party_checks WHERE account_id = ANY($1) GROUP BY verdict", ids
        )
    )
    if any(stage.third_parties is not ThirdParties.none for stage in policy.stages):  # the guard judged contacts
        assert third_party.get("allowed", 0) > 0 and third_party.get("withheld", 0) > 0, third_party
    if policy.statements:  # every customer had a statement; unconfirmed ones went to the supervisor
        statements = await pool.fetchrow(
            "SELECT count(DISTINCT account_id) AS customers, count(confirmed_at) AS confirmed,"
            " count(escalated_at) AS escalated FROM statements WHERE account_id = ANY($1)",
            ids,
        )
        assert statements["customers"] == ACCOUNTS and statements["confirmed"] > 0 and statements["escalated"] > 0
    portfolio_figures.append(
        f"portfolio {request.node.callspec.id}: {ACCOUNTS} accounts, {verdicts['allowed']} contacts,"
        f" contact persons {third_party.get('allowed', 0)} allowed / {third_party.get('withheld', 0)} withheld,"
        f" {time.monotonic() - started:.0f} s"
    )


async def unconfirmed(pool, account_ids: list[str]) -> list[tuple[str, str]]:
    """The (month, account) of each statement sent and not confirmed yet."""
    rows = await pool.fetch(
        "SELECT month, account_id FROM statements WHERE account_id = ANY($1) AND confirmed_at IS NULL"
        " ORDER BY account_id, month",
        account_ids,
    )
    return [(r["month"], r["account_id"]) for r in rows]


async def dialable(pool, account_ids: list[str]) -> dict[str, list[str]]:
    """Per account, the phones of its latest call task a dialer may ring: its phone order less the contact persons'
    phones the guard took off."""
    rows = await pool.fetch(
        "SELECT DISTINCT ON (account_id) account_id, phone_order FROM call_tasks WHERE account_id = ANY($1)"
        " ORDER BY account_id, due_from DESC",
        account_ids,
    )
    return {
        row["account_id"]: [p["number"] for p in json.loads(row["phone_order"]) if "withheld" not in p] for row in rows
    }
