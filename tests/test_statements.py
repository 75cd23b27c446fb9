"""The B2B statement cycle (domain §9, seeds/001): checked by the 5th, sent by the 8th, confirmed by the 20th and
invoiced by the 30th; an unconfirmed statement is chased every 2 days in its first week, daily once 2 weeks old, and
then handed to the supervisor."""

from __future__ import annotations

import json
import os
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from client import CollectionsClient
from dunning.case import Case
from dunning.ledger import Ledger
from dunning.policy import POLICY_DIR, PolicyError, parse_policy
from dunning.state import AccountState
from dunning.statements import StatementConfirmed, day_of
from infra import call_queue
from tests.conftest import UNIT_TESTS_TODAY, make_account, pinned, run_cli, server_today
from tests.test_case import outcome
from tests.test_replay import HISTORIES, REPLAYER

SHANGHAI = ZoneInfo("Asia/Shanghai")
B2B = pinned("b2b_receivables", UNIT_TESTS_TODAY)


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI)


def customer_case(due: date, opened: datetime) -> Case:
    account = make_account(due=due, account_id="STMT-1", policy="b2b_receivables", currency="CNY")
    return Case(account, B2B, AccountState(ledger=Ledger(principal_minor=account.amount_due_minor), opened_at=opened))


def statement_steps(case: Case) -> list[str]:
    return sorted(p.key for p in case.state.agenda if p.cause.startswith("statement "))


def take(case: Case, key: str, status: str = "done"):
    """Takes the agenda step `key` at its time, as the workflow does."""
    planned = next(p for p in case.state.agenda if p.key == key)
    case.step_taken(planned, None, planned.due_at)
    return case.statement_step_taken(planned, status, planned.due_at)


def confirmation(month: str, when: datetime, by: str = "billing") -> StatementConfirmed:
    return StatementConfirmed(month=month, confirmed_by=by, confirmed_at=when, note="invoice to ACME Ltd")


def test_a_short_months_day_is_its_last():
    assert day_of("2027-02", 30) == date(2027, 2, 28)
    assert day_of("2028-02", 30) == date(2028, 2, 29)
    assert day_of("2026-11", 8) == date(2026, 11, 8)


def test_an_account_opening_after_the_send_day_gets_next_months_statement():
    case = customer_case(date(2026, 11, 10), at(11, 9))
    case.open_at(at(11, 9))
    assert statement_steps(case) == ["statement_review:2026-12", "statement_sent:2026-12"]
    review = next(p for p in case.state.agenda if p.key == "statement_review:2026-12")
    assert review.due_at.date() == date(2026, 12, 5)


def test_an_unconfirmed_statement_is_chased_every_two_days_then_daily_then_handed_to_the_supervisor():
    case = customer_case(date(2026, 11, 12), at(11, 2))
    case.open_at(at(11, 2))
    take(case, "statement_review:2026-11")
    event, statement = take(case, "statement_sent:2026-11")
    assert (event, statement.confirm_by, statement.invoice_by) == ("sent", date(2026, 11, 20), date(2026, 11, 30))
    chase_days = []
    while chasers := [p for p in case.state.agenda if p.cause == "statement 2026-11"]:
        if chasers[0].step_id == "statement_escalation":
            break
        assert [p.step_id for p in chasers] == ["statement_chase_email"]
        chase_days.append((chasers[0].due_at.date() - date(2026, 11, 9)).days)
        for chaser in chasers:
            take(case, chaser.key)
    # Sunday the 8th: the statement went on Monday the 9th (cn_commercial keeps contact off weekends and the last 3
    # days of a month). Days 2, 4, 6 after it, then daily from 14 to 27, each moved by the same hints: Sunday the 15th
    # to the 16th, the 28th-30th to 1 December, the weekend of 5-6 December to the 7th.
    assert case.state.statements[0].sent_at.date() == date(2026, 11, 9)
    assert chase_days == [2, 4, 7, 14, 15, 16, 17, 18, 22, 23, 24, 25, 28]
    assert chasers[0].due_at.date() == date(2026, 12, 7)  # day 28
    assert take(case, chasers[0].key) == ("escalated", statement)
    assert statement.escalated_at is not None
    assert [p for p in case.state.agenda if p.cause == "statement 2026-11"] == []  # the supervisor has it now
    # The next month's statement came onto the agenda when this one went.
    assert "statement_sent:2026-12" in statement_steps(case)


