"""Field visits (domain §8): ordered only when the rules allow, taken by an agent of the field team, and the agent's
report driving the account."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from client import CollectionsClient, inputs
from dunning.account import ContactPoint
from dunning.outcomes import ContactBook, PointRecord
from dunning.policy import load_policy
from dunning.visits import VisitReport, decide, hand_out
from infra import field_visits
from tests.conftest import make_account, reach_the_debtor_on_dpd_44, server_today
from tests.test_operators import collections, filed
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


async def take_ours(pool, agents: list[str], account_id: str, now) -> dict | None:
    """The first order of this account the field team hands `agents` (other tests' orders taken on the way)."""
    while (order := await field_visits.take_next(pool, "field_team", agents, now)) is not None:
        if order["account_id"] == account_id:
            return order
    return None


async def test_a_visit_after_an_unpaid_contact_goes_to_two_agents_whose_joint_report_drives_the_account(
    env, run_worker, pool
):
    account = make_account(due=await server_today(env))
    address = account.points("address")[0].value
    pair = ["field-agent-3", "field-agent-5"]
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        # The debtor answers at 16:00 on 44 dpd and pays nothing: the 45 dpd visit waits until 16:00 next day.
        contact_at = await reach_the_debtor_on_dpd_44(env, account)
        await env.sleep(timedelta(days=1, hours=1))
        now = await env.get_current_time()

        # A home visit under cn_consumer needs two staff: one agent alone is not handed it.
        assert await take_ours(pool, ["field-agent-3"], account.account_id, now) is None
        assert await field_visits.most_staff_waiting(pool, "field_team") == 2
        order = await take_ours(pool, pair, account.account_id, now)
        assert order is not None
        assert (order["purpose"], order["address"], order["debtor_name"]) == ("pressure", address, "Test Debtor")
        assert (order["staff_required"], order["agents"]) == (2, pair)
        assert order["reason"].startswith("no money came in the 24 h after the contact")
        row = await pool.fetchrow(
            "SELECT a.taken_at, o.deadline, o.assigned_to, o.monthly_target FROM field_visit_orders o JOIN"
            " action_log a USING (action_key) WHERE o.visit_ref = $1",
            order["visit_ref"],
        )
        assert abs(row["taken_at"] - (contact_at + timedelta(hours=24))) < timedelta(seconds=1)
        assert row["deadline"] == row["taken_at"] + timedelta(days=7) and row["assigned_to"] == "field-agent-3"
        assert row["monthly_target"] == 25
        other = await field_visits.take_next(pool, "field_team", ["field-agent-4", "field-agent-6"], now)
        assert other is None or other["visit_ref"] != order["visit_ref"]  # an order goes to one pair

        visited = await env.get_current_time()
        promise_day = (visited + timedelta(days=3)).astimezone(contact_at.tzinfo).date()

        def report(report_id: str, *with_: str, agent: str = "field-agent-3") -> VisitReport:
            return inputs.parse_visit_report(
                report_id,
                order["visit_ref"],
                "promised",
                address,
                agent,
                "met the debtor at home",
                ["photos/v1/door.jpg"],
                "800",
                str(promise_day),
                account.currency,
                visited.isoformat(),
                list(with_),
                order["agents"],
            )

        with pytest.raises(inputs.InputError, match=f"field-agent-9 not sent on visit order {order['visit_ref']}"):
            report("R0", "field-agent-9")
        # One agent reporting alone: refused by the account, recorded with why, the order still the pair's.
        await CollectionsClient(env.client).signal(account.account_id, "visit_reported", report("R1"))
        await env.sleep(timedelta(minutes=10))
        alone = await pool.fetchval(
            "SELECT verdict FROM contact_events WHERE account_id = $1 AND event_id = 'R1'", account.account_id
        )
        assert alone == "rejected: a visit needs 2 staff under cn_consumer; the report names 1"
        assert (
            await pool.fetchval("SELECT status FROM field_visit_orders WHERE visit_ref = $1", order["visit_ref"])
            == "assigned"
        )
        await CollectionsClient(env.client).signal(account.account_id, "visit_reported", report("R2", "field-agent-5"))
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
    evidence = await pool.fetchrow(
        "SELECT agents, finding, photos, notes_sha256 FROM visit_evidence WHERE report_id = 'R2' AND account_id = $1",
        account.account_id,
    )
    assert (evidence["agents"], evidence["finding"], evidence["photos"]) == (pair, "promised", '["photos/v1/door.jpg"]')
    assert evidence["notes_sha256"] == hashlib.sha256(b"met the debtor at home").hexdigest()


def test_orders_go_to_the_agents_with_the_fewest_visits_this_month_and_the_target_is_no_cap():
    month = {"ann": 24, "bo": 20, "cy": 26}
    handed = hand_out([("V1", 1), ("V2", 2), ("V3", 1), ("V4", 4), ("V5", 2)], month)
    assert handed == {"V1": ["bo"], "V2": ["bo", "ann"], "V3": ["bo"], "V5": ["bo", "ann"]}
    assert "V4" not in handed  # four staff, three at work: it stays open
    assert month == {"ann": 24, "bo": 20, "cy": 26}  # counted on a copy
    past_target = hand_out([("V6", 1)], {"ann": 30, "bo": 31})  # everyone past the month's 25: it still goes
    assert past_target == {"V6": ["ann"]}


async def test_the_team_lead_hands_out_the_open_orders_balancing_each_agents_month(
    pool, sms_client, settings, database_url, tmp_path
):
    team = f"field_{uuid.uuid4().hex[:8]}"
    keys = []
    for _ in range(4):
        _, order = await filed(pool, sms_client, settings, "field_visit@45", "Test Lender", "order_field_visit")
        keys.append(order.action_key)
    await pool.execute("UPDATE field_visit_orders SET field_queue = $1 WHERE action_key = ANY($2)", team, keys)
    # ann made a visit this month already (with dan, who is off today).
    await pool.execute(
        "UPDATE field_visit_orders SET status = 'reported', agents = '{ann,dan}', assigned_to = 'ann',"
        " assigned_at = now() WHERE action_key = $1",
        keys[0],
    )

    handed = await collections(
        None,
        database_url,
        None,
        "visits",
        "dispatch",
        "--queue",
        team,
        "--agent",
        "ann",
        "--agent",
        "bo",
        "--agent",
        "cy",
        "--json",
        home=tmp_path,
    )
    month = await collections(None, database_url, None, "visits", "month", "--queue", team, "--json", home=tmp_path)

    assert handed.returncode == 0, handed.stderr
    orders = json.loads(handed.stdout)
    assert [len(o["agents"]) for o in orders] == [2, 2, 2]  # two staff on each home visit
    assert [o["agents"] for o in orders] == [["bo", "cy"], ["ann", "bo"], ["cy", "ann"]]
    assert {m["agent"]: (m["handed_out"], m["reported"], m["target"]) for m in json.loads(month.stdout)} == {
        "ann": (3, 1, 25),
        "bo": (2, 0, 25),
        "cy": (2, 0, 25),
        "dan": (1, 1, 25),
    }


def test_a_visit_after_unanswered_calls_says_how_many_went_unanswered():
    assert decide(RULES, "no_answer", book(phones_lost=False), None, None, NOW).reason == (
        "9 calls in a row went unanswered"
    )
