"""Call frequency under Regulation F, under time skipping (12 CFR 1006.14(b)(2)(i)): a debtor who never picks up
is called at most 7 times in any 7 consecutive days; an eighth call is held until the day of the oldest attempt has
left the seven days, then placed inside the calling hours; and no call within 7 days after a conversation
(1006.14(b)(2)(ii)), even when the debtor is reached just before a follow-up day begins."""

from __future__ import annotations

import asyncio
import os
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio import activity

import worker
from activities.accounts import AccountActivities
from client import CollectionsClient
from dunning.channels import Channel
from dunning.compliance import ContactMade, breaches
from dunning.orders import ContactRecorded
from dunning.outcomes import ContactOutcome
from dunning.policy import load_policy
from dunning.state import AccountRun
from infra import audit
from tests.conftest import make_account
from tests.test_replay import HISTORIES
from workflows.account import AccountWorkflow

PHOENIX = ZoneInfo("America/Phoenix")  # a US debtor in a zone without daylight saving: local times stay exact
CAP = "cap:call 7 in 7 days"


async def sleep_until(env, day: date, at: time) -> None:
    """Skips time to a moment of the debtor's local day."""
    await env.sleep(datetime.combine(day, at, tzinfo=PHOENIX) - await env.get_current_time())


async def no_answer(env, account, outcome_id: str) -> None:
    """The dialer reports that the last call went unanswered (strategy 6: another call tomorrow at 19:00)."""
    await CollectionsClient(env.client).signal(
        account.account_id,
        "contact_outcome",
        ContactOutcome(
            outcome_id=outcome_id,
            code="no_answer",
            source="dialer",
            reported_by="dialer-1",
            contact_point=account.points("mobile")[0].value,
            occurred_at=await env.get_current_time(),
        ),
    )


def local(instant: datetime) -> str:
    return f"{instant.astimezone(PHOENIX):%Y-%m-%d %H:%M}"


async def test_an_eighth_call_attempt_within_7_days_waits_until_the_oldest_leaves_the_window(env, run_worker, pool):
    policy = load_policy("us_consumer_loan")
    rules = policy.contact_rules
    # Day 0 is the day the account reaches us, transferred at 89 days past due; day 1 it enters the 90+ stage.
    day0 = (await env.get_current_time()).astimezone(PHOENIX).date() + timedelta(days=1)
    day = lambda n: day0 + timedelta(days=n)  # noqa: E731
    account = make_account(due=day0 - timedelta(days=89), time_zone="America/Phoenix", currency="USD", locale="en")

    async with run_worker() as queue:
        await sleep_until(env, day(0), time(9))
        await env.client.start_workflow(
            AccountWorkflow.run,
            AccountRun(account=account, policy=policy),
            id=account.workflow_id,
            task_queue=queue,
            start_signal="account_document_received",
            start_signal_args=[account],
        )
        # Day 0, 09:00: the 60-89 stage's call task is caught up at once; at noon the dialer reports no answer.
        await sleep_until(env, day(0), time(12))
        await no_answer(env, account, "O1")
        # Day 1 brings the 90+ stage's call task at 10:00 on top of the evening call; every evening call goes
        # unanswered and the dialer says so at 20:00. That is the 7th attempt by day 5, 19:00.
        for n in range(1, 6):
            await sleep_until(env, day(n), time(20))
            await no_answer(env, account, f"O{n + 1}")
        # Day 6, 19:00: the eighth call falls due inside the 7 days that began on day 0 at 09:00.
        await sleep_until(env, day(6), time(20))
        waiting = await CollectionsClient(env.client).state(account.account_id)
        await sleep_until(env, day(7), time(12))

    checks = [
        dict(r)
        for r in await pool.fetch(
            "SELECT action_key, step_id, verdict, rule, rule_set, evaluated_at, local_time, allowed_at, attempts"
            " FROM contact_checks WHERE account_id = $1 AND channel = 'call' ORDER BY evaluated_at, step_id",
            account.account_id,
        )
    ]
    assert {c["rule_set"] for c in checks} == {"us_reg_f"}, "every call was judged under Regulation F"
    eighth_key = next(c["action_key"] for c in checks if c["action_key"].endswith(":no_answer_call:outcome-O6"))
    eighth = [c for c in checks if c["action_key"] == eighth_key]
    placed = [c for c in checks if c["verdict"] == "allowed"]

    # Seven attempts went out as scheduled, one attempt each.
    assert [(c["step_id"], local(c["evaluated_at"]), c["attempts"]) for c in placed if c not in eighth] == [
        ("call_task", f"{day(0)} 09:00", 1),
        ("call_task", f"{day(1)} 10:00", 1),
        ("no_answer_call", f"{day(1)} 19:00", 1),
        ("no_answer_call", f"{day(2)} 19:00", 1),
        ("no_answer_call", f"{day(3)} 19:00", 1),
        ("no_answer_call", f"{day(4)} 19:00", 1),
        ("no_answer_call", f"{day(5)} 19:00", 1),
    ], "the calls before the eighth are the ones the ladder and the unanswered calls scheduled, when scheduled"
    tasks = await pool.fetch(
        "SELECT stage, attempts_per_day FROM call_tasks WHERE account_id = $1"
        " AND purpose = 'call_task' ORDER BY due_from",
        account.account_id,
    )
    assert [tuple(t) for t in tasks] == [("60-89", 1), ("90+", 1)], "collectors may try a call task once a day"

    # The eighth is refused at 19:00 on day 6 and held: the evidence names the cap and when it may go.
    deferred = [c for c in eighth if c["verdict"] == "deferred"]
    assert [(c["rule"], c["local_time"]) for c in deferred] == [(CAP, f"{day(6)} 19:00 America/Phoenix")], (
        f"the eighth call in 7 days is deferred by the Reg F cap, not placed: {eighth}"
    )
    oldest = placed[0]["evaluated_at"]
    assert local(deferred[0]["allowed_at"]) == f"{day(7)} 08:00", (
        "it may go only once day 0, the day of the first attempt, has left the seven days: at 08:00 on day 7, the "
        "first lawful hour"
    )
    assert (waiting.next_action, waiting.next_action_at) == ("no_answer_call:outcome-O6", deferred[0]["allowed_at"]), (
        "ops see the call waiting for the cap"
    )

    # It went out the next morning, once the seven days had moved past day 0 - not before.
    went = [c for c in eighth if c["verdict"] == "allowed"]
    assert [local(c["evaluated_at"]) for c in went] == [f"{day(7)} 08:00"], f"the eighth call went out once: {eighth}"
    assert went[0]["evaluated_at"].astimezone(PHOENIX).date() - oldest.astimezone(PHOENIX).date() == timedelta(days=7)
    taken_at = await pool.fetchval("SELECT taken_at FROM action_log WHERE action_key = $1", eighth_key)
    assert taken_at == went[0]["evaluated_at"], "the call task was handed to collectors when the guard let it go"

    # Over any 7 consecutive days at most 7 attempts - and 7 were reached, so it was the guard that held the 8th.
    made = [ContactMade(channel=Channel.call, at=c["evaluated_at"], attempts=c["attempts"]) for c in placed]
    assert breaches(rules, account.time_zone, made, []) == [], "the calls placed break no Reg F rule"
    busiest = max(
        sum(
            m.attempts
            for m in made
            if 0 <= (c.at.astimezone(PHOENIX).date() - m.at.astimezone(PHOENIX).date()).days < 7
        )
        for c in made
    )
    assert busiest == 7, f"the busiest 7 days held {busiest} call attempts; Reg F presumes harassment above 7"