def test_a_confirmation_stops_the_chase_and_asks_finance_to_invoice():
    case = customer_case(date(2026, 11, 12), at(11, 2))
    case.open_at(at(11, 2))
    take(case, "statement_sent:2026-11")
    assert "statement_chase_email:2026-11+2" in statement_steps(case)

    change = case.apply_statement_confirmation(confirmation("2026-11", at(11, 9)), at(11, 9))
    assert (change.verdict, change.reason) == ("applied", "")
    assert [k for k in statement_steps(case) if "2026-11" in k] == ["statement_invoice:2026-11"]
    assert case.state.statements[0].confirmed_by == "billing"
    # The same confirmation resent changes nothing; another one is refused with why.
    assert case.apply_statement_confirmation(confirmation("2026-11", at(11, 9)), at(11, 9)).verdict == "duplicate"
    again = case.apply_statement_confirmation(confirmation("2026-11", at(11, 12), "collector-7"), at(11, 12))
    assert (again.verdict, again.reason) == (
        "refused",
        "the statement of 2026-11 was confirmed already (2026-11-09, by billing)",
    )


def test_a_late_confirmation_is_marked_and_an_unsent_month_is_refused():
    case = customer_case(date(2026, 11, 12), at(11, 2))
    case.open_at(at(11, 2))
    take(case, "statement_sent:2026-11")
    unsent = case.apply_statement_confirmation(confirmation("2026-12", at(11, 22)), at(11, 22))
    assert (unsent.verdict, unsent.reason) == ("refused", "no statement of 2026-12 was sent on this account")
    assert case.state.rejected_signals[-1] == "statement confirmation: no statement of 2026-12 was sent on this account"
    late = case.apply_statement_confirmation(confirmation("2026-11", at(11, 22)), at(11, 22))
    assert (late.verdict, late.reason) == ("applied", "confirmed late")


def test_an_answer_on_the_phone_and_a_pause_leave_the_statement_chase_in_place():
    case = customer_case(date(2026, 11, 12), at(11, 2))
    case.open_at(at(11, 2))
    take(case, "statement_sent:2026-11")
    mobile = next(p.value for p in case.account.contact_points if p.kind == "mobile")
    no_answer = outcome("O1", "no_answer", mobile, at(11, 9))
    case.apply_outcome(no_answer, at(11, 9))  # its reactions replace the last answer's, not the chase
    assert "statement_chase_email:2026-11+2" in statement_steps(case)
    # A dispute holds everything from the 9th to the 15th: the chase that fell due meanwhile goes late, not never.
    case.pause(at(11, 9))
    case.resume_if_nothing_pauses(at(11, 15))
    assert case.state.paused_since is None
    late = [p for p in case.state.agenda if p.key == "statement_chase_email:2026-11+2"]
    assert late and late[0].due_at < at(11, 15)


def test_a_statement_that_could_not_go_is_not_chased_and_statements_stop_at_the_lock():
    case = customer_case(date(2026, 9, 20), at(11, 2))  # 43 dpd on opening: the lock comes at 90 (2026-12-19)
    case.open_at(at(11, 2))
    assert take(case, "statement_sent:2026-11", status="skipped") is None
    assert [k for k in statement_steps(case) if "2026-11" in k] == ["statement_review:2026-11"]
    take(case, "statement_review:2026-11")
    take(case, "statement_sent:2026-12")
    assert [k for k in statement_steps(case) if k.startswith("statement_sent")] == []  # January is locked


def test_a_policy_whose_statement_cycle_is_out_of_order_is_refused(tmp_path):
    text = (POLICY_DIR / "b2b_receivables.yaml").read_text().replace("confirm_by_day: 20", "confirm_by_day: 4")
    (tmp_path / "b2b_receivables.yaml").write_text(text)
    with pytest.raises(PolicyError, match="review_day, send_day, confirm_by_day and invoice_by_day must come in"):
        parse_policy(tmp_path / "b2b_receivables.yaml")


