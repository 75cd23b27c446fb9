"""Promises to pay under time skipping (domain §5): reminders on working days, the ladder held while a promise is
open, and kept, broken or kept-in-part promises."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from client import CollectionsClient, inputs
from tests.conftest import make_account, pinned, server_today
from workflows.account import AccountWorkflow

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = pinned("consumer_loan").working_days  # as the worker pins it for an account opening today


async def sleep_until(env, day, at: time) -> None:
    """Skips time to a local moment in Shanghai."""
    target = datetime.combine(day, at, tzinfo=SHANGHAI)
    await env.sleep(target - await env.get_current_time())


async def actions(pool, account_id: str) -> dict[str, tuple[str, str]]:
    """step key -> (local day and time it was taken, result), for every action the account took or skipped."""
    rows = await pool.fetch(
        "SELECT action_key, taken_at, due_at, result FROM action_log WHERE account_id = $1", account_id
    )
    return {
        r["action_key"].split(":", 2)[2]: (
            (r["taken_at"] or r["due_at"]).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"),
            r["result"],
        )
        for r in rows
    }


def promise(promise_id: str, amount: str, day, hour: str | None = None):
    return inputs.parse_promise(promise_id, amount, "CNY", day.isoformat(), hour, "call", "agent-7")


async def test_a_kept_promise_holds_the_ladder_reminds_a_working_day_before_and_confirms_on_the_day(
    env, run_worker, pool
):
    today = await server_today(env)
    account = make_account(due=today)
    promised = today + timedelta(days=5)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await sleep_until(env, today + timedelta(days=1), time(11))
        await CollectionsClient(env.client).signal(
            account.account_id, "promise_made", promise("PTP1", "2500.00", promised)
        )
        await sleep_until(env, promised, time(11))  # the morning confirmation has gone, noon's has not
        await CollectionsClient(env.client, queue).pay(
            account.account_id, inputs.parse_payment("2500.00", "PAY1", "CNY")
        )
        closed = await env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id).result()

    taken = await actions(pool, account.account_id)
    reminder_day = CALENDAR.add_working_days(promised, -1)
    assert taken["promise_reminder:PTP1#1.0"] == (f"{reminder_day} 10:00", "done")
    assert taken["promise_confirmation:PTP1#1.1"] == (f"{promised} 10:00", "done")
    assert "promise_confirmation:PTP1#1.2" not in taken  # noon's: the money came first
    assert "sms_reminder@3" not in taken and "call_task@6" not in taken  # the ladder waited for the promise
    assert closed.state.status == "cured"
    row = await pool.fetchrow(
        "SELECT status, paid_minor, negative_record FROM commitments WHERE account_id = $1", account.account_id
    )
    assert dict(row) == {"status": "kept", "paid_minor": 250_000, "negative_record": False}


async def test_a_broken_promise_counts_and_resumes_the_ladder_with_the_broken_promise_treatment(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(due=today)
    promised = today + timedelta(days=4)
    broken_day = CALENDAR.add_working_days(promised, 2) + timedelta(days=1)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await sleep_until(env, today + timedelta(days=2), time(9))
        await CollectionsClient(env.client).signal(
            account.account_id, "promise_made", promise("PTP2", "1000.00", promised, "15:00")
        )
        await sleep_until(env, broken_day, time(12))
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    taken = await actions(pool, account.account_id)
    # A named hour is confirmed 30 minutes before it, once.
    assert taken["promise_confirmation:PTP2#1.1"] == (f"{promised} 14:30", "done")
    assert [k for k in taken if k.startswith("promise_confirmation")] == ["promise_confirmation:PTP2#1.1"]
    assert view.broken_promises == 1 and view.commitment is None
    assert taken["broken_promise_call:promise-PTP2"] == (f"{broken_day} 10:00", "done")
    assert taken["broken_promise_sms:promise-PTP2"] == (f"{broken_day} 10:00", "done")
    # The ladder picked up at the dpd of that day; the treatment's text and call stand in for the ladder's catch-up
    # on those channels, so the debtor gets one of each, not two.
    held = [
        key
        for key, dpd in (("sms_reminder@3", 3), ("sms_urge@6", 6), ("call_task@6", 6))
        if dpd < (broken_day - today).days
    ]
    assert {taken[key][1] for key in held} == {"skipped"}
    row = await pool.fetchrow(
        "SELECT status, negative_record, failed_debit_fee, failed_debit_fee_minor FROM commitments"
        " WHERE account_id = $1",
        account.account_id,
    )
    assert dict(row) == {
        "status": "broken",
        "negative_record": True,
        "failed_debit_fee": True,
        "failed_debit_fee_minor": 2_000,  # consumer_loan's failed-debit fee, 20.00 CNY, posted to the account
    }
    assert view.outstanding_minor == account.amount_due_minor + 2_000 and view.late_fee_minor == 2_000
    fee = await pool.fetchrow(
        "SELECT entry_id, amount_minor, outstanding_before_minor, outstanding_after_minor FROM ledger_entries"
        " WHERE account_id = $1 AND kind = 'failed_debit_fee'",
        account.account_id,
    )
    assert tuple(fee) == ("PTP2", 2_000, account.amount_due_minor, account.amount_due_minor + 2_000)
    assert await pool.fetchval("SELECT broken_promises FROM accounts WHERE account_id = $1", account.account_id) == 1
    # The negative record goes to the bureau feed as a report: at once, as the promise was taken on the phone.
    report = await pool.fetchrow(
        "SELECT status, reason, rule_set, released_because FROM bureau_reports WHERE account_id = $1",
        account.account_id,
    )
    assert (report["status"], report["reason"], report["rule_set"]) == ("ready", "broken promise PTP2", "cn_consumer")
    assert report["released_because"].startswith("spoke with the debtor at ")


async def test_a_promise_paid_in_part_is_kept_in_part_not_broken(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(due=today)
    promised = today + timedelta(days=3)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await sleep_until(env, today + timedelta(days=1), time(12))
        await CollectionsClient(env.client).signal(
            account.account_id, "promise_made", promise("PTP3", "1000.00", promised)
        )
        await sleep_until(env, promised, time(20))
        await CollectionsClient(env.client, queue).pay(
            account.account_id, inputs.parse_payment("400.00", "PAY3", "CNY")
        )
        await sleep_until(env, CALENDAR.add_working_days(promised, 2) + timedelta(days=1), time(12))
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    assert view.broken_promises == 0 and view.commitment is None and view.status == "open"
    row = await pool.fetchrow(
        "SELECT status, paid_minor, negative_record FROM commitments WHERE account_id = $1", account.account_id
    )
    assert dict(row) == {"status": "kept_in_part", "paid_minor": 40_000, "negative_record": False}
    assert "broken_promise_call:promise-PTP3" in await actions(pool, account.account_id)


async def test_promises_that_break_the_rules_are_refused_with_the_reason_and_recorded(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(due=today, amount_minor=100_000)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        for bad in (
            promise("FAR", "100.00", today + timedelta(days=9)),
            promise("PAST", "100.00", today - timedelta(days=1)),
            promise("MORE", "1000.01", today + timedelta(days=2)),
            promise("ZERO", "0", today + timedelta(days=2)),
        ):
            await CollectionsClient(env.client).signal(account.account_id, "promise_made", bad)
        await env.sleep(timedelta(hours=1))
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    assert view.commitment is None
    assert view.rejected_signals == [
        f"promise FAR: promised date {today + timedelta(days=9)} is more than 7 days after the promise ({today}); "
        "agree a plan instead",
        f"promise PAST: promised date {today - timedelta(days=1)} is already past ({today})",
        "promise MORE: promised amount 100001 is more than the 100000 owed",
        "promise ZERO: promised amount must be more than zero, got 0",
    ]
    rows = await pool.fetch("SELECT commitment_id, status FROM commitments WHERE account_id = $1", account.account_id)
    assert {r["commitment_id"]: r["status"] for r in rows} == dict.fromkeys(["FAR", "PAST", "MORE", "ZERO"], "rejected")
