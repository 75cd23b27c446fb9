"""Contact outcomes and the strategies they call for (domain §3, §6), under time skipping."""

from __future__ import annotations

import json
from datetime import time, timedelta

from client import CollectionsClient, inputs
from tests.conftest import make_account, server_today
from tests.test_promises import actions, sleep_until
from workflows.account import AccountWorkflow


def outcome(outcome_id: str, code: str, point: str | None = None, source: str = "dialer"):
    return inputs.parse_outcome(outcome_id, code, source, "dialer-1", point, "")


async def send(env, account, *events) -> None:
    for event in events:
        signal = "contact_outcome" if hasattr(event, "code") else "contact_updated"
        await CollectionsClient(env.client).signal(account.account_id, signal, event)


async def test_no_answer_texts_now_and_calls_again_tomorrow_evening_with_the_other_numbers_first(
    env, run_worker, pool, twilio
):
    today = await server_today(env)
    account = make_account(due=today)
    mobile = account.points("mobile")[0].value
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await sleep_until(env, today + timedelta(days=7), time(11))
        await send(env, account, outcome("O1", "no_answer", mobile))
        await sleep_until(env, today + timedelta(days=8), time(20))

    taken = await actions(pool, account.account_id)
    assert taken["missed_you_sms:outcome-O1"] == (f"{today + timedelta(days=7)} 11:00", "done")
    assert taken["no_answer_call:outcome-O1"] == (f"{today + timedelta(days=8)} 19:00", "done")
    task = await pool.fetchrow(
        "SELECT phone_order, purpose FROM call_tasks WHERE action_key LIKE '%no_answer_call%' AND account_id = $1",
        account.account_id,
    )
    dialled = [p["number"] for p in json.loads(task["phone_order"])]
    assert task["purpose"] == "no_answer_call" and dialled[-1] == mobile and mobile not in dialled[:-1]
    assert any("致电未能联系到您" in m["body"] for m in twilio.messages if m["to"] == mobile)


async def test_points_turn_invalid_by_their_counts_and_losing_every_phone_starts_tracing(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(due=today)
    mobile, home = account.points("mobile")[0].value, account.points("home_phone")[0].value
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        handle = env.client.get_workflow_handle(account.workflow_id)
        await sleep_until(env, today + timedelta(days=31), time(11))
        await send(
            env,
            account,
            outcome("L1", "line_dead", mobile),
            outcome("N1", "no_such_person", home),
            outcome("N2", "no_such_person", home),
        )
        await env.sleep(timedelta(minutes=5))
        still_reachable = await handle.query(AccountWorkflow.state)
        await send(env, account, outcome("L2", "line_dead", mobile), outcome("N3", "no_such_person", home))
        await sleep_until(env, today + timedelta(days=35), time(12))
        lost = await handle.query(AccountWorkflow.state)
        await send(
            env,
            account,
            inputs.parse_contact_update("U1", "mobile", "+8613900000001", "debtor", None, mobile, "tracing"),
        )
        await sleep_until(env, today + timedelta(days=35), time(13))
        found = await handle.query(AccountWorkflow.state)

    assert still_reachable.invalid_points == [] and not still_reachable.lost_contact
    assert {r.point.value: r.invalid_because for r in lost.invalid_points} == {
        mobile: "line_dead 2 times",
        home: "no_such_person 3 times",
    }
    assert lost.lost_contact
    taken = await actions(pool, account.account_id)
    # Never reached before: the application's records are checked at once, then a tracing visit.
    assert taken["records_check:lost-N3"] == (f"{today + timedelta(days=31)} 11:05", "done")
    assert taken["first_tracing_visit:lost-N3"] == (f"{today + timedelta(days=34)} 10:00", "done")
    # Invalid numbers are never dialled again: the next call tasks leave them out.
    task = await pool.fetchrow(
        "SELECT phone_order FROM call_tasks WHERE account_id = $1 ORDER BY created_at DESC LIMIT 1", account.account_id
    )
    assert not {mobile, home} & {p["number"] for p in json.loads(task["phone_order"])}
    assert not found.lost_contact and mobile not in {r.point.value for r in found.invalid_points}
    rows = await pool.fetch("SELECT value, status FROM contact_points WHERE account_id = $1", account.account_id)
    assert {r["value"]: r["status"] for r in rows if r["value"] in (mobile, home, "+8613900000001")} == {
        mobile: "replaced",
        home: "invalid",
        "+8613900000001": "valid",
    }


async def test_an_outcome_about_a_point_not_on_file_is_refused_and_a_resend_counts_once(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(due=today)
    mobile = account.points("mobile")[0].value
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await send(
            env,
            account,
            outcome("X1", "line_dead", "+8613999999999"),
            outcome("X2", "line_dead"),
            outcome("D1", "line_dead", mobile),
            outcome("D1", "line_dead", mobile),
        )
        await env.sleep(timedelta(minutes=5))
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    assert view.rejected_signals == [
        "outcome X1: outcome X1 names a contact point that is not on file",
        "outcome X2: outcome line_dead needs the contact point it is about",
    ]
    assert view.invalid_points == []  # D1 twice is one failure, not the two that make a number invalid
    rows = await pool.fetch("SELECT event_id, verdict FROM contact_events WHERE account_id = $1", account.account_id)
    assert {r["event_id"]: r["verdict"].split(":")[0] for r in rows} == {
        "X1": "rejected",
        "X2": "rejected",
        "D1": "applied",
    }


async def test_a_death_outcome_opens_a_verification_and_stops_contact(env, run_worker):
    today = await server_today(env)
    account = make_account(due=today)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await sleep_until(env, today + timedelta(days=3), time(12))
        await send(
            env, account, inputs.parse_outcome("DEATH1", "death", "collector", "agent-7", None, "the spouse answered")
        )
        await env.sleep(timedelta(hours=1))
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    assert [(v.report.report_id, v.report.event) for v in view.verifications] == [("DEATH1", "deceased")]
    assert view.next_action is None


async def test_unable_to_pay_raises_a_hardship_plan_offer_and_unwilling_a_senior_review(env, run_worker, pool):
    today = await server_today(env)
    unable, unwilling = make_account(due=today), make_account(due=today)
    async with run_worker() as queue:
        for account, code in ((unable, "unable_to_pay"), (unwilling, "unwilling_to_pay")):
            await CollectionsClient(env.client, queue).open(account)
            await send(
                env,
                account,
                inputs.parse_outcome(f"{code}-1", code, "collector", "agent-7", None, "lost her job in May"),
            )
        await env.sleep(timedelta(hours=1))

    tasks = await pool.fetch(
        "SELECT account_id, task FROM internal_tasks WHERE account_id = ANY($1)",
        [unable.account_id, unwilling.account_id],
    )
    assert {(r["account_id"], r["task"]) for r in tasks} == {
        (unable.account_id, "hardship_plan_offer"),
        (unwilling.account_id, "senior_collector_review"),
    }
    strategies = await pool.fetch(
        "SELECT account_id, strategy FROM contact_events WHERE account_id = ANY($1)",
        [unable.account_id, unwilling.account_id],
    )
    assert {r["account_id"]: r["strategy"] for r in strategies} == {
        unable.account_id: "unable_to_pay",
        unwilling.account_id: "unwilling_to_pay",
    }
