"""Channel activities against PostgreSQL and the Twilio stand-in: the work order each one files, once."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from temporalio.testing import ActivityEnvironment

from activities.channels import ChannelActivities
from client import inputs
from dunning.account import ContactPoint
from dunning.case import Case
from dunning.ledger import Ledger
from dunning.letters import letter_ref
from dunning.policy import load_policy
from dunning.state import AccountState
from tests.conftest import channel_activities, make_account, step_order

DUE = date(2026, 3, 2)
DUE_AT = datetime.combine(DUE, time(9), tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def channels(pool, sms_client, settings) -> ChannelActivities:
    return channel_activities(pool, sms_client, settings)


async def run_twice(activity, order):
    """Carries the order out, then again as a retry would: the second call must change nothing."""
    first = await ActivityEnvironment().run(activity, order)
    again = await ActivityEnvironment().run(activity, order)
    assert again == first
    return first


async def test_call_task_carries_the_stage_phone_order_and_cadence(pool, channels):
    account = make_account(due=DUE)
    order = await step_order(pool, account, "call_task@6")
    result = await run_twice(channels.create_call_task, order)
    task = await pool.fetchrow("SELECT * FROM call_tasks WHERE action_key = $1", order.action_key)
    assert result.status == "done"
    assert (task["stage"], task["attempts_per_day"], task["min_numbers"]) == ("6-17", 3, 2)
    # Stage 6-17 dials the debtor's phones first, then contact persons' (domain §2).
    assert '"owner": "contact"' in task["phone_order"] and task["phone_order"].index('"debtor"') < task[
        "phone_order"
    ].index('"contact"')
    assert await pool.fetchval("SELECT count(*) FROM call_tasks WHERE account_id = $1", account.account_id) == 1
    # ... and tells the collector contact persons may only be asked where the debtor is, never told of the debt.
    assert task["third_parties"] == "locate_only"


async def test_first_call_task_never_lists_contact_persons(pool, channels):
    order = await step_order(pool, make_account(due=DUE), "call_task@1")
    await run_twice(channels.create_call_task, order)
    task = await pool.fetchrow("SELECT phone_order FROM call_tasks WHERE action_key = $1", order.action_key)
    assert '"contact"' not in task["phone_order"]


async def test_letter_job_records_kind_delivery_address_and_amount(pool, channels):
    account = make_account(due=DUE, amount_minor=123_456)
    order = await step_order(pool, account, "letter_final@35")
    await run_twice(channels.queue_letter, order)
    job = await pool.fetchrow("SELECT * FROM letter_jobs WHERE action_key = $1", order.action_key)
    assert (job["letter_kind"], job["delivery"], job["address"], job["amount_minor"], job["locale"]) == (
        "final_collection",
        "registered",
        "1 Test Road, Shanghai",
        123_456,
        "zh",
    )


async def test_agency_placement_records_commission_and_recall_date(pool, channels):
    order = await step_order(pool, make_account(due=DUE), "agency_placement@90")
    await run_twice(channels.place_with_agency, order)
    placement = await pool.fetchrow("SELECT * FROM agency_placements WHERE action_key = $1", order.action_key)
    assert placement["agency_id"] == order.agency.id
    assert placement["commission_rate"] == order.agency.commission_rate
    assert (placement["recall_at"] - placement["placed_at"]).days == order.agency.recall_after_days


async def test_write_off_review_waits_for_approval(pool, channels):
    order = await step_order(pool, make_account(due=DUE), "write_off_review@180")
    await run_twice(channels.raise_internal_task, order)
    task = await pool.fetchrow("SELECT task, status FROM internal_tasks WHERE action_key = $1", order.action_key)
    assert (task["task"], task["status"]) == ("write_off_review", "awaiting_approval")


async def test_field_visit_without_an_address_is_skipped_and_logged(pool, channels):
    account = make_account(due=DUE)
    account = account.model_copy(update={"contact_points": [p for p in account.contact_points if p.kind != "address"]})
    order = await step_order(pool, account, "field_visit@45")
    result = await run_twice(channels.order_field_visit, order)
    assert (result.status, result.detail) == ("skipped", "no address to visit")
    logged = await pool.fetchrow("SELECT result, detail FROM action_log WHERE action_key = $1", order.action_key)
    assert (logged["result"], logged["detail"]) == ("skipped", "no address to visit")
    assert await pool.fetchval("SELECT count(*) FROM field_visit_orders WHERE account_id = $1", account.account_id) == 0


async def test_sms_to_an_opted_out_number_is_rejected_and_recorded(pool, channels, twilio):
    account = make_account(due=DUE)
    twilio.opt_out(account.points("mobile")[0].value)
    order = await step_order(pool, account, "sms_reminder@1")
    result = await run_twice(channels.send_sms, order)
    assert (result.status, result.detail) == ("rejected", "twilio error 21610")
    sms = await pool.fetchrow("SELECT status, error_code FROM sms_messages WHERE action_key = $1", order.action_key)
    assert (sms["status"], sms["error_code"]) == ("rejected", 21610)


async def test_a_mobile_billing_gave_that_is_a_known_landline_is_never_texted(pool, channels, twilio):
    account = make_account(due=DUE)
    landline = ContactPoint(kind="mobile", value="021 6123 4567")  # billing called it a mobile
    account = inputs.check_contact_points(
        account.model_copy(update={"contact_points": [landline, *account.points("address")]})
    )
    order = await step_order(pool, account, "sms_reminder@1")
    result = await run_twice(channels.send_sms, order)
    assert (result.status, result.detail) == (
        "skipped",
        "the mobile number on file is a landline, which takes no texts",
    )
    logged = await pool.fetchrow("SELECT result, detail FROM action_log WHERE action_key = $1", order.action_key)
    assert tuple(logged) == ("skipped", "the mobile number on file is a landline, which takes no texts")
    assert not [m for m in twilio.messages if m["to"] == "+862161234567"]


async def test_b2b_email_is_rendered_in_the_debtor_language_with_an_opt_out(pool, channels):
    account = make_account(due=DUE, policy="b2b_receivables", currency="USD", time_zone="America/Chicago", locale="en")
    order = await step_order(pool, account, "chase_email_daily@11")
    await run_twice(channels.send_email, order)
    mail = await pool.fetchrow(
        "SELECT to_address, subject, body FROM email_jobs WHERE action_key = $1", order.action_key
    )
    assert mail["to_address"] == account.points("email")[0].value
    assert mail["subject"] == "Overdue: 2,500.00 USD, 11 days past due"
    assert "UNSUBSCRIBE" in mail["body"]


async def test_b2b_lawyer_letter_waits_for_the_owner_approval(pool, channels):
    account = make_account(due=DUE, policy="b2b_receivables", currency="USD", time_zone="America/Chicago", locale="en")
    demand = await step_order(pool, account, "demand_letter@100")
    lawyer = await step_order(pool, account, "lawyer_letter@120")
    await run_twice(channels.queue_letter, demand)
    result = await run_twice(channels.queue_letter, lawyer)
    assert result.detail == f"lawyer letter {letter_ref(lawyer.action_key)} awaiting approval (registered)"
    statuses = {
        r["letter_kind"]: r["status"]
        for r in await pool.fetch(
            "SELECT letter_kind, status FROM letter_jobs WHERE account_id = $1", account.account_id
        )
    }
    assert statuses == {"formal_demand": "queued", "lawyer": "awaiting_approval"}


async def test_a_step_that_failed_for_good_is_logged_as_failed(pool, channels):
    order = await step_order(pool, make_account(due=DUE), "letter_first@10")
    first = await ActivityEnvironment().run(channels.record_failure, order, "template missing")
    result = await ActivityEnvironment().run(channels.record_failure, order, "template missing")
    assert result == first
    assert (result.status, result.detail) == ("failed", "template missing")
    logged = await pool.fetchrow("SELECT result, detail FROM action_log WHERE action_key = $1", order.action_key)
    assert (logged["result"], logged["detail"]) == ("failed", "template missing")


async def test_a_retaken_call_task_writes_the_follow_up_days_of_the_plan_that_holds(pool, channels):
    account = make_account(due=DUE)
    order = await step_order(pool, account, "call_task@6")
    case = Case(account, load_policy("consumer_loan"), AccountState(ledger=Ledger(principal_minor=1), opened_at=DUE_AT))
    task = next(p for p in case.plan if p.key == "call_task@6")
    plan = case.follow_up_plan(task, case.contact_check(task, task.due_at), task.due_at, order.action_key)

    def following_up(plan):
        return order.model_copy(update={"details": order.details.model_copy(update={"follow_ups": plan})})

    first = await ActivityEnvironment().run(channels.create_call_task, following_up(plan))
    # Taken again after giving way to news that changed the plan: the task stays filed once, the new days hold.
    fewer = plan.model_copy(update={"days": plan.days[:2]})
    again = await ActivityEnvironment().run(channels.create_call_task, following_up(fewer))
    rows = await pool.fetch("SELECT day, status FROM follow_ups WHERE account_id = $1 ORDER BY day", account.account_id)
    assert (first.status, again.status, first.reference) == ("done", "done", again.reference)
    assert first.queue_cases >= 1 and again.queue_cases >= 1  # its queue counts it among its open accounts
    assert [r["day"] for r in rows if r["status"] == "planned"] == [d.day for d in plan.days[:2]]
    assert {r["status"] for r in rows if r["day"] > plan.days[1].day} == {"withdrawn"}
