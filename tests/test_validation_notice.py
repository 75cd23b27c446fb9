"""The validation notice of Regulation F (12 CFR 1006.34) under us_consumer_loan: it goes before anything else,
nothing else reaches the consumer until it has, and it opens the validation period."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from client import CollectionsClient, inputs
from dunning.account import ContactPoint
from dunning.case import Case
from dunning.compliance import load_rules
from dunning.ledger import Ledger
from dunning.outcomes import ContactUpdated
from dunning.policy import Policy
from dunning.state import AccountState
from tests.conftest import UNIT_TESTS_TODAY, make_account, pinned
from workflows.account import AccountWorkflow

POLICY = pinned("us_consumer_loan", UNIT_TESTS_TODAY)
CHICAGO = ZoneInfo("America/Chicago")
ADDRESS = ContactPoint(kind="address", value="1 Test Road, Springfield IL")


def us_account(due: date, account_id: str = "US-1", with_address: bool = True):
    account = make_account(
        due=due,
        account_id=account_id,
        policy="us_consumer_loan",
        time_zone="America/Chicago",
        currency="USD",
        locale="en",
    )
    points = [p for p in account.contact_points if p.kind != "address"] + ([ADDRESS] if with_address else [])
    return account.model_copy(update={"contact_points": points})


def chicago(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=CHICAGO)


def opened_case(due: date, now: datetime, with_address: bool = True) -> Case:
    account = us_account(due, with_address=with_address)
    case = Case(account, POLICY, AccountState(ledger=Ledger(principal_minor=account.amount_due_minor), opened_at=now))
    case.open_at(now)
    return case


def test_the_notice_goes_first_and_the_validation_period_runs_30_days_from_assumed_receipt():
    # Opened on Tuesday 2026-11-24 at 12 dpd: the 6-dpd call task and texts are overdue, the notice still goes first.
    now = chicago(date(2026, 11, 24), 12)
    case = opened_case(date(2026, 11, 12), now)
    notice = case.next_step()
    assert (notice.step_id, notice.channel, notice.due_at) == ("validation_notice", "letter", now)
    text = next(p for p in case.plan if p.key == "sms_urge@12")
    blocked = case.contact_check(text, now)
    assert (blocked.verdict, blocked.rule) == ("blocked", "validation_notice: not sent yet (12 CFR 1006.34)")

    case.step_taken(notice, case.contact_check(notice, now), now)
    # Receipt is assumed 5 working days later - Thanksgiving (26 Nov) and the weekend do not count - on 2 Dec;
    # the period ends 30 days after that.
    assert case.state.validation_period_ends == date(2027, 1, 1)
    assert case.contact_check(text, now).verdict == "allowed"
    assert case.next_step().step_id != "validation_notice"


def test_without_an_address_nothing_goes_until_one_arrives_and_the_notice_is_sent_again():
    now = chicago(date(2026, 11, 24), 12)
    case = opened_case(date(2026, 11, 22), now, with_address=False)
    notice = case.next_step()
    case.step_taken(notice, None, now)  # the letter was skipped: no postal address on file
    assert case.state.validation_notice_sent_at is None and case.state.agenda == []
    call = next(p for p in case.plan if p.key == "call_task@1")
    assert case.contact_check(call, now).verdict == "blocked"

    later = now + timedelta(days=2)
    case.apply_contact_update(
        ContactUpdated(update_id="U1", point=ADDRESS, source="skip_trace", updated_at=later), later
    )
    again = case.next_step()
    assert again.step_id == "validation_notice" and again.due_at == later and again.key != notice.key


def test_a_policy_under_regulation_f_must_name_its_validation_notice():
    data = POLICY.model_dump(mode="json", by_alias=True, exclude={"digest"})
    data["validation_notice"] = None
    with pytest.raises(ValidationError, match="requires a validation notice before any other communication"):
        Policy.model_validate(data)
    assert load_rules("us_reg_f").validation_notice.period_days == 30


async def test_the_notice_is_the_first_thing_sent_and_ops_see_the_validation_period(env, run_worker, pool):
    async def trail(account):
        return [
            tuple(r)
            for r in await pool.fetch(
                "SELECT c.step_id, c.verdict, c.rule FROM contact_checks c JOIN action_log a USING (action_key)"
                " WHERE c.account_id = $1 ORDER BY a.taken_at, a.recorded_at",
                account.account_id,
            )
        ]

    today = (await env.get_current_time()).astimezone(CHICAGO).date()
    with_address = us_account(today - timedelta(days=3), account_id=f"VN{today:%m%d}A")
    without = us_account(today - timedelta(days=3), account_id=f"VN{today:%m%d}B", with_address=False)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(with_address)
        await CollectionsClient(env.client, queue).open(without)
        await env.sleep(timedelta(hours=1))
        view = await env.client.get_workflow_handle(with_address.workflow_id).query(AccountWorkflow.state)
        held = await trail(without)
        on_hold = await env.client.get_workflow_handle(without.workflow_id).query(AccountWorkflow.state)
        await CollectionsClient(env.client).signal(
            without.account_id,
            "contact_updated",
            inputs.parse_contact_update("A1", "address", ADDRESS.value, "debtor", None, None, "debtor"),
        )
        await env.sleep(timedelta(hours=1))
        after = (await trail(without))[1:]
        released = await env.client.get_workflow_handle(without.workflow_id).query(AccountWorkflow.state)

    sent = await trail(with_address)
    assert sent[0] == ("validation_notice", "allowed", "allowed"), "the notice is the first communication"
    assert all(verdict == "allowed" for _, verdict, _ in sent), "after it, the ladder's catch-up goes out"
    letter = await pool.fetchrow(
        "SELECT letter_kind, template, address FROM letter_jobs WHERE account_id = $1", with_address.account_id
    )
    assert tuple(letter) == ("validation_notice", "validation_notice", ADDRESS.value)
    assert view.validation_notice_sent_at is not None and view.validation_period_ends is not None
    assert view.validation_period_ends > today + timedelta(days=30)

    assert held == [("validation_notice", "blocked", "no postal address on file")], "no notice, no contact"
    assert on_hold.status == "open" and on_hold.next_action is None  # collection waits for an address
    assert after[0] == ("validation_notice", "allowed", "allowed"), after
    assert released.validation_notice_sent_at is not None and released.next_action is not None  # the ladder goes on
