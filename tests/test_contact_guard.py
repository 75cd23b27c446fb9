"""The contact guard at work under time skipping (domain §3, §13): steps move into the debtor's contact window,
caps hold, contact persons hear only what the stage and rule set allow, and hard blocks hold."""

from __future__ import annotations

import json
from datetime import time, timedelta

from client import CollectionsClient, inputs
from tests.conftest import make_account, server_today
from tests.test_promises import sleep_until


async def checks(pool, account_id: str) -> list[dict]:
    rows = await pool.fetch(
        "SELECT step_id, channel, verdict, rule, local_time, allowed_at, evaluated_at"
        " FROM contact_checks WHERE account_id = $1 ORDER BY evaluated_at, step_id",
        account_id,
    )
    return [dict(r) for r in rows]


async def test_steps_due_at_2am_go_at_8am_for_a_text_and_9am_for_a_call_local(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(due=today)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await sleep_until(env, today + timedelta(days=2), time(12))
        await CollectionsClient(env.client).signal(
            account.account_id,
            "dispute_opened",
            inputs.parse_dispute("D1", "debt", "says the amount is wrong"),
        )
        # Resolved in the night: the ladder resumes at once, and its catch-up steps fall due at 02:00.
        await sleep_until(env, today + timedelta(days=8), time(2))
        await CollectionsClient(env.client).signal(
            account.account_id, "dispute_resolved", inputs.parse_resolution("D1", "debt_confirmed")
        )
        await sleep_until(env, today + timedelta(days=8), time(12))

    trail = {(c["step_id"], c["verdict"]): c for c in await checks(pool, account.account_id)}
    night = f"{today + timedelta(days=8)} 02:00 Asia/Shanghai"
    assert (trail[("sms_urge", "deferred")]["rule"], trail[("sms_urge", "deferred")]["local_time"]) == (
        "window:sms",
        night,
    )
    assert trail[("sms_urge", "allowed")]["local_time"] == f"{today + timedelta(days=8)} 08:00 Asia/Shanghai"
    assert (trail[("call_task", "deferred")]["rule"], trail[("call_task", "deferred")]["local_time"]) == (
        "window:call",
        night,
    )
    assert trail[("call_task", "allowed")]["local_time"] == f"{today + timedelta(days=8)} 09:00 Asia/Shanghai"


async def test_a_contact_person_is_not_told_of_the_debt_in_6_to_17_dpd_unless_they_know(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(due=today)
    aware = account.model_copy(
        update={
            "account_id": f"{account.account_id}K",
            "contact_points": [
                p.model_copy(update={"knows_of_debt": p.owner == "contact"}) for p in account.contact_points
            ],
        }
    )
    async with run_worker() as queue:
        for each in (account, aware):
            await CollectionsClient(env.client, queue).open(each)
        await sleep_until(env, today + timedelta(days=6), time(12))

    async def spouse_disclosure(account_id: str) -> bool:
        task = await pool.fetchval(
            "SELECT phone_order FROM call_tasks WHERE account_id = $1 AND stage = '6-17'", account_id
        )
        return next(p["may_disclose"] for p in json.loads(task) if p["owner"] == "contact")

    assert await spouse_disclosure(account.account_id) is False
    assert await spouse_disclosure(aware.account_id) is True


async def test_hard_blocks_hold_a_ceased_channel_and_an_open_dispute_let_nothing_through(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(due=today)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await CollectionsClient(env.client, queue).cease(
            account.account_id, inputs.parse_cease(["sms"], "replied STOP", "STOP-1")
        )
        await sleep_until(env, today + timedelta(days=7), time(12))
        await CollectionsClient(env.client).signal(
            account.account_id,
            "dispute_opened",
            inputs.parse_dispute("D1", "debt", "says it is not theirs"),
        )
        await sleep_until(env, today + timedelta(days=25), time(12))

    trail = await checks(pool, account.account_id)
    texts = [c for c in trail if c["channel"] == "sms"]
    assert texts and {(c["verdict"], c["rule"]) for c in texts} == {
        ("blocked", "the debtor asked us to stop this contact")
    }
    during_dispute = [c for c in trail if c["evaluated_at"].astimezone().date() > today + timedelta(days=7)]
    assert during_dispute == []  # collection paused: nothing was even attempted