class SlowContactRecords(AccountActivities):
    """A busy database: recording a contact takes seconds, and the server's clock runs on meanwhile."""

    @activity.defn(name="record_contact")
    async def record_contact(self, recorded: ContactRecorded) -> None:
        await asyncio.sleep(6)
        await super().record_contact(recorded)


async def test_a_conversation_just_before_a_follow_up_day_begins_stops_it_before_it_begins(env, run_worker, pool):
    """12 CFR 1006.14(b)(2)(ii): the debtor is reached at 09:59:56 on a follow-up day that begins at 10:00. The
    account learns of it before the day begins, so the collector queue must hear of the cool-down before then too,
    however long recording the conversation takes."""
    policy = load_policy("us_consumer_loan")
    day0 = (await env.get_current_time()).astimezone(PHOENIX).date() + timedelta(days=1)
    account = make_account(
        due=day0 - timedelta(days=6), policy=policy.name, time_zone="America/Phoenix", currency="USD", locale="en"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(worker, "AccountActivities", SlowContactRecords)
        async with run_worker(task_queue="slow-records") as queue:
            await sleep_until(env, day0, time(9))
            await CollectionsClient(env.client, queue).open(account)
            await sleep_until(env, day0, time(12))  # the 6-17 stage's call task brings its follow-up days
            day = (await CollectionsClient(env.client).state(account.account_id)).follow_up_days[0]
            await sleep_until(env, day, time(9, 59, 56))
            spoken = await env.get_current_time()
            await CollectionsClient(env.client).signal(
                account.account_id,
                "contact_outcome",
                ContactOutcome(
                    outcome_id="O1",
                    code="reached",
                    source="dialer",
                    reported_by="dialer-1",
                    contact_point=account.points("mobile")[0].value,
                    occurred_at=spoken,
                ),
            )
            await sleep_until(env, day, time(12))
            history = await env.client.get_workflow_handle(account.workflow_id).fetch_history()
    if os.environ.get("RECORD_HISTORIES"):  # a history that takes the patched path (follow-ups-told-as-news-is-learnt)
        (HISTORIES / "reg_f_conversation_before_follow_up_day.json").write_text(history.to_json(), encoding="utf-8")

    _, found = await audit.compliance_report(pool, day0 - timedelta(days=7), day + timedelta(days=7))
    assert [b for b in found if b.startswith(account.account_id)] == []
    stopped = await pool.fetchrow(
        "SELECT status, starts_at, planned_at FROM follow_ups WHERE account_id = $1 AND day = $2",
        account.account_id,
        day,
    )
    assert local(stopped["starts_at"]) == f"{day} 10:00" and stopped["status"] == "stopped"
    assert stopped["planned_at"] < stopped["starts_at"], f"the day was stopped only once it had begun: {stopped}"
