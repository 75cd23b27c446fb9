"""Contact persons (domain §2, §13; GB/T 45251, NIFA art. 14; 12 CFR 1006.10): called only while the debtor cannot be
reached, under Regulation F once per person unless they ask to be called again, the guard's word on each phone kept
as evidence, and a call the rule did not allow counted as a breach."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import pytest

from client import CollectionsClient
from dunning.account import AccountDocument, local_datetime
from dunning.channels import ThirdParties
from dunning.compliance import DebtorReach, load_rules, third_party_refusal
from dunning.outcomes import ContactOutcome
from infra import audit
from tests.conftest import make_account, server_today
from tests.test_call_queue import take_ours

OPENED = datetime(2026, 3, 1, 2, tzinfo=UTC)
CN, US = load_rules("cn_consumer"), load_rules("us_reg_f")


def reach(last_conversation_at: datetime | None = None, phones_lost: bool = False) -> DebtorReach:
    return DebtorReach(opened_at=OPENED, last_conversation_at=last_conversation_at, phones_lost=phones_lost)


# --- the rule (pure) -----------------------------------------------------------------------------------------------


def test_a_contact_person_is_called_only_once_the_debtor_has_been_unreachable_for_the_rule_sets_days():
    stage = ThirdParties.locate_only
    assert third_party_refusal(CN, stage, reach(), 0, OPENED + timedelta(days=2)) == (
        "the debtor is reachable: in collection since 2026-03-01 02:00 UTC, under 3 days ago"
    )
    assert third_party_refusal(CN, stage, reach(), 0, OPENED + timedelta(days=3)) == ""
    spoken = OPENED + timedelta(days=5)
    assert third_party_refusal(CN, stage, reach(spoken), 0, spoken + timedelta(days=1)) == (
        "the debtor is reachable: last spoken with 2026-03-06 02:00 UTC, under 3 days ago"
    )
    # Every debtor phone dead: the debtor cannot be reached however recently they spoke.
    assert third_party_refusal(CN, stage, reach(spoken, phones_lost=True), 0, spoken + timedelta(hours=1)) == ""
    assert third_party_refusal(CN, ThirdParties.none, reach(), 0, OPENED + timedelta(days=30)) == (
        "the stage calls no contact persons"
    )


def test_under_regulation_f_a_contact_person_is_called_once():
    later = OPENED + timedelta(days=8)
    assert third_party_refusal(US, ThirdParties.locate_only, reach(), 0, later) == ""
    assert third_party_refusal(US, ThirdParties.locate_only, reach(), 1, later) == (
        "called 1 time(s) already; 1 per person unless they ask to be called again"
    )
    assert third_party_refusal(CN, ThirdParties.pressure, reach(), 5, later) == ""  # no limit per person in China


def test_rule_sets_pinned_before_the_rule_leave_it_to_the_stage():
    pinned = CN.model_copy(
        update={"third_parties": CN.third_parties.model_copy(update={"unreachable_after_days": None})}
    )
    assert third_party_refusal(pinned, ThirdParties.locate_only, reach(OPENED), 0, OPENED) == ""


# --- through the ladder --------------------------------------------------------------------------------------------


async def sleep_to(env, account: AccountDocument, dpd: int, at: time) -> None:
    """Skips time to a moment of the debtor's day `dpd` days past due."""
    moment = local_datetime(account.due_date + timedelta(days=dpd), at, account.time_zone)
    await env.sleep(moment - await env.get_current_time())


def outcome(outcome_id: str, code: str, point: str, at: datetime) -> ContactOutcome:
    return ContactOutcome(
        outcome_id=outcome_id, code=code, source="collector", contact_point=point, reported_by="agent7", occurred_at=at
    )


async def phones_of(pool, account_id: str, stage: str) -> list[dict]:
    phones = await pool.fetchval(
        "SELECT phone_order FROM call_tasks WHERE account_id = $1 AND stage = $2", account_id, stage
    )
    assert phones is not None, f"no call task of stage {stage}"
    return json.loads(phones)


async def checks_of(pool, account_id: str, point: str) -> list[tuple[str, str]]:
    rows = await pool.fetch(
        "SELECT verdict, reason FROM third_party_checks WHERE account_id = $1 AND contact_point = $2"
        " ORDER BY evaluated_at, decided_for",
        account_id,
        point,
    )
    return [(r["verdict"], r["reason"]) for r in rows]


async def breaches_of(pool, account_id: str, first: date) -> list[str]:
    _, found = await audit.compliance_report(pool, first, first + timedelta(days=120))
    return [b for b in found if b.startswith(account_id)]


