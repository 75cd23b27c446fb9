"""Whole ladders under time skipping: every action on its dpd, in PostgreSQL, with the right work orders."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import WorkflowHandle

from activities import treatments as treatments_module
from client import CollectionsClient
from dunning import ladder
from dunning.account import local_date
from dunning.channels import Channel
from dunning.policy import load_policy
from tests.conftest import make_account, pinned, server_today
from workflows.account import AccountWorkflow


async def taken_actions(pool, account_id: str) -> list[tuple[str, int, int, str]]:
    """(step, planned dpd, dpd on the local day it was actually taken, result) in the order taken."""
    rows = await pool.fetch(
        "SELECT a.step_id, a.dpd, a.taken_at, a.result, acc.due_date, acc.time_zone FROM action_log a"
        " JOIN accounts acc USING (account_id) WHERE account_id = $1 AND taken_at IS NOT NULL"
        " ORDER BY taken_at, action_key",
        account_id,
    )
    return [
        (r["step_id"], r["dpd"], (local_date(r["taken_at"], r["time_zone"]) - r["due_date"]).days, r["result"])
        for r in rows
    ]


async def test_consumer_loan_ladder_from_1_to_180_dpd(env, run_worker, pool, twilio):
    account = make_account(due=await server_today(env))
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        handle: WorkflowHandle = env.client.get_workflow_handle(account.workflow_id)
        await env.sleep(timedelta(days=181))
        view = await handle.query(AccountWorkflow.state)

    policy = pinned("consumer_loan")
    # A potential payer until 90 dpd, when the terminal phase makes it long-term: the legal route's review is added.
    expected = [(p.step_id, p.dpd) for p in ladder.plan(policy, account) if p.dpd < 90] + [
        (p.step_id, p.dpd) for p in ladder.plan(policy, account, "long_term") if p.dpd >= 90
    ]
    actions = await taken_actions(pool, account.account_id)
    assert [(step, dpd) for step, dpd, _, _ in actions] == expected
    assert all(planned == actual for _, planned, actual, _ in actions), actions
    # The debtor never answered, so the 45 dpd pressure visit (domain §8: after a contact that brought no money)
    # is not ordered; everything else goes.
    assert all(result == ("skipped" if step == "field_visit" else "done") for step, *_, result in actions), actions
    # A query sees workflow time as of its last task: the write-off review at 180 dpd.
    assert view.status == "open" and view.dpd == 180 and view.stage == "90+"
    assert view.actions_taken == len(expected)

    # Each channel's work order exists once per step.
    counts = {
        table: await pool.fetchval(f"SELECT count(*) FROM {table} WHERE account_id = $1", account.account_id)
        for table in (
            "sms_messages",
            "call_tasks",
            "letter_jobs",
            "field_visit_orders",
            "agency_placements",
            "internal_tasks",
        )
    }
    assert counts == {
        "sms_messages": 6,
        "call_tasks": 6,
        "letter_jobs": 4,
        "field_visit_orders": 0,
        "agency_placements": 1,
        "internal_tasks": 3,  # the legal-action reviews at 90 and 120 dpd, the write-off review at 180
    }
    sent = [m for m in twilio.messages if m["to"] == account.points("mobile")[0].value]
    assert len(sent) == 6
    assert all("STOP" in m["body"] for m in sent)
    letters = await pool.fetch(
        "SELECT letter_kind, delivery FROM letter_jobs WHERE account_id = $1 ORDER BY created_at", account.account_id
    )
    assert [(r["letter_kind"], r["delivery"]) for r in letters] == [
        ("first_collection", "ordinary"),
        ("second_collection", "ordinary"),
        ("final_collection", "registered"),
        ("lawyer", "registered"),
    ]
    history = await handle.fetch_history()
    # About 250 for the ladder, and a marker for each day the account wakes while its calendar does not know the next
    # 60 days (it asks the worker for newly announced days: the weeks before a State Council notice reaches the
    # library's release, or all along while the release has none for the coming year).
    assert len(history.events) <= 280


async def test_b2b_ladder_starts_7_days_before_due_and_escalates(env, run_worker, pool):
    account = make_account(
        policy="b2b_receivables",
        currency="USD",
        time_zone="America/Chicago",
        locale="en",
        due=await server_today(env, "America/Chicago") + timedelta(days=10),
    )
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=10 + 130))  # to 130 dpd: the lawyer's letter (120) waits for its approver

    policy = pinned("b2b_receivables")
    plan = ladder.plan(policy, account)
    taken = await taken_actions(pool, account.account_id)
    assert policy.statements is not None
    cycle = {action.id for action in policy.statements.actions()}  # the monthly statements: agenda steps of their own
    actions = [a for a in taken if not a[0].startswith("approval_") and a[0] not in cycle]
    assert [(step, dpd) for step, dpd, _, _ in actions] == [(p.step_id, p.dpd) for p in plan]
    statements_sent = [dpd for step, dpd, _, _ in taken if step == "statement_sent"]
    assert len(statements_sent) >= 3 and max(statements_sent) < 90  # monthly, until the lock
    # Nobody approved the lock (90 dpd) or the lawyer's letter (120): each time the owner was reminded after 2
    # working days and passed over after 5.
    filed = {step: account.due_date + timedelta(days=actual) for step, _, actual, _ in actions}

    def working_days_after(step: str, days: int) -> int:
        return (policy.working_days.add_working_days(filed[step], days) - account.due_date).days

    assert [(step, actual) for step, _, actual, _ in taken if step.startswith("approval_")] == [
        ("approval_reminder", working_days_after("customer_lock", 2)),
        ("approval_escalation", working_days_after("customer_lock", 5)),
        ("approval_reminder", working_days_after("lawyer_letter", 2)),
        ("approval_escalation", working_days_after("lawyer_letter", 5)),
    ]
    # Each went out on the day the plan placed it: the rung's own day, or (cn_commercial's hints) the next working
    # day off a weekend or month-end, where a weekend's daily e-mails became one.
    assert [actual for _, _, actual, _ in actions] == [ladder.dpd_at(account, p.due_at) for p in plan], actions
    assert actions[0][:2] == ("pre_due_reminder", -7)
    contact_days = [
        account.due_date + timedelta(days=actual) for step, _, actual, _ in actions if step.startswith("chase_")
    ]
    assert not [day for day in contact_days if day.weekday() >= 5], "no chase on a weekend"
    rungs = {
        step: [dpd for s, dpd, _, _ in actions if s == step] for step in ("chase_email_week_1", "chase_email_daily")
    }
    assert rungs["chase_email_week_1"] and set(rungs["chase_email_week_1"]) <= {1, 3, 5, 7}
    assert set(rungs["chase_email_daily"]) <= set(range(8, 31))
    daily = [
        day
        for day, (step, *_) in zip(contact_days, [a for a in actions if a[0].startswith("chase_")])
        if step == "chase_email_daily"
    ]
    assert daily and len(daily) == len(set(daily)), "at most one daily chase a day"
    tasks = await pool.fetch(
        "SELECT t.task, t.status FROM internal_tasks t JOIN action_log a USING (action_key)"
        " WHERE t.account_id = $1 AND a.step_id <> ALL($2) ORDER BY t.created_at",
        account.account_id,
        sorted(cycle),
    )
    assert [(t["task"], t["status"]) for t in tasks] == [
        ("supervisor", "open"),
        ("manager", "open"),
        ("general_manager", "open"),
        ("customer_lock", "awaiting_approval"),
        ("remind_approver", "open"),
        ("escalate_approval", "open"),
        ("remind_approver", "open"),
        ("escalate_approval", "open"),
    ]
    emails = await pool.fetch("SELECT subject, body FROM email_jobs WHERE account_id = $1", account.account_id)
    ladder_emails = sum(1 for step, *_ in actions if "email" in step or step == "pre_due_reminder")
    mailed = {action.id for action in policy.statements.actions() if action.channel is Channel.email}
    cycle_emails = sum(1 for step, *_ in taken if step in mailed)
    assert len(emails) == ladder_emails + cycle_emails
    assert all("UNSUBSCRIBE" in e["body"] for e in emails)


async def test_account_onboarded_late_takes_only_the_latest_missed_step_per_channel(env, run_worker, pool):
    account = make_account(due=await server_today(env) - timedelta(days=40))
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(hours=1))

    taken = [(step, dpd) for step, dpd, _, _ in await taken_actions(pool, account.account_id)]
    assert taken == [("call_task", 30), ("sms_severe", 30), ("letter_final", 35)]
    skipped = await pool.fetchval(
        "SELECT count(*) FROM action_log WHERE account_id = $1 AND result = 'skipped'", account.account_id
    )
    assert skipped == 10  # sms at 1, 3, 6, 12, 18; calls at 1, 6, 18; letters at 10, 20


async def test_an_edited_policy_changes_only_accounts_opened_after_the_edit(env, run_worker, pool, monkeypatch):
    today = await server_today(env)
    before = make_account(due=today)
    after = make_account(due=today)
    shipped = load_policy("consumer_loan")
    # The edit: version 2 sends the first letter at 8 dpd instead of 10.
    edited_steps = [
        step.model_copy(update={"schedule": step.schedule.model_copy(update={"at": [8]})})
        if step.id == "letter_first"
        else step
        for step in shipped.steps
    ]
    edited = shipped.model_copy(update={"version": shipped.version + 1, "steps": edited_steps})
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(before)
        # Answered once the worker has chosen and pinned its policy, before the edit.
        await env.client.get_workflow_handle(before.workflow_id).query(AccountWorkflow.state)
        monkeypatch.setattr(treatments_module, "load_policy", lambda name: edited)
        await CollectionsClient(env.client, queue).open(after)
        await CollectionsClient(env.client, queue).open(before)  # billing resends it: the pin holds
        await env.sleep(timedelta(days=11))
        views = [
            await env.client.get_workflow_handle(a.workflow_id).query(AccountWorkflow.state) for a in (before, after)
        ]

    assert [v.policy for v in views] == [shipped.ref, edited.ref]
    letters = {
        account.account_id: [
            dpd for step, dpd, _, _ in await taken_actions(pool, account.account_id) if step == "letter_first"
        ]
        for account in (before, after)
    }
    assert letters == {before.account_id: [10], after.account_id: [8]}
    policy_refs = await pool.fetch(
        "SELECT account_id, policy_ref FROM accounts WHERE account_id = ANY($1)", [before.account_id, after.account_id]
    )
    assert {r["account_id"]: r["policy_ref"] for r in policy_refs} == {
        before.account_id: shipped.ref,
        after.account_id: edited.ref,
    }