async def test_the_customer_is_sent_the_statement_chased_and_their_confirmation_stops_the_chase(
    env, run_worker, pool, database_url, tmp_path
):
    today = await server_today(env)
    account = make_account(
        due=today + timedelta(days=5),
        policy="b2b_receivables",
        currency="CNY",
        time_zone="Asia/Shanghai",
        creditor="Statement Test Co",
    )
    # The first statement is this month's while its 8th is to come, else next month's.
    month = f"{today:%Y-%m}" if today.day <= 8 else f"{today.replace(day=28) + timedelta(days=5):%Y-%m}"
    sent_on = day_of(month, 8)
    async with run_worker() as queue:
        client = CollectionsClient(env.client, queue)
        await client.open(account)
        # Sixteen days after it went out, the customer confirms (late: the 20th has passed); the day's call, taken
        # just before, had the unconfirmed statement on its sheet.
        confirmed_at = datetime.combine(sent_on + timedelta(days=16), time(15), tzinfo=SHANGHAI)
        await env.sleep(confirmed_at - await env.get_current_time())
        desk = await pool.fetchval("SELECT collector_queue FROM accounts WHERE account_id = $1", account.account_id)
        call = await call_queue.take_next(
            pool, desk, "li.wei", confirmed_at - timedelta(hours=4), creditors=[account.creditor]
        )
        assert call is not None and call["unconfirmed_statements"] == [
            {"month": month, "confirm_by": str(day_of(month, 20))}
        ]
        await client.signal(
            account.account_id, "statement_confirmed", confirmation(month, confirmed_at, by="collector-7")
        )
        await env.sleep(timedelta(days=5))
        view = await client.state(account.account_id)
        history = await env.client.get_workflow_handle(account.workflow_id).fetch_history()
    await REPLAYER.replay_workflow(history)
    if os.environ.get("RECORD_HISTORIES"):
        (HISTORIES / "b2b_statement_confirmed_late.json").write_text(history.to_json(), encoding="utf-8")
    row = await pool.fetchrow("SELECT * FROM statements WHERE account_id = $1", account.account_id)
    assert (row["month"], row["confirm_by"], row["confirmed_by"], row["confirmed_late"]) == (
        month,
        day_of(month, 20),
        "collector-7",
        True,
    )
    assert row["note"] == "invoice to ACME Ltd" and row["escalated_at"] is None
    steps = await pool.fetch(
        "SELECT step_id, taken_at, result FROM action_log WHERE account_id = $1 AND action_key LIKE $2"
        " ORDER BY taken_at",
        account.account_id,
        f"%:{month}%",
    )
    done = [(r["step_id"], r["taken_at"].astimezone(SHANGHAI).date()) for r in steps if r["result"] == "done"]
    assert ("statement_review", day_of(month, 5)) in done
    assert done[1][0] == "statement_sent" and done[1][1] >= sent_on  # the 8th, or the next day the rules allow
    chased = sorted({d for step, d in done if step == "statement_chase_email"})
    assert chased and max(chased) <= confirmed_at.date()  # nothing chased after the confirmation
    assert len(chased) >= 4  # days 2, 4, 6 and from 14 (some moved off a weekend by the contact rules)
    assert "statement_invoice" in [step for step, _ in done]
    assert view.statements[0].confirmed_by == "collector-7"
    # The receivables desk reads it back; a month typed wrong is refused before anything is sent.
    desk_env = {"DATABASE_URL": database_url, "XDG_CONFIG_HOME": str(tmp_path)}
    listed = await run_cli("statements", "list", "--json", env=desk_env)
    mine = [r for r in json.loads(listed.stdout) if r["account_id"] == account.account_id]
    assert [(r["month"], r["confirmed_by"], r["confirmed_late"], r["chases"] == len(chased)) for r in mine] == [
        (month, "collector-7", True, True)
    ]
    unconfirmed = await run_cli("statements", "list", "--unconfirmed", "--json", env=desk_env)
    assert account.account_id not in unconfirmed.stdout
    typo = await run_cli(
        "statements", "confirm", account.account_id, "--month", "2026-13", "--by", "li.wei", env=desk_env
    )
    assert (typo.returncode, typo.stderr.strip()) == (
        2,
        "error: --month: a month as YYYY-MM, e.g. 2026-12, not '2026-13'",
    )
