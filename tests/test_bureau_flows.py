"""Credit-bureau reports under time skipping (12 CFR 1006.30(a), passive collection): under Regulation F a promise
broken before any conversation files a report that waits for the furnishing gate, and goes 14 days after the
validation notice was posted, or right after a conversation; an account that cures first withdraws it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from client import CollectionsClient, inputs
from dunning.account import AccountDocument
from dunning.outcomes import ContactOutcome
from dunning.policy import load_policy
from tests.conftest import make_account, server_today
from workflows.account import AccountWorkflow

CHICAGO = ZoneInfo("America/Chicago")
CALENDAR = load_policy("us_consumer_loan").working_days
REPORTED = (
    "status, reason, commitment_id, currency, waited_because, released_at, released_because, withdrawn_because, dpd,"
    " amount_minor"
)


async def sleep_until(env, moment: datetime) -> None:
    await env.sleep(moment - await env.get_current_time())


def chicago(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=CHICAGO)


async def open_and_break_a_web_promise(env, queue: str, today: date) -> tuple[AccountDocument, date]:
    """Opens a US account (its validation notice is posted at once), takes a promise on the web (no conversation)
    and lets it break; returns the account and the day it broke."""
    account = make_account(
        due=today, policy="us_consumer_loan", currency="USD", locale="en", time_zone="America/Chicago"
    )
    promised = today + timedelta(days=4)
    broken_day = CALENDAR.add_working_days(promised, 2) + timedelta(days=1)
    await CollectionsClient(env.client, queue).open(account)
    await sleep_until(env, chicago(today + timedelta(days=1), time(11)))
    web_promise = inputs.parse_promise("WEB1", "1000.00", "USD", promised.isoformat(), None, "web", "portal")
    await CollectionsClient(env.client).signal(account.account_id, "promise_made", web_promise)
    await sleep_until(env, chicago(broken_day, time(12)))
    return account, broken_day


async def reported(pool, account_id: str) -> dict:
    row = await pool.fetchrow(f"SELECT {REPORTED} FROM bureau_reports WHERE account_id = $1", account_id)
    assert row is not None
    return dict(row)


async def test_under_reg_f_a_promise_broken_before_any_conversation_waits_14_days_after_the_notice(
    env, run_worker, pool
):
    today = await server_today(env, "America/Chicago")
    async with run_worker() as queue:
        account, broken_day = await open_and_break_a_web_promise(env, queue, today)
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)
        waiting = await reported(pool, account.account_id)
        notice = await pool.fetchval(
            "SELECT letter_ref FROM letter_jobs WHERE account_id = $1 AND letter_kind = 'validation_notice'",
            account.account_id,
        )
        opens = chicago(today + timedelta(days=15), time(0))  # the day posted is day 0; days 1 to 14 must pass
        await sleep_until(env, opens - timedelta(minutes=1))
        still = (await reported(pool, account.account_id))["status"]
        await sleep_until(env, opens + timedelta(hours=1))
        went = await reported(pool, account.account_id)

    assert view.broken_promises == 1 and [r.reason for r in view.bureau_reports] == ["broken promise WEB1"]
    assert waiting["status"] == "waiting" and waiting["released_at"] is None
    assert waiting["reason"] == "broken promise WEB1" and waiting["commitment_id"] == "WEB1"
    assert waiting["waited_because"] == (
        f"not spoken with the debtor; letter {notice} posted {today}: waiting 14 days for it to come back undelivered"
    )
    assert still == "waiting"
    assert went["status"] == "ready" and opens <= went["released_at"] < opens + timedelta(seconds=1)  # its timer
    assert went["released_because"] == f"letter {notice} posted {today}, not returned in the 14 days after"
    assert went["waited_because"] == waiting["waited_because"]  # the evidence of why it waited stays
    assert went["currency"] == "USD" and went["dpd"] == 15 and went["amount_minor"] == 250_000  # as of that day
    # The broken promise itself still says it is a negative record.
    assert await pool.fetchval(
        "SELECT negative_record FROM commitments WHERE account_id = $1 AND commitment_id = 'WEB1'", account.account_id
    )


async def test_under_reg_f_a_waiting_report_goes_right_after_a_conversation(env, run_worker, pool):
    today = await server_today(env, "America/Chicago")
    async with run_worker() as queue:
        account, broken_day = await open_and_break_a_web_promise(env, queue, today)
        assert (await reported(pool, account.account_id))["status"] == "waiting"
        spoken = chicago(broken_day, time(15))
        await sleep_until(env, spoken)
        reached = ContactOutcome(
            outcome_id="O1", code="reached", source="collector", reported_by="agent-9", occurred_at=spoken
        )
        await CollectionsClient(env.client).signal(account.account_id, "contact_outcome", reached)
        await sleep_until(env, spoken + timedelta(minutes=30))
        went = await reported(pool, account.account_id)

    assert went["status"] == "ready"
    assert went["released_because"] == f"spoke with the debtor at {broken_day} 15:00 America/Chicago"
    assert spoken <= went["released_at"] < spoken + timedelta(minutes=30)


async def test_an_account_that_cures_before_the_gate_opens_withdraws_its_waiting_report(env, run_worker, pool):
    today = await server_today(env, "America/Chicago")
    async with run_worker() as queue:
        account, broken_day = await open_and_break_a_web_promise(env, queue, today)
        await CollectionsClient(env.client, queue).pay(
            account.account_id, inputs.parse_payment("2500.00", "PAY1", "USD")
        )
        closed = await env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id).result()
        withdrawn = await reported(pool, account.account_id)

    assert closed.state.status == "cured" and closed.state.bureau_reports == []
    assert withdrawn["status"] == "withdrawn" and withdrawn["released_at"] is None
    assert withdrawn["withdrawn_because"] == "the account closed as cured first"
