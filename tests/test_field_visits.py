"""Field visits (domain §8): ordered only when the rules allow, taken by an agent of the field team, and the agent's
report driving the account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from client import CollectionsClient, inputs
from dunning.account import ContactPoint
from dunning.outcomes import ContactBook, PointRecord
from dunning.policy import load_policy
from dunning.visits import VisitReport, decide
from infra import field_visits
from tests.conftest import make_account, reach_the_debtor_on_dpd_44, server_today
from workflows.account import AccountWorkflow

RULES = load_policy("consumer_loan").field_visits
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


def book(*, phones_lost: bool) -> ContactBook:
    mobile = ContactPoint(kind="mobile", value="+8613800000000")
    return ContactBook(records=[PointRecord(point=mobile, invalid_since=NOW if phones_lost else None)])


def test_a_pressure_visit_waits_for_a_day_without_money_after_a_contact():
    reachable = book(phones_lost=False)
    assert decide(RULES, "pressure", reachable, None, None, NOW).refusal == (
        "a pressure visit follows a contact with the debtor, and there has been none"
    )
    contact = NOW - timedelta(hours=10)
    assert decide(RULES, "pressure", reachable, contact, None, NOW).wait_until == contact + timedelta(hours=24)
    day_ago = NOW - timedelta(hours=30)
    paid_before = decide(RULES, "pressure", reachable, day_ago, day_ago - timedelta(hours=1), NOW)
    assert paid_before.reason == "no money came in the 24 h after the contact of 2026-11-22 04:00 UTC"
    assert decide(RULES, "pressure", reachable, day_ago, day_ago + timedelta(hours=1), NOW).refusal == (
        "money came after the last contact with the debtor"
    )


def test_a_tracing_visit_only_once_every_phone_is_invalid():
    assert decide(RULES, "tracing", book(phones_lost=False), None, None, NOW).refusal == (
        "a tracing visit only once every phone of the debtor is invalid"
    )
    assert decide(RULES, "tracing", book(phones_lost=True), None, None, NOW).reason == (
        "every phone of the debtor is invalid"
    )


def test_a_promise_at_the_door_needs_its_amount_and_day():
    common = dict(report_id="R1", visit_ref="V1", address="1 Road", agent="a7", visited_at=NOW)
    with pytest.raises(ValueError, match="needs promised_minor and promised_date"):
        VisitReport(finding="promised", **common)
    with pytest.raises(ValueError, match="belong to a visit whose finding is 'promised'"):
        VisitReport(finding="found", promised_minor=100, **common)
    with pytest.raises(inputs.InputError, match="photos"):
        inputs.parse_visit_report("R1", "V1", "found", "1 Road", "a7", "", ["x"] * 21, None, None, "CNY", None)


async def test_a_visit_after_an_unpaid_contact_is_taken_by_an_agent_whose_report_drives_the_account(
    env, run_worker, pool
):
    account = make_account(due=await server_today(env))
    address = account.points("address")[0].value
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        # The debtor answers at 16:00 on 44 dpd and pays nothing: the 45 dpd visit waits until 16:00 next day.
        contact_at = await reach_the_debtor_on_dpd_44(env, account)
        await env.sleep(timedelta(days=1, hours=1))

        order = await field_visits.take_next(pool, "field_team", "field-agent-3")
        while order is not None and order["account_id"] != account.account_id:  # other tests' orders
            order = await field_visits.take_next(pool, "field_team", "field-agent-3")
        assert order is not None
        assert (order["purpose"], order["address"], order["debtor_name"]) == ("pressure", address, "Test Debtor")
        assert order["reason"].startswith("no money came in the 24 h after the contact")
        row = await pool.fetchrow(
            "SELECT a.taken_at, o.deadline, o.assigned_to FROM field_visit_orders o JOIN"
            " action_log a USING (action_key) WHERE o.visit_ref = $1",
            order["visit_ref"],
        )
        assert abs(row["taken_at"] - (contact_at + timedelta(hours=24))) < timedelta(seconds=1)
        assert row["deadline"] == row["taken_at"] + timedelta(days=7) and row["assigned_to"] == "field-agent-3"
        other = await field_visits.take_next(pool, "field_team", "field-agent-4")
        assert other is None or other["visit_ref"] != order["visit_ref"]  # an order goes to one agent

        visited = await env.get_current_time()
        promise_day = (visited + timedelta(days=3)).astimezone(contact_at.tzinfo).date()
        report = inputs.parse_visit_report(
            "R1",
            order["visit_ref"],
            "promised",
            address,
            "field-agent-3",
            "met the debtor at home",
            ["photos/v1/door.jpg"],
            "800",
            str(promise_day),
            account.currency,
            visited.isoformat(),
        )
        await CollectionsClient(env.client).signal(account.account_id, "visit_reported", report)
        await env.sleep(timedelta(hours=1))
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    assert view.commitment is not None and view.commitment.kind == "promise"
    assert [(i.amount_minor, i.due_date) for i in view.commitment.instalments] == [(80_000, promise_day)]
    reported = await pool.fetchrow(
        "SELECT status, finding, notes, photos FROM field_visit_orders WHERE visit_ref = $1", order["visit_ref"]
    )
    assert (reported["status"], reported["finding"], reported["notes"]) == (
        "reported",
        "promised",
        "met the debtor at home",
    )
    assert reported["photos"] == '["photos/v1/door.jpg"]'
