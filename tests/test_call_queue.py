"""The collectors' call queue: script hints per stage and purpose, a collector taking the next call that may be made
now (its day, inside its attempt windows, never one another collector has), and each attempt's outcome driving the
account."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.testing import ActivityEnvironment

from client import CollectionsClient, inputs
from dunning.call_scripts import CallScripts, CallScriptsError, load_call_scripts
from dunning.channels import work_order_ref
from dunning.policy import POLICY_DIR, load_policy
from infra import call_queue
from tests.conftest import ROOT, channel_activities, make_account, server_today, step_order
from tests.test_promises import sleep_until

SCRIPTS = load_call_scripts()
HINT = {"en": ["one line"], "zh": ["一行"]}


# --- the script hints --------------------------------------------------------------------------------------------


def test_every_stage_that_calls_and_every_call_step_has_hints_in_both_locales():
    policies = [load_policy(path.stem) for path in sorted(POLICY_DIR.glob("*.yaml"))]
    assert SCRIPTS.gaps(policies) == []


def test_a_call_gets_its_stage_s_and_its_purpose_s_hints_in_the_account_s_locale():
    hints = SCRIPTS.for_call("consumer_loan", "6-17", "no_answer_call", "zh")
    assert hints == {
        "stage": list(SCRIPTS.stages["consumer_loan"]["6-17"].zh),
        "purpose": list(SCRIPTS.purposes["no_answer_call"].zh),
    }
    english = SCRIPTS.for_call("consumer_loan", "6-17", "no_answer_call", "en")
    assert any("never mention the debt" in line for line in english["stage"])  # domain §2: an unaware contact


def test_gaps_name_missing_and_stray_keys():
    scripts = CallScripts.model_validate(
        {
            "stages": {"consumer_loan": {"1-5": HINT, "7-9": HINT}, "nope": {}},
            "purposes": {"call_task": HINT, "retired_call": HINT},
        }
    )
    gaps = scripts.gaps([load_policy("consumer_loan")])
    assert "stages.consumer_loan.6-17: missing (the stage calls)" in gaps
    assert "stages.consumer_loan.7-9: not a stage of policy 'consumer_loan' that calls" in gaps
    assert "stages.nope: no such policy" in gaps
    assert "purposes.no_answer_call: missing (a call step)" in gaps
    assert "purposes.retired_call: no policy has a call step of that id" in gaps


@pytest.mark.parametrize(
    "text, says",
    [
        ("stages: {consumer_loan: {'1-5': {en: [a]}}}\npurposes: {}", "stages.consumer_loan.1-5.zh: Field required"),
        (
            "stages: {}\npurposes: {call_task: {en: [a, b, c, d, e, f], zh: [a]}}",
            "purposes.call_task.en: List should have at most 5",
        ),
        (
            "stages: {}\npurposes: {call_task: {en: [''], zh: [a]}}",
            "purposes.call_task.en.0: String should have at least 1",
        ),
        ("stages: {}\npurposes: {}\nextra: 1", "extra: Extra inputs are not permitted"),
        ("stages: [", "not valid YAML"),
        ("- a list", "expected a mapping with keys stages and purposes"),
    ],
)
def test_a_bad_file_fails_naming_the_file_and_the_key(tmp_path, text, says):
    path = tmp_path / "call_scripts.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CallScriptsError) as err:
        load_call_scripts(path)
    assert str(err.value).startswith(f"{path}: ") and says in str(err.value)


def test_a_missing_file_or_hint_fails_clearly(tmp_path):
    with pytest.raises(CallScriptsError, match="call_scripts.yaml: cannot be read"):
        load_call_scripts(tmp_path / "call_scripts.yaml")
    with pytest.raises(
        CallScriptsError,
        match=r"no hints for stage '7-9' of policy 'consumer_loan' \(key stages"
        r"\.consumer_loan\.7-9\)",
    ):
        SCRIPTS.for_call("consumer_loan", "7-9", "call_task", "en")
    with pytest.raises(CallScriptsError, match=r"no hints for call purpose 'pep_talk' \(key purposes\.pep_talk\)"):
        SCRIPTS.for_call("consumer_loan", "1-5", "pep_talk", "en")
    with pytest.raises(CallScriptsError, match="no hints in locale 'fr'"):
        SCRIPTS.for_call("consumer_loan", "1-5", "call_task", "fr")


# --- bad input from a collector ----------------------------------------------------------------------------------


def test_a_collector_s_bad_input_is_a_clear_error():
    with pytest.raises(inputs.InputError, match="--queue must name a collector queue"):
        inputs.check_call_taker(" ", "agent7", None)
    with pytest.raises(inputs.InputError, match="--collector must be 1 to 128 characters"):
        inputs.check_call_taker("phone_team_1", "", None)
    with pytest.raises(inputs.InputError, match="needs a UTC offset"):
        inputs.check_call_taker("phone_team_1", "agent7", "2026-11-22T10:30:00")
    with pytest.raises(inputs.InputError, match="'address_invalid' is not an outcome of a call"):
        inputs.parse_call_outcome("O1", "address_invalid", "+8613800000000", "agent7", "")
    with pytest.raises(inputs.InputError, match="--number: the number dialled is required"):
        inputs.parse_call_outcome("O1", "no_answer", " ", "agent7", "")
    with pytest.raises(inputs.InputError, match="--at: 'tomorrow' is not an ISO 8601 date-time"):
        inputs.parse_call_outcome("O1", "no_answer", "+8613800000000", "agent7", "", "tomorrow")


# --- the queue, on PostgreSQL alone ---------------------------------------------------------------------------------

DUE = date(2026, 3, 2)
SHANGHAI = ZoneInfo("Asia/Shanghai")
AT_6_DPD = datetime.combine(DUE + timedelta(days=6), time(10, 30), tzinfo=SHANGHAI)  # in the 10:00-11:30 window


async def filed_call_tasks(pool, sms_client, settings, count: int) -> tuple[str, list[str]]:
    """`count` accounts of a team of their own, each with its 6 dpd call task (filed at 10:00 local); returns the
    team and the account ids."""
    channels, team, ids = channel_activities(pool, sms_client, settings), f"team_{uuid.uuid4().hex[:8]}", []
    for _ in range(count):
        account = make_account(due=DUE)
        await ActivityEnvironment().run(channels.create_call_task, await step_order(pool, account, "call_task@6"))
        await pool.execute(
            "UPDATE accounts SET document = $2, collector_queue = $3 WHERE account_id = $1",
            account.account_id,
            account.model_dump_json(),
            team,
        )
        ids.append(account.account_id)
    return team, ids


async def test_collectors_taking_at_the_same_moment_never_get_the_same_call(pool, sms_client, settings):
    team, _ = await filed_call_tasks(pool, sms_client, settings, 2)
    taken = await asyncio.gather(*(call_queue.take_next(pool, team, f"agent{i}", AT_6_DPD) for i in range(3)))
    refs = [call["call_ref"] for call in taken if call is not None]
    assert len(refs) == 2 and len(set(refs)) == 2 and taken.count(None) == 1
    assert (taken[0] or taken[1])["attempts_per_day"] == 3  # 6-17 dpd: 3 attempts a day on 2 numbers


async def test_no_call_is_handed_out_before_it_is_due_outside_its_windows_or_after_its_day(pool, sms_client, settings):
    team, _ = await filed_call_tasks(pool, sms_client, settings, 1)
    for local in (time(9, 55), time(11, 30), time(12), time(16, 30), time(21), time(23)):
        assert (
            await call_queue.take_next(pool, team, "agent7", AT_6_DPD.replace(hour=local.hour, minute=local.minute))
            is None
        )
    next_morning = AT_6_DPD + timedelta(days=1)  # the guard counted its attempts for its own day only
    assert await call_queue.take_next(pool, team, "agent7", next_morning) is None
    assert await call_queue.take_next(pool, team, "agent7", AT_6_DPD.replace(hour=19)) is not None


async def test_a_call_whose_hints_are_missing_is_not_handed_out(pool, sms_client, settings):
    team, (account_id,) = await filed_call_tasks(pool, sms_client, settings, 1)
    without_stage = CallScripts.model_validate(
        {"stages": {"consumer_loan": {"1-5": HINT}}, "purposes": {"call_task": HINT}}
    )
    with pytest.raises(CallScriptsError, match=r"key stages\.consumer_loan\.6-17"):
        await call_queue.take_next(pool, team, "agent7", AT_6_DPD, without_stage)
    # Nothing was assigned: once the hints are added, the call is handed out with them.
    assert await pool.fetchval("SELECT status FROM call_tasks WHERE account_id = $1", account_id) == "open"
    assert (await call_queue.take_next(pool, team, "agent7", AT_6_DPD))["account_id"] == account_id


async def test_a_cease_on_calls_a_fraud_claim_or_a_later_promise_holds_a_call(pool, sms_client, settings):
    team, (ceased, claimed, promised, all_calls_ceased) = await filed_call_tasks(pool, sms_client, settings, 4)
    made = AT_6_DPD - timedelta(minutes=10)  # after the task was filed at 10:00
    await pool.execute(
        "INSERT INTO contact_ceases (account_id, request_id, channels, reason, received_at)"
        " VALUES ($1, 'S1', '{sms}', 'texts only', $3), ($2, 'S2', '{sms,call}', 'no more', $3)",
        ceased,
        all_calls_ceased,
        made,
    )
    await pool.execute(
        "INSERT INTO fraud_claims (account_id, claim_id, clues, taken_by, claimed_at, status)"
        " VALUES ($1, 'F1', 'not me', 'agent7', $2, 'clues_recorded')",
        claimed,
        made,
    )
    await pool.execute(
        "INSERT INTO commitments (account_id, commitment_id, kind, status, instalments, total_minor,"
        " taken_by, made_at) VALUES ($1, 'P1', 'promise', 'open', '[]', 100, 'agent7', $2)",
        promised,
        made,
    )
    taken = await call_queue.take_next(pool, team, "agent7", AT_6_DPD)
    assert taken is not None and taken["account_id"] == ceased  # a cease on texts only leaves calls
    assert await call_queue.take_next(pool, team, "agent7", AT_6_DPD) is None


# --- end to end ----------------------------------------------------------------------------------------------------


async def take_ours(pool, queue: str, collector: str, now, account_id: str) -> dict | None:
    """The first call of this account the queue hands out now; other tests' calls handed out before it are set
    aside (they are assigned to the collector, which changes nothing for those tests)."""
    while (call := await call_queue.take_next(pool, queue, collector, now)) is not None:
        if call["account_id"] == account_id:
            return call
    return None


async def attempts(pool, account_id: str) -> list[tuple[str, str, str]]:
    rows = await pool.fetch(
        "SELECT outcome_id, code, collector FROM call_attempts WHERE account_id = $1 ORDER BY recorded_at", account_id
    )
    return [tuple(r.values()) for r in rows]


async def test_a_due_call_goes_to_one_collector_inside_its_window_and_a_missed_call_is_called_again(
    env, run_worker, pool
):
    today = await server_today(env)
    account = make_account(due=today)
    mobile, home = account.points("mobile")[0].value, account.points("home_phone")[0].value
    spouse = account.points("mobile", owner="contact")[0].value
    first, second = today + timedelta(days=1), today + timedelta(days=2)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        # 1 dpd 11:45: the 10:00 call task is due, but the morning window (10:00-11:30) has closed.
        await sleep_until(env, first, time(11, 45))
        team = await pool.fetchval("SELECT collector_queue FROM accounts WHERE account_id = $1", account.account_id)
        between_windows = await take_ours(pool, team, "agent7", await env.get_current_time(), account.account_id)
        assert await pool.fetchval("SELECT status FROM call_tasks WHERE account_id = $1", account.account_id) == "open"
        await sleep_until(env, first, time(14, 30))
        now = await env.get_current_time()
        call = await take_ours(pool, team, "agent7", now, account.account_id)
        assert call is not None
        other = await call_queue.take_next(pool, team, "agent8", now)
        assert other is None or other["call_ref"] != call["call_ref"]
        assert await take_ours(pool, team, "agent8", now, account.account_id) is None

        # A number not on the call (the spouse's: 1-5 dpd never calls contacts), or another collector's report:
        # refused, nothing recorded, the account not told.
        with pytest.raises(inputs.InputError, match=f"number is not on the phone order of call {call['call_ref']}"):
            await CollectionsClient(env.client).report_call_outcome(
                pool, call["call_ref"], inputs.parse_call_outcome("O0", "no_answer", spouse, "agent7", "")
            )
        with pytest.raises(inputs.InputError, match="was taken by another collector"):
            await CollectionsClient(env.client).report_call_outcome(
                pool, call["call_ref"], inputs.parse_call_outcome("O0", "no_answer", mobile, "agent8", "")
            )
        with pytest.raises(inputs.InputError, match="no call 'CNOSUCHCALL1' taken from a collector queue"):
            await CollectionsClient(env.client).report_call_outcome(
                pool, "CNOSUCHCALL1", inputs.parse_call_outcome("O0", "no_answer", mobile, "agent7", "")
            )
        assert await attempts(pool, account.account_id) == []
        assert (
            await pool.fetchval(
                "SELECT count(*) FROM contact_events WHERE account_id = $1 AND event_id = 'O0'", account.account_id
            )
            == 0
        )

        missed = inputs.parse_call_outcome(
            "O1", "no_answer", mobile, "agent7", "rang out", (await env.get_current_time()).isoformat()
        )
        assert (
            await CollectionsClient(env.client).report_call_outcome(pool, call["call_ref"], missed)
            == account.account_id
        )
        await CollectionsClient(env.client).report_call_outcome(pool, call["call_ref"], missed)  # a resend counts once
        with pytest.raises(inputs.InputError, match="allows 1 attempt\\(s\\) that day and 1 were reported"):
            await CollectionsClient(env.client).report_call_outcome(
                pool, call["call_ref"], inputs.parse_call_outcome("O2", "busy", home, "agent7", "")
            )

        # Strategy 6: a call the next evening, the unanswered number last; taken from the queue like any call.
        await sleep_until(env, second, time(19, 30))
        reaction = await take_ours(pool, team, "agent7", await env.get_current_time(), account.account_id)
        # The first follow-up day after it: due from the morning, but at 23:00 no call may be made.
        day = await pool.fetchval(
            "SELECT min(day) FROM follow_ups WHERE account_id = $1 AND status = 'planned' AND day > $2",
            account.account_id,
            second,
        )
        assert day is not None
        await sleep_until(env, day, time(23))
        late = await take_ours(pool, team, "agent7", await env.get_current_time(), account.account_id)
        assert (
            await pool.fetchval(
                "SELECT assigned_to FROM follow_ups WHERE account_id = $1 AND day = $2 AND status = 'planned'",
                account.account_id,
                day,
            )
            is None
        )  # due, not taken

    assert between_windows is None
    task = await pool.fetchrow(
        "SELECT action_key, status, assigned_to FROM call_tasks WHERE account_id = $1 AND purpose = 'call_task'",
        account.account_id,
    )
    assert call["call_ref"] == work_order_ref("C", task["action_key"])
    assert (task["status"], task["assigned_to"]) == ("done", "agent7")
    assert (call["kind"], call["purpose"], call["stage"], call["day"]) == (
        "call_task",
        "call_task",
        "1-5",
        first.isoformat(),
    )
    assert [(p["number"], p["owner"], p["may_disclose"]) for p in call["phone_order"]] == [
        (mobile, "debtor", True),
        (home, "debtor", True),
    ]
    assert (call["attempts_per_day"], call["attempt_windows"]) == (1, ["10:00-11:30", "14:00-16:30", "19:00-21:00"])
    assert (call["debtor_name"], call["outstanding_minor"], call["currency"], call["outstanding"]) == (
        "Test Debtor",
        250_000,
        "CNY",
        "2,500.00 CNY",
    )
    assert call["script_hints"] == SCRIPTS.for_call("consumer_loan", "1-5", "call_task", "zh")
    assert await attempts(pool, account.account_id) == [("O1", "no_answer", "agent7")]
    told = await pool.fetchrow(
        "SELECT code, source, reported_by, contact_point, note FROM contact_events"
        " WHERE account_id = $1 AND event_id = 'O1'",
        account.account_id,
    )
    assert tuple(told.values()) == ("no_answer", "collector", "agent7", mobile, "rang out")

    assert reaction is not None and reaction["purpose"] == "no_answer_call"
    assert reaction["script_hints"] == SCRIPTS.for_call("consumer_loan", "1-5", "no_answer_call", "zh")
    assert [p["number"] for p in reaction["phone_order"]] == [home, mobile]
    assert late is None


async def test_a_follow_up_day_is_a_call_of_its_own_taken_from_the_command_line(env, run_worker, pool, database_url):
    today = await server_today(env)
    account = make_account(due=today, locale="en")
    mobile = account.points("mobile")[0].value
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await sleep_until(env, today + timedelta(days=1), time(10, 5))
        team = await pool.fetchval("SELECT collector_queue FROM accounts WHERE account_id = $1", account.account_id)
        day = await pool.fetchrow(
            "SELECT day, starts_at, attempts FROM follow_ups WHERE account_id = $1"
            " AND status = 'planned' ORDER BY day LIMIT 1",
            account.account_id,
        )
        await env.sleep(day["starts_at"] + timedelta(minutes=30) - await env.get_current_time())
        now = await env.get_current_time()
        # The 1 dpd task was never taken: its day has passed, so the follow-up day is this account's call now.
        call = None
        while call is None or call["account_id"] != account.account_id:
            taken = await calls_next(database_url, team, "agent9", now.isoformat())
            assert taken.returncode == 0, taken.stderr
            call = json.loads(taken.stdout)
        reached = inputs.parse_call_outcome("F1", "reached", mobile, "agent9", "", now.isoformat())
        await CollectionsClient(env.client).report_call_outcome(pool, call["call_ref"], reached)
        with pytest.raises(inputs.InputError, match="outcome id 'F1' is already used on this account"):
            await CollectionsClient(env.client).report_call_outcome(
                pool, call["call_ref"], inputs.parse_call_outcome("F1", "busy", mobile, "agent9", "")
            )
        await env.sleep(timedelta(minutes=5))

    assert (call["kind"], call["day"], call["attempts_per_day"]) == (
        "follow_up",
        day["day"].isoformat(),
        day["attempts"],
    )
    assert call["script_hints"] == SCRIPTS.for_call("consumer_loan", "1-5", "call_task", "en")
    row = await pool.fetchrow(
        "SELECT status, assigned_to, done_at FROM follow_ups WHERE call_ref = $1", call["call_ref"]
    )
    assert (row["status"], row["assigned_to"]) == ("planned", "agent9") and row["done_at"] == now
    assert await attempts(pool, account.account_id) == [("F1", "reached", "agent9")]
    assert (
        await pool.fetchval(
            "SELECT verdict FROM contact_events WHERE account_id = $1 AND event_id = 'F1'", account.account_id
        )
        == "applied"
    )


async def calls_next(database_url: str, queue: str, collector: str, at: str):
    """`collections calls next --json`, as a collector's app runs it (no Temporal: the queue is in PostgreSQL)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "starter.py",
        "calls",
        "next",
        "--queue",
        queue,
        "--collector",
        collector,
        "--at",
        at,
        "--json",
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    return subprocess.CompletedProcess(
        process.args if hasattr(process, "args") else [], process.returncode, stdout.decode(), stderr.decode()
    )
