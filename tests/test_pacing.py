"""Workload pacing (domain §4): the days collectors follow a case up, as pure rules and through a running account.

The pure part uses the due date Monday 2026-03-02 under consumer_loan: 6-17 dpd is 2026-03-08 to 2026-03-19, and the
stage's call task is filed on Sunday 2026-03-08 at 10:00 Shanghai time."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from pydantic import ValidationError

from client import CollectionsClient, inputs
from dunning.case import Case
from dunning.channels import Channel
from dunning.compliance import ContactRules, load_rules
from dunning.contact import CeaseContact
from dunning.ledger import Ledger
from dunning.outcomes import ContactOutcome
from dunning.pacing import FollowUpRules, cadence
from dunning.policy import Policy, load_policy
from dunning.state import AccountState
from tests.conftest import make_account, server_today
from tests.test_case import DUE, SHANGHAI, at, promise
from tests.test_promises import sleep_until
from workflows.account import AccountWorkflow

POLICY = load_policy("consumer_loan")
RULES = POLICY.follow_up
PAYDAYS = [5, 10, 15, 28, 30]
STAGE_END = date(2026, 3, 20)  # the first day of 18-29


def march(*days: int) -> list[date]:
    return [date(2026, 3, day) for day in days]


# --- the cadence -------------------------------------------------------------------------------------------------


def test_other_cases_every_two_days_and_paydays_pull_a_follow_up_forward():
    assert cadence(RULES, date(2026, 3, 8), STAGE_END, None, 150, []) == march(10, 12, 14, 16, 18)
    # The 15th is a payday: worked on it, and the count goes on from there.
    assert cadence(RULES, date(2026, 3, 8), STAGE_END, None, 150, PAYDAYS) == march(10, 12, 14, 15, 17, 19)


def test_a_book_over_200_cases_follows_other_cases_up_every_three_days():
    assert cadence(RULES, date(2026, 3, 8), STAGE_END, None, 200, []) == march(10, 12, 14, 16, 18)
    assert cadence(RULES, date(2026, 3, 8), STAGE_END, None, 201, []) == march(11, 14, 17)
    assert cadence(RULES, date(2026, 3, 8), STAGE_END, None, 201, PAYDAYS) == march(10, 13, 15, 18)


def test_a_valid_case_is_followed_up_daily_while_it_stays_valid():
    assert cadence(RULES, date(2026, 3, 8), STAGE_END, date(2026, 3, 12), 150, PAYDAYS) == march(
        9, 10, 11, 12, 14, 15, 17, 19
    )


def test_book_sizes_must_run_from_the_smallest_to_an_unbounded_last():
    with pytest.raises(ValidationError, match="only the last book size is unbounded"):
        FollowUpRules(
            stages=["1-5"],
            valid_every_days=1,
            valid_for_days=7,
            others_every_days=[{"every_days": 3}, {"up_to_cases": 200, "every_days": 2}],
        )
    with pytest.raises(ValidationError, match="from the smallest up"):
        FollowUpRules(
            stages=["1-5"],
            valid_every_days=1,
            valid_for_days=7,
            others_every_days=[
                {"up_to_cases": 300, "every_days": 2},
                {"up_to_cases": 200, "every_days": 2},
                {"every_days": 3},
            ],
        )


def test_a_policy_may_follow_up_only_stages_that_call_and_end(tmp_path):
    data = POLICY.model_dump(mode="json", by_alias=True, exclude={"digest"})
    data["follow_up"]["stages"] = ["90+"]
    with pytest.raises(ValidationError, match="stage '90\\+' must be a stage of this policy that calls and ends"):
        Policy.model_validate(data)


def test_a_preferred_window_outside_the_allowed_hours_is_refused():
    data = load_rules("cn_consumer").model_dump(mode="json", by_alias=True)
    data["preferred"]["windows"]["call"] = [{"from": "07:00", "to": "09:30"}]
    with pytest.raises(ValidationError, match="preferred call window 07:00-09:30 lies outside the call windows"):
        ContactRules.model_validate(data)


# --- a case's follow-up plan -------------------------------------------------------------------------------------


def case_under(policy: Policy = POLICY) -> Case:
    account = make_account(due=DUE, account_id="PACE-1")
    return Case(
        account, policy, AccountState(ledger=Ledger(principal_minor=account.amount_due_minor), opened_at=at(3, 2, 9))
    )


def file_stage_task(case: Case, queue_cases: int | None = None):
    """Files the 6-17 call task at its time, as the workflow does, and returns the plan it brought."""
    task = next(p for p in case.plan if p.key == "call_task@6")
    case.state.queue_cases = queue_cases
    check = case.contact_check(task, task.due_at)
    plan = case.follow_up_plan(task, check, task.due_at, "PACE-1:life:call_task@6")
    case.step_taken(task, check, task.due_at, plan)
    return plan


def test_a_stage_call_task_brings_its_follow_up_days_at_the_first_best_window():
    plan = file_stage_task(case_under())
    assert [d.day for d in plan.days] == march(10, 12, 14, 15, 17, 19)
    assert {d.at.astimezone(SHANGHAI).time() for d in plan.days} == {time(10)}  # 10:00-11:30 opens the day
    assert {d.attempts for d in plan.days} == {3}  # the stage's cadence, within "3 calls a day"
    assert plan.written  # the task's own activity writes them


def test_the_queue_book_size_seen_at_the_last_task_sets_the_next_tasks_cadence():
    assert [d.day for d in file_stage_task(case_under(), queue_cases=350).days] == march(10, 13, 15, 18)


def test_a_promise_stops_follow_ups_and_its_end_plans_them_again():
    case = case_under()
    file_stage_task(case)
    case.take_commitment(promise("P1", date(2026, 3, 11)), at(3, 9, 11))
    stopped = case.refresh_follow_ups(at(3, 9, 11))
    assert stopped is not None and stopped.days == [] and not stopped.written  # the queue must hear of it
    case.follow_ups_written()
    assert case.refresh_follow_ups(at(3, 9, 12)) is None  # nothing new to tell
    case.end_commitment("broken", at(3, 14, 12))
    resumed = case.refresh_follow_ups(at(3, 14, 12))
    # The broken-promise treatment calls now (the 14th has its call); the cadence goes on after it.
    assert [d.day for d in resumed.days] == march(15, 17, 19)


def test_a_day_with_a_reaction_call_has_that_call_as_its_follow_up():
    case = case_under()
    file_stage_task(case)
    case.apply_outcome(
        ContactOutcome(
            outcome_id="O1", code="no_answer", source="dialer", reported_by="dialer-1", occurred_at=at(3, 11, 12)
        ),
        at(3, 11, 12),
    )
    # no_answer calls again the next evening (the 12th at 19:00): that is the 12th's follow-up.
    assert [d.day for d in case.refresh_follow_ups(at(3, 11, 12)).days] == march(14, 15, 17, 19)


def test_under_regulation_f_a_conversation_makes_the_case_valid_but_the_cool_down_keeps_its_days_free():
    case = case_under(load_policy("us_consumer_loan"))
    case.state.validation_notice_sent_at = at(3, 2, 9)
    assert {d.attempts for d in file_stage_task(case).days} == {1}  # 7 in 7 days: one attempt a day
    case.apply_outcome(
        ContactOutcome(
            outcome_id="O1", code="reached", source="collector", reported_by="agent-7", occurred_at=at(3, 9, 11)
        ),
        at(3, 9, 11),
    )
    plan = case.refresh_follow_ups(at(3, 9, 11, 5))
    # Day 1 of the cool-down is the 9th: calls resume on the 16th, the last day the case counts as valid; then
    # every two days again. Today's calls stop too, had the day been a follow-up day already begun.
    assert [d.day for d in plan.days] == march(16, 18)
    assert plan.stopped and plan.replace_from == date(2026, 3, 9)


def test_under_regulation_f_a_promise_taken_on_the_phone_starts_the_cool_down():
    case = case_under(load_policy("us_consumer_loan"))
    case.state.validation_notice_sent_at = at(3, 2, 9)
    case.take_commitment(promise("P1", date(2026, 3, 9)), at(3, 4, 11))  # taken by call on the 4th
    confirmation = next(p for p in case.state.agenda if p.channel == "call")
    check = case.contact_check(confirmation, confirmation.due_at)
    assert check.verdict == "deferred" and check.rule == "cool_down:7 days after a conversation"
    assert check.at.astimezone(SHANGHAI) == at(3, 11, 8)  # the 4th is day 1; the 11th at 08:00 is the first call


def test_a_day_is_fixed_once_it_has_begun_and_counts_for_the_caps():
    case = case_under()
    file_stage_task(case)
    plan = case.refresh_follow_ups(at(3, 10, 8))  # before the 10th's 10:00 start
    assert plan is None  # nothing to tell the queue: the 10th is today's work, the rest unchanged
    assert [d.day for d in case.state.follow_ups.days] == march(12, 14, 15, 17, 19)
    assert any(c.at == at(3, 10, 10) and c.attempts == 3 for c in case.state.contacts_made)


def test_a_conversation_on_a_follow_up_day_stops_that_day_s_calls_under_regulation_f():
    case = case_under(load_policy("us_consumer_loan"))
    case.state.validation_notice_sent_at = at(3, 2, 9)
    file_stage_task(case)
    assert case.refresh_follow_ups(at(3, 10, 0, 30)) is None  # the 10th has begun: fixed, nothing to tell
    case.apply_outcome(
        ContactOutcome(
            outcome_id="O1", code="reached", source="dialer", reported_by="dialer-1", occurred_at=at(3, 10, 9)
        ),
        at(3, 10, 9),
    )
    stopped = case.refresh_follow_ups(at(3, 10, 9))
    assert stopped.stopped and stopped.replace_from == date(2026, 3, 10)  # the 10th's calls stop
    case.follow_ups_written()
    assert case.refresh_follow_ups(at(3, 10, 12)) is None  # told once
    # The cool-down ends while the account sleeps; on the 19th, the stage's last follow-up day, the debtor is
    # reached again at 09:00 before anything else woke the account: that day's calls stop too.
    assert [d.day for d in case.state.follow_ups.days] == march(17, 19)
    case.apply_outcome(
        ContactOutcome(
            outcome_id="O2", code="reached", source="dialer", reported_by="dialer-1", occurred_at=at(3, 19, 9)
        ),
        at(3, 19, 9),
    )
    again = case.refresh_follow_ups(at(3, 19, 9))
    assert again is not None and again.stopped and again.replace_from == date(2026, 3, 19)


def test_a_cease_on_calls_stops_follow_ups_today_s_included():
    case = case_under()
    file_stage_task(case)
    case.apply_cease(
        CeaseContact(
            request_id="C1", channels=[Channel.call], reason="asked us to stop calling", received_at=at(3, 10, 9)
        )
    )
    stopped = case.refresh_follow_ups(at(3, 10, 9))
    assert stopped.days == [] and stopped.stopped and stopped.replace_from == date(2026, 3, 10)


def test_a_paused_or_closed_case_has_no_follow_ups():
    case = case_under()
    file_stage_task(case)
    case.pause(at(3, 9, 12))
    assert case.refresh_follow_ups(at(3, 9, 12)).days == []


# --- through a running account -----------------------------------------------------------------------------------


async def test_collectors_see_each_follow_up_day_in_their_worklist_and_a_promise_stops_them(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(due=today)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        handle = env.client.get_workflow_handle(account.workflow_id)
        await sleep_until(env, today + timedelta(days=6), time(12))
        planned = (await handle.query(AccountWorkflow.state)).follow_up_days
        first = planned[0]
        await sleep_until(env, first, time(12))
        worklist = await pool.fetch(
            "SELECT * FROM collector_worklist WHERE account_id = $1 AND day = $2", account.account_id, first
        )
        # The mobile goes dead twice: it leaves the day's phone list at once.
        mobile = account.points("mobile")[0].value
        for outcome_id in ("L1", "L2"):
            await CollectionsClient(env.client).signal(
                account.account_id,
                "contact_outcome",
                inputs.parse_outcome(outcome_id, "line_dead", "dialer", "dialer-1", mobile, ""),
            )
        await env.sleep(timedelta(minutes=5))
        dialled = await pool.fetchval(
            "SELECT phone_order FROM collector_worklist WHERE account_id = $1 AND day = $2", account.account_id, first
        )
        await CollectionsClient(env.client).signal(
            account.account_id,
            "promise_made",
            inputs.parse_promise(
                "P1", "2500.00", "CNY", (first + timedelta(days=3)).isoformat(), None, "call", "agent-7"
            ),
        )
        await env.sleep(timedelta(minutes=5))
        rows = await pool.fetch(
            "SELECT day, status FROM follow_ups WHERE account_id = $1 AND day > $2 ORDER BY day",
            account.account_id,
            today + timedelta(days=6),
        )
        stopped_worklist = await pool.fetch(
            "SELECT * FROM collector_worklist WHERE account_id = $1 AND day >= $2", account.account_id, first
        )

    stage_end = today + timedelta(days=18)
    assert planned and all(today + timedelta(days=6) < day < stage_end for day in planned)
    assert len(worklist) == 1 and worklist[0]["stage"] == "6-17" and worklist[0]["attempts"] == 3
    assert worklist[0]["attempt_windows"] == '["10:00-11:30", "14:00-16:30", "19:00-21:00"]'
    assert mobile in worklist[0]["phone_order"] and mobile not in dialled and dialled != "[]"
    assert set(planned) <= {r["day"] for r in rows}
    # The promise stops every follow-up, the day being worked included (it still counts as worked); a day the
    # evening call after the dead line took was withdrawn before.
    statuses = {r["day"]: r["status"] for r in rows}
    assert statuses[first] == "stopped" and set(statuses.values()) <= {"stopped", "withdrawn"}
    assert stopped_worklist == []