async def test_under_regulation_f_a_contact_person_is_called_once_while_the_debtor_is_unreachable_and_never_again(
    env, run_worker, pool
):
    today = await server_today(env)
    account = make_account(
        due=today - timedelta(days=1),
        policy="us_consumer_loan",
        currency="USD",
        locale="en",
        time_zone="America/New_York",
    )
    spouse = account.points("mobile", owner="contact")[0].value
    numbers = lambda phones: [p["number"] for p in phones]  # noqa: E731
    async with run_worker() as queue:
        collections = CollectionsClient(env.client, queue)
        await collections.open(account)
        # 6 dpd, 5 days in collection: the consumer may still be reached, so the stage's contact phones are withheld.
        await sleep_to(env, account, 6, time(12))
        assert spouse not in numbers(await phones_of(pool, account.account_id, "6-17"))
        assert (await checks_of(pool, account.account_id, spouse))[0][1].startswith("the debtor is reachable")

        # 18 dpd: a week and more without a conversation, the spouse is on the stage's call task, once.
        await sleep_to(env, account, 18, time(12))
        assert spouse in numbers(await phones_of(pool, account.account_id, "18-29"))
        assert (await checks_of(pool, account.account_id, spouse))[-1] == ("allowed", "")
        called_at = await env.get_current_time()
        await collections.signal(account.account_id, "contact_outcome", outcome("O1", "reached", spouse, called_at))
        await env.sleep(timedelta(hours=1))

        # Called once: taken off the task (and so off its call sheet and follow-up days), never on a later one.
        taken_off = [p for p in await phones_of(pool, account.account_id, "18-29") if p["number"] == spouse]
        assert taken_off[0]["withheld"] == "called 1 time(s) already; 1 per person unless they ask to be called again"
        team = await pool.fetchval("SELECT collector_queue FROM accounts WHERE account_id = $1", account.account_id)
        sheet = await take_ours(pool, team, "agent7", await env.get_current_time(), account.account_id)
        assert sheet is None or spouse not in numbers(sheet["phone_order"])
        await sleep_to(env, account, 30, time(12))
        assert spouse not in numbers(await phones_of(pool, account.account_id, "30-59"))
        assert await breaches_of(pool, account.account_id, today) == []  # the one call was allowed

        # A collector who calls the spouse again anyway is caught by the compliance report.
        again = await env.get_current_time()
        await collections.signal(account.account_id, "contact_outcome", outcome("O2", "no_answer", spouse, again))
        await env.sleep(timedelta(hours=1))
        (breach,) = await breaches_of(pool, account.account_id, today)
        assert breach.startswith(f"{account.account_id}: call to a contact person at ")
        assert breach.endswith("called 1 time(s) already; 1 per person unless they ask to be called again")


async def test_under_chinese_rules_contacts_are_not_called_while_the_debtor_answers(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(due=today - timedelta(days=1))
    mobile, spouse = account.points("mobile")[0].value, account.points("mobile", owner="contact")[0].value
    numbers = lambda phones: [p["number"] for p in phones]  # noqa: E731
    async with run_worker() as queue:
        collections = CollectionsClient(env.client, queue)
        await collections.open(account)
        # The debtor answers on 5 dpd: at 6 dpd the stage would call contacts, but the debtor can be reached.
        await sleep_to(env, account, 5, time(15))
        spoken = await env.get_current_time()
        await collections.signal(account.account_id, "contact_outcome", outcome("O1", "reached", mobile, spoken))
        await sleep_to(env, account, 6, time(12))
        assert spouse not in numbers(await phones_of(pool, account.account_id, "6-17"))
        assert (await checks_of(pool, account.account_id, spouse))[-1] == (
            "withheld",
            f"the debtor is reachable: last spoken with {spoken.astimezone(UTC):%Y-%m-%d %H:%M} UTC, under 3 days ago",
        )

        # Silent from then on: by 18 dpd the debtor cannot be reached, and the spouse is called ...
        await sleep_to(env, account, 18, time(12))
        assert spouse in numbers(await phones_of(pool, account.account_id, "18-29"))
        # ... until the debtor answers again: the spouse comes off the open task at once.
        answered = await env.get_current_time()
        await collections.signal(account.account_id, "contact_outcome", outcome("O2", "reached", mobile, answered))
        await env.sleep(timedelta(hours=1))
        (spouse_phone,) = [p for p in await phones_of(pool, account.account_id, "18-29") if p["number"] == spouse]
        assert spouse_phone["withheld"].startswith("the debtor is reachable: last spoken with")
        assert await breaches_of(pool, account.account_id, today) == []


@pytest.mark.parametrize("rule_set", ["cn_consumer", "us_reg_f", "cn_commercial"])
def test_every_shipped_rule_set_says_when_contact_persons_may_be_called(rule_set):
    assert load_rules(rule_set).third_parties.unreachable_after_days is not None
