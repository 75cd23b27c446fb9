"""B2B receivables (domain §9, seeds/001): daily calls from week 2, escalations only without progress, and an on-site
visit for chronic late payers."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from client import CollectionsClient
from dunning.account import PaymentReceived, local_datetime
from dunning.policy import load_policy
from dunning.visits import decide
from tests.conftest import make_account, server_today
from tests.test_field_visits import book

B2B = load_policy("b2b_receivables")
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


def customer(due, **changes):
    return make_account(
        due=due, policy="b2b_receivables", currency="CNY", time_zone="Asia/Shanghai", locale="zh", **changes
    )


def test_an_on_site_visit_is_for_a_chronic_late_payer_only():
    rules = B2B.field_visits
    assert rules is not None
    reachable = book(phones_lost=False)
    assert decide(rules, "on_site", reachable, None, None, NOW, late_before=3).reason == (
        "a chronic late payer: late 3 times before"
    )
    assert decide(rules, "on_site", reachable, None, None, NOW, late_before=1).refusal == (
        "an on-site visit is for a chronic late payer (3 times late)"
    )


async def taken(pool, account_id: str) -> dict[str, tuple[str, str]]:
    rows = await pool.fetch("SELECT step_id, dpd, result, detail FROM action_log WHERE account_id = $1", account_id)
    return {f"{r['step_id']}@{r['dpd']}": (r["result"], r["detail"]) for r in rows}


async def test_daily_calls_from_week_two_escalation_only_without_progress_and_a_visit_to_a_chronic_late_payer(
    env, run_worker, pool
):
    today = await server_today(env)
    paying = customer(today - timedelta(days=1))
    chronic = customer(today - timedelta(days=1), prior_delinquencies=4)
    async with run_worker() as queue:
        client = CollectionsClient(env.client, queue)
        for account in (paying, chronic):
            await client.open(account)
        # A part payment on 10 dpd is progress: the supervisor is not called in at 15 dpd.
        paid_at = local_datetime(paying.due_date + timedelta(days=10), time(11), paying.time_zone)
        await env.sleep(paid_at - await env.get_current_time())
        await client.pay(
            paying.account_id,
            PaymentReceived(payment_id="P1", amount_minor=10_000, currency="CNY", paid_at=paid_at),
        )
        await env.sleep(timedelta(days=12))
    paying_steps, chronic_steps = await taken(pool, paying.account_id), await taken(pool, chronic.account_id)

    assert paying_steps["escalate_supervisor@15"] == (
        "skipped",
        f"progress within 14 days (a payment on {paid_at.date()}): no escalation",
    )
    assert chronic_steps["escalate_supervisor@15"][0] == "done"  # no progress: the supervisor hears of it
    assert chronic_steps["on_site_visit@21"][0] == "done"
    assert paying_steps["on_site_visit@21"] == (
        "skipped",
        "an on-site visit is for a chronic late payer (3 times late)",
    )
    # From week 2 the customer is called every day: the week-2 task's follow-up days, one a day to 14 dpd.
    days = await pool.fetch(
        "SELECT day FROM follow_ups WHERE account_id = $1 AND status <> 'stopped' ORDER BY day", chronic.account_id
    )
    week_2 = [r["day"] for r in days if r["day"] <= chronic.due_date + timedelta(days=14)]
    assert week_2 == [chronic.due_date + timedelta(days=d) for d in range(9, 15)]
