"""Item 9: the same news, sent once in order, or twice, backwards, while the workflow continues-as-new, ends the
account in the same state."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import get_args

from client import CollectionsClient, inputs
from dunning.account import PaymentReceived
from dunning.disputes import DisputeOpened, DisputeResolved, first_collector_queue
from dunning.inbox import News
from dunning.policy import load_policy
from dunning.state import AccountRun, AccountState
from tests.conftest import make_account, server_today
from tests.test_promises import promise, sleep_until
from workflows.account import AccountWorkflow
from workflows.settling import SETTLING


def news(account, today):
    mobile = account.points("mobile")[0].value
    return [
        ("dispute_opened", inputs.parse_dispute("D1", "collector", "rude on the phone")),
        ("dispute_resolved", inputs.parse_resolution("D1", "complaint_closed")),
        ("debtor_event_reported", inputs.parse_debtor_event("R1", "deceased", "an anonymous caller")),
        ("documents_verified", inputs.parse_documents("R1", False)),
        ("contact_outcome", inputs.parse_outcome("O1", "line_dead", "dialer", "dialer-1", mobile, "")),
        ("contact_outcome", inputs.parse_outcome("O2", "line_dead", "dialer", "dialer-1", mobile, "")),
        (
            "contact_updated",
            inputs.parse_contact_update("U1", "work_phone", "+862155550000", "debtor", None, None, "debtor"),
        ),
        ("cease_contact", inputs.parse_cease(["email"], "asked by letter", "C1")),
        ("payment_received", inputs.parse_payment("500.00", "P1", "CNY")),
        ("promise_made", promise("PTP1", "1000.00", today + timedelta(days=5))),
    ]


async def outcome_of(env, pool, queue, account, arrange) -> dict:
    """Opens the account, sends it the news (as `arrange` orders it) at 2 dpd, and has it paid off at 5 dpd."""
    today = await server_today(env)
    signals = arrange(news(account, today))
    policy = load_policy("consumer_loan")
    await env.client.start_workflow(
        AccountWorkflow.run,
        AccountRun(account=account, policy=policy, continue_as_new_after_events=100),
        id=account.workflow_id,
        task_queue=queue,
        start_signal="account_document_received",
        start_signal_args=[account],
    )
    await sleep_until(env, today + timedelta(days=2), time(12))
    handle = env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id)
    for name, payload in signals:
        await handle.signal(name, payload)
    await sleep_until(env, today + timedelta(days=5), time(15))
    await CollectionsClient(env.client, queue).pay(account.account_id, inputs.parse_payment("2000.00", "P2", "CNY"))
    closed = await handle.result()
    view = closed.state
    commitments = await pool.fetch(
        "SELECT commitment_id, status, paid_minor FROM commitments WHERE account_id = $1", account.account_id
    )
    return {
        "status": view.status,
        "outstanding": view.ledger.outstanding_minor,
        "complaint_moved_the_account": view.collector_queue != first_collector_queue(policy, account.account_id),
        "ceased": view.ceased_channels,
        "invalid": sorted(r.invalid_because for r in view.contact_book.records if r.invalid_since),
        "points": len(view.contact_book.records),
        "open_disputes": view.open_disputes,
        "verifications": view.verifications,
        "held": (view.early_resolutions, view.early_documents),
        "rejected": view.rejected_signals,
        "broken_promises": view.broken_promises,
        "commitments": [(r["commitment_id"], r["status"]) for r in commitments],
        "contact_events": await pool.fetchval(
            "SELECT count(*) FROM contact_events WHERE account_id = $1", account.account_id
        ),
        "disputes": await pool.fetchval("SELECT outcome FROM disputes WHERE account_id = $1", account.account_id),
        "runs": view.runs,
    }


async def test_news_sent_twice_and_backwards_during_continue_as_new_ends_in_the_same_state(env, run_worker, pool):
    today = await server_today(env)
    async with run_worker() as queue:
        expected = await outcome_of(env, pool, queue, make_account(due=today), lambda signals: signals)
        got = await outcome_of(
            env,
            pool,
            queue,
            make_account(due=await server_today(env)),
            lambda signals: [s for signal in reversed(signals) for s in (signal, signal)],
        )

    assert got.pop("runs") > 1  # it continued-as-new with news in flight
    expected.pop("runs")
    assert got == expected
    assert expected["status"] == "cured" and expected["rejected"] == [] and expected["invalid"] == ["line_dead 2 times"]
    assert expected["commitments"] == [("PTP1", "kept")] and expected["disputes"] == "complaint_closed"
    assert expected["complaint_moved_the_account"]


async def test_a_signal_whose_payload_does_not_fit_is_recorded_as_refused_not_dropped(env, run_worker):
    account = make_account(due=await server_today(env))
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        handle = env.client.get_workflow_handle(account.workflow_id)
        await handle.signal("promise_made", {"promise_id": "P1", "amount_minor": "lots"})
        await handle.signal("payment_received", ["not", "an", "object"])
        await env.sleep(timedelta(minutes=1))
        view = await handle.query(AccountWorkflow.state)

    assert view.status == "open"
    assert view.rejected_signals[0].startswith(
        "PromiseMade refused, it could not be read: amount_minor: Input should be a valid integer"
    )
    assert "promised_date: Field required" in view.rejected_signals[0]
    assert view.rejected_signals[1].startswith("PaymentReceived refused, it could not be read: ")


def test_every_kind_of_news_has_one_row_in_the_settling_table():
    kinds = [kind for row, _ in SETTLING for kind in row]
    assert sorted(kind.__name__ for kind in kinds) == sorted(kind.__name__ for kind in get_args(get_args(News)[0]))


def test_a_state_carried_from_before_the_inbox_brings_its_old_lists_into_it():
    at = datetime(2026, 3, 4, 12, tzinfo=UTC)
    opened = DisputeOpened(dispute_id="D1", subject="debt", details="says it was paid", opened_at=at)
    resolved = DisputeResolved(dispute_id="D1", outcome="debt_confirmed", resolved_at=at)
    payment = PaymentReceived(payment_id="P1", amount_minor=100, paid_at=at)
    old = {
        "ledger": {"principal_minor": 1000},
        "opened_at": at.isoformat(),
        # As the old code wrote them: a list per kind, the news without its tag.
        "pending_payments": [payment.model_dump(mode="json", exclude={"news"})],
        "pending_disputes": [news.model_dump(mode="json", exclude={"news"}) for news in (opened, resolved)],
    }
    state = AccountState.model_validate(old)
    assert state.inbox == [payment, opened, resolved]
    assert AccountState.model_validate(state.model_dump(mode="json")).inbox == state.inbox
