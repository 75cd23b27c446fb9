"""The evidence read back: an account's trail, and a compliance report that finds a planted breach."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from dunning.channels import Channel
from dunning.compliance import ContactMade, breaches, load_rules
from infra import audit
from tests.conftest import ROOT, make_account, step_order

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def plant(
    pool,
    account,
    step_key: str,
    at: datetime,
    verdict: str = "allowed",
    channel: str = "call",
    attempts: int = 1,
    rule: str = "allowed",
) -> None:
    order = await step_order(pool, account, step_key)
    await pool.execute(
        "INSERT INTO contact_checks (account_id, action_key, step_id, channel, rule_set, verdict, rule, evaluated_at,"
        " local_time, attempts) VALUES ($1, $2, $3, $4, 'cn_consumer', $5, $6, $7, $8, $9)",
        account.account_id,
        f"{order.action_key}:{at.isoformat()}",
        order.planned.step_id,
        channel,
        verdict,
        rule,
        at,
        f"{at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} Asia/Shanghai",
        attempts,
    )


async def test_the_trail_lists_every_attempt_with_its_verdict_and_rule(pool):
    account = make_account(due=date(2026, 5, 1))
    await plant(pool, account, "call_task@6", datetime(2026, 5, 7, 2, tzinfo=SHANGHAI), "deferred", rule="window:call")
    await plant(pool, account, "call_task@6", datetime(2026, 5, 7, 9, tzinfo=SHANGHAI))
    lines = await audit.trail(pool, account.account_id)
    assert len(lines) == 2
    assert lines[0].startswith("2026-05-07 02:00 Asia/Shanghai  call") and "deferred window:call" in lines[0]
    assert "allowed  allowed" in lines[1] and lines[1].endswith("[cn_consumer]")


async def test_the_compliance_report_counts_attempts_per_week_and_finds_a_breach(pool):
    account = make_account(due=date(2026, 6, 1))
    await plant(pool, account, "call_task@6", datetime(2026, 6, 7, 10, tzinfo=SHANGHAI), attempts=3)
    await plant(pool, account, "call_task@18", datetime(2026, 6, 7, 23, tzinfo=SHANGHAI))  # after 21:00: a breach
    counts, found = await audit.compliance_report(pool, date(2026, 6, 1), date(2026, 6, 30))
    mine = [line for line in counts if line.startswith(account.account_id)]
    assert mine == [f"{account.account_id}  call        week of 2026-06-01  4 attempts"]
    assert [b for b in found if b.startswith(account.account_id)] == [
        f"{account.account_id}: 4 call attempts in 1 days up to 2026-06-07 (at most 3)",  # the day's, once
        f"{account.account_id}: call at 2026-06-07 23:00 is outside its window",
    ]


async def collections_json(database_url: str, *args: str):
    """`collections ... --json`, as a script runs it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "starter.py",
        *args,
        "--json",
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    return json.loads(stdout)


async def test_a_script_reads_the_trail_and_the_report_as_json(pool, database_url):
    account = make_account(due=date(2026, 7, 1))
    await plant(pool, account, "call_task@6", datetime(2026, 7, 7, 10, tzinfo=SHANGHAI), attempts=2)
    await plant(pool, account, "call_task@18", datetime(2026, 7, 7, 23, tzinfo=SHANGHAI))
    trail = await collections_json(database_url, "accounts", "audit", account.account_id)
    assert [(c["step"], c["verdict"], c["rule"]) for c in trail] == [
        ("call_task", "allowed", "allowed"),
        ("call_task", "allowed", "allowed"),
    ]
    assert trail[0]["at"] == "2026-07-07T02:00:00+00:00" and trail[0]["local_time"] == "2026-07-07 10:00 Asia/Shanghai"
    report = await collections_json(database_url, "compliance", "report", "--from", "2026-07-01", "--to", "2026-07-31")
    mine = [c for c in report["weekly_contacts"] if c["account_id"] == account.account_id]
    assert mine == [{"account_id": account.account_id, "channel": "call", "week_of": "2026-07-01", "attempts": 3}]
    assert f"{account.account_id}: call at 2026-07-07 23:00 is outside its window" in report["breaches"]


def test_a_call_inside_the_reg_f_cool_down_is_a_breach():
    new_york = ZoneInfo("America/New_York")
    spoke = datetime(2026, 3, 2, 16, tzinfo=new_york)
    calls = [ContactMade(channel=Channel.call, at=spoke + timedelta(days=days, hours=-4)) for days in (3, 7)]
    assert breaches(load_rules("us_reg_f"), "America/New_York", calls, [(spoke, spoke)]) == [
        "call at 2026-03-05 12:00 on day 4 after a conversation"
    ]
