"""Replay: recorded histories must replay on today's workflow code, or a deploy would break running accounts.

Histories in tests/histories/ were recorded from real runs at different points of the code's life; keep the old
ones, they are what proves accounts already running still replay. Record new ones (then keep only the files you
mean to add) with: RECORD_HISTORIES=1 .venv/bin/python -m pytest tests/test_replay.py
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from client import CollectionsClient, inputs
from dunning.account import Invoice, PaymentReceived, PaymentReversed
from dunning.channels import Channel
from dunning.contact import CeaseContact
from dunning.disputes import DisputeOpened, DisputeResolved
from dunning.fraud import claim_workflow_id
from dunning.ledger import Ledger
from dunning.outcomes import ContactOutcome
from dunning.policy import load_policy
from dunning.state import AccountRun, AccountState
from infra.sealing import new_ring, sealed_data_converter
from tests.conftest import SEALED, make_account, server_today
from tests.test_promises import promise
from workflows.account import AccountWorkflow
from workflows.fraud_claim import FraudClaimWorkflow

HISTORIES = Path(__file__).resolve().parent / "histories"
# Sealed as the tests seal: plain histories recorded before sealing pass through the codec unopened.
REPLAYER = Replayer(workflows=[AccountWorkflow, FraudClaimWorkflow], data_converter=SEALED)


def recorded() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path):
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    await REPLAYER.replay_workflow(history)


async def test_fresh_histories_replay_and_can_be_recorded(env, run_worker, pool):
    """Runs the flows worth keeping (a whole ladder; payments to cure; fees, a reversal and the debtor's answers)
    and replays their histories."""
    today = await server_today(env)
    ladder_account = make_account(due=today, account_id="REPLAY-LADDER")
    paid_account = make_account(due=today, account_id="REPLAY-PAID", amount_minor=90_000)
    fees_account = make_account(due=today, account_id="REPLAY-FEES", policy="property_fees", amount_minor=150_000)
    answers_account = make_account(due=today, account_id="REPLAY-ANSWERS")
    talk_account = make_account(due=today, account_id="REPLAY-TALK", amount_minor=120_000)
    us_account = make_account(
        due=today,
        account_id="REPLAY-US",
        policy="us_consumer_loan",
        currency="USD",
        locale="en",
        time_zone="America/Chicago",
    )
    # Under Reg F, a promise taken on the web and broken before any conversation: its credit-bureau report waits for
    # the days after the validation notice, then goes.
    bureau_account = make_account(
        due=today,
        account_id="REPLAY-BUREAU",
        policy="us_consumer_loan",
        currency="USD",
        locale="en",
        time_zone="America/Chicago",
    )
    b2b_account = make_account(due=today, account_id="REPLAY-B2B", policy="b2b_receivables")
    channels_account = make_account(due=today, account_id="REPLAY-CHANNELS")
    # Treated by its segment: the worker chooses the policy, a broken promise and the terminal phase re-segment it.
    segment_account = make_account(
        due=today,
        account_id="REPLAY-SEGMENT",
        policy=None,
        product="consumer_loan",
        amount_minor=1_000_000,
        prior_broken_promises=1,
    )
    # Billing's changes and concessions on property fees; a B2B customer's invoices, dpd from the oldest unpaid.
    money_account = make_account(due=today, account_id="REPLAY-MONEY", policy="property_fees", amount_minor=100_000)
    invoices_account = make_account(
        due=today - timedelta(days=30),
        account_id="REPLAY-INVOICES",
        policy="b2b_receivables",
        amount_minor=100_000,
        invoices=[
            Invoice(invoice_id="I-1", amount_minor=30_000, due_date=today - timedelta(days=30)),
            Invoice(invoice_id="I-2", amount_minor=70_000, due_date=today - timedelta(days=10)),
        ],
    )
    # Issue 14's conduct: a time-barred debt (no lawyer's letter), three unanswered calls, then a message left with
    # the spouse (a third party called, and the debtor pressed again).
    conduct_account = make_account(due=today, account_id="REPLAY-CONDUCT", limitation_ends_on=today)
    accounts = (
        ladder_account,
        paid_account,
        fees_account,
        answers_account,
        talk_account,
        us_account,
        b2b_account,
        channels_account,
        segment_account,
        bureau_account,
        money_account,
        invoices_account,
        conduct_account,
    )
    async with run_worker() as queue:
        for account in accounts:
            await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=7))
        now = await env.get_current_time()
        for payment_id, amount in (("R1", 40_000), ("R1", 40_000), ("R2", 50_000)):
            await CollectionsClient(env.client, queue).pay(
                paid_account.account_id,
                PaymentReceived(payment_id=payment_id, amount_minor=amount, paid_at=now),
            )
        await env.client.get_workflow_handle(paid_account.workflow_id).result()
        await CollectionsClient(env.client, queue).pay(
            fees_account.account_id,
            PaymentReceived(payment_id="F1", amount_minor=20_000, paid_at=now),
        )
        await CollectionsClient(env.client, queue).reverse(
            fees_account.account_id,
            PaymentReversed(payment_id="F1", reason="bounced", reversed_at=now),
        )
        for signal, payload in (
            ("cease_contact", inputs.parse_cease(["sms"], "replied STOP", "C1")),
            ("dispute_opened", inputs.parse_dispute("D1", "debt", "says it was paid")),
            ("dispute_resolved", inputs.parse_resolution("D1", "debt_confirmed")),
            ("dispute_opened", inputs.parse_dispute("K1", "collector", "rude")),
            ("debtor_event_reported", inputs.parse_debtor_event("B1", "bankrupt", "petition filed")),
        ):
            await CollectionsClient(env.client).signal(answers_account.account_id, signal, payload)
        mobile = talk_account.points("mobile")[0].value
        for signal, payload in (
            ("promise_made", promise("PTP1", "500.00", today + timedelta(days=9))),
            ("contact_outcome", inputs.parse_outcome("O1", "no_answer", "dialer", "d1", mobile, "")),
            ("contact_outcome", inputs.parse_outcome("O2", "line_dead", "dialer", "d1", mobile, "")),
            ("contact_outcome", inputs.parse_outcome("O3", "line_dead", "dialer", "d1", mobile, "")),
            (
                "contact_updated",
                inputs.parse_contact_update("U1", "mobile", "+8613700000002", "debtor", None, mobile, "tracing"),
            ),
        ):
            await CollectionsClient(env.client).signal(talk_account.account_id, signal, payload)
        # Under Reg F: a conversation (the cool-down, a valid case's follow-ups), then a promise taken by phone.
        spoken = await env.get_current_time()
        for signal, payload in (
            (
                "contact_outcome",
                ContactOutcome(
                    outcome_id="U1", code="reached", source="collector", reported_by="agent-9", occurred_at=spoken
                ),
            ),
            # The promise's calls wait out the cool-down.
            ("promise_made", promise("UPTP1", "300.00", today + timedelta(days=11))),
        ):
            await CollectionsClient(env.client).signal(us_account.account_id, signal, payload)
        await CollectionsClient(env.client).signal(
            segment_account.account_id, "promise_made", promise("SPTP1", "500.00", today + timedelta(days=9))
        )
        web_promise = inputs.parse_promise(
            "BPTP1", "300.00", "USD", str(today + timedelta(days=9)), None, "web", "portal"
        )
        await CollectionsClient(env.client).signal(bureau_account.account_id, "promise_made", web_promise)
        channels_mobile = channels_account.points("mobile")[0].value
        await CollectionsClient(env.client).signal(
            channels_account.account_id,
            "contact_outcome",
            ContactOutcome(
                outcome_id="S1",
                code="says_paid",
                source="sms",
                contact_point=channels_mobile,
                reported_by="sms reply",
                occurred_at=spoken,
            ),
        )
        spouse = conduct_account.points("mobile", owner="contact")[0].value
        conduct_mobile = conduct_account.points("mobile")[0].value
        for outcome_id, code, point in (  # the message last: its re-press is the reaction that stands
            *((f"N{n}", "no_answer", conduct_mobile) for n in range(3)),
            ("M1", "message_left", spouse),
        ):
            await CollectionsClient(env.client).signal(
                conduct_account.account_id,
                "contact_outcome",
                ContactOutcome(
                    outcome_id=outcome_id,
                    code=code,
                    source="collector",
                    contact_point=point,
                    reported_by="agent-9",
                    occurred_at=spoken,
                ),
            )
        await env.sleep(timedelta(days=10))
        await money_changes_and_concessions(env, money_account.account_id, invoices_account.account_id)
        # The channels reporting back: the mail vendor on the first letter, a conversation that leads to a visit.
        letter = await pool.fetchrow(
            "SELECT letter_ref, address FROM letter_jobs WHERE account_id = $1", channels_account.account_id
        )
        for signal, payload in (
            (
                "letter_delivery",
                inputs.parse_letter_delivery(
                    "E1", letter["letter_ref"], "signed", None, "RR1", letter["address"], None
                ),
            ),
            (
                "contact_outcome",
                ContactOutcome(
                    outcome_id="C2",
                    code="reached",
                    source="collector",
                    reported_by="agent-9",
                    occurred_at=await env.get_current_time(),
                ),
            ),
        ):
            await CollectionsClient(env.client).signal(channels_account.account_id, signal, payload)
        await CollectionsClient(env.client).agree_plan(
            talk_account.account_id,
            inputs.parse_plan(
                "PLAN1",
                # With the broken promise's failed-debit fee (consumer_loan: 20.00).
                [f"{today + timedelta(days=20)}=600.00", f"{today + timedelta(days=40)}=620.00"],
                "CNY",
                "income_drop",
                "agent-7",
            ),
        )
        await env.sleep(timedelta(days=40))
        await CollectionsClient(env.client).signal(
            talk_account.account_id,
            "fraud_claimed",
            inputs.parse_fraud_claim("F1", "never applied", "agent-7"),
        )
        visit = await pool.fetchrow(
            "SELECT visit_ref, address FROM field_visit_orders WHERE account_id = $1", channels_account.account_id
        )
        await CollectionsClient(env.client).signal(
            channels_account.account_id,
            "visit_reported",
            inputs.parse_visit_report(
                "V1", visit["visit_ref"], "not_found", visit["address"], "field-3", "", [], None, None, "CNY", None
            ),
        )
        await env.sleep(timedelta(days=40))  # placed with an agency at 90 dpd
        placed = await pool.fetchval(
            "SELECT placement_ref FROM agency_placements WHERE account_id = $1", channels_account.account_id
        )
        for signal, payload in (
            ("agency_reported", inputs.parse_agency_report("A1", placed, "payment", "100", "CNY", "", None)),
            ("recall_placement", inputs.parse_recall("RC1", "complaint about the agency", "ops-1")),
        ):
            await CollectionsClient(env.client).signal(channels_account.account_id, signal, payload)
        await env.sleep(timedelta(days=140))  # the write-off review waits for an approver
        approval = await pool.fetchval(
            "SELECT approval_ref FROM approvals WHERE account_id = $1", channels_account.account_id
        )
        await CollectionsClient(env.client).decide_approval(
            channels_account.account_id, inputs.parse_approval(approval, True, "risk_manager", "")
        )

    conduct = await pool.fetch(
        "SELECT step_id, result, detail FROM action_log WHERE account_id = $1", conduct_account.account_id
    )
    assert ("lawyer_letter", "skipped") in {(r["step_id"], r["result"]) for r in conduct}
    assert "repress_after_message" in {r["step_id"] for r in conduct}
    bureau = await pool.fetchrow(
        "SELECT status, filed_at, released_at FROM bureau_reports WHERE account_id = $1", bureau_account.account_id
    )
    assert bureau["status"] == "ready" and bureau["released_at"] > bureau["filed_at"]  # it waited, then went
    names = (
        "consumer_loan_ladder_180_dpd",
        "partial_duplicate_full",
        "property_fees_reversal",
        "debtor_answers",
        "promises_outcomes_plan_fraud_claim",
        "us_notice_pacing_promise",
        "b2b_placed_chases",
        "channels_report_back",
        "segment_broken_promise_long_term",
        "us_bureau_report_waits",
        "balance_changes_and_concessions",
        "b2b_invoices_oldest_unpaid",
        "conduct_time_barred_third_party",
    )
    workflow_ids = [account.workflow_id for account in accounts] + [claim_workflow_id(talk_account.account_id, "F1")]
    for workflow_id, name in zip(workflow_ids, names + ("fraud_claim_lapsed",)):
        history = await env.client.get_workflow_handle(workflow_id).fetch_history()
        await REPLAYER.replay_workflow(history)
        if os.environ.get("RECORD_HISTORIES"):
            (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")


async def money_changes_and_concessions(env, fees_id: str, invoices_id: str) -> None:
    collections, now = CollectionsClient(env.client), await env.get_current_time()

    def grant(concession_id: str, amount: str):
        return inputs.parse_concession(
            concession_id, "fee_waiver", amount, None, "CNY", "good faith", "a7", ["collector"]
        )

    await collections.change_balance(fees_id, inputs.parse_balance_change("CH1", "charge", "50.00", "CNY", "meter"))
    await collections.grant_concession(fees_id, grant("W1", "2.00"))
    await collections.grant_concession(fees_id, grant("W2", "9.00"))  # above the collector's half: waits
    await collections.decide_concession(
        fees_id, inputs.parse_concession_decision("W2", True, "property_manager", "", "pm1")
    )
    await collections.reverse_concession(fees_id, inputs.parse_concession_reversal("W1", "in error", "a7"))
    await collections.pay(fees_id, PaymentReceived(payment_id="M1", amount_minor=10_000, paid_at=now))
    await collections.pay(
        invoices_id, PaymentReceived(payment_id="N1", amount_minor=10_000, paid_at=now, invoice_id="I-2")
    )
    await collections.pay(invoices_id, PaymentReceived(payment_id="N2", amount_minor=30_000, paid_at=now))
    await collections.change_balance(
        invoices_id,
        inputs.parse_balance_change(
            "CH2", "charge", "80.00", "CNY", "new order", "I-3", str((now + timedelta(days=20)).date())
        ),
    )


async def test_a_run_carried_over_with_the_old_lists_settles_them_in_order_and_replays(env, run_worker):
    """A run continued from before the inbox carries one list per kind of news: the new code reads them into the
    inbox and settles them in the old order (the resolution after its dispute, the payment after the promise)."""
    today = await server_today(env)
    account = make_account(due=today, account_id="REPLAY-CARRIED")
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)  # the account's rows, as the first run left them
        await env.sleep(timedelta(hours=1))
        handle = env.client.get_workflow_handle(account.workflow_id)
        await handle.terminate("replaced by a run carried over from before the inbox")
        now = await env.get_current_time()
        state = AccountState(ledger=Ledger(principal_minor=account.amount_due_minor), opened_at=now, runs=2)
        run = AccountRun(account=account, policy=load_policy(account.policy), state=state)
        # The input as the old code wrote it at continue-as-new: no inbox, a list per kind, news without its tag.
        [payload] = pydantic_data_converter.payload_converter.to_payloads([run])
        carried = json.loads(payload.data)
        old = {
            "pending_ceases": [CeaseContact(request_id="C1", channels=[Channel.sms], reason="STOP", received_at=now)],
            "pending_disputes": [
                DisputeOpened(dispute_id="D1", subject="debt", details="says it was paid", opened_at=now),
                DisputeResolved(dispute_id="D1", outcome="debt_confirmed", resolved_at=now),
            ],
            "pending_commitments": [promise("P1", "800.00", today + timedelta(days=3))],
            "pending_payments": [PaymentReceived(payment_id="R1", amount_minor=50_000, paid_at=now)],
        }
        del carried["state"]["inbox"]
        carried["state"].update(
            {key: [news.model_dump(mode="json", exclude={"news"}) for news in kind] for key, kind in old.items()}
        )
        handle = await env.client.start_workflow(
            "AccountWorkflow", carried, id=account.workflow_id, task_queue=queue, result_type=AccountRun
        )
        await env.sleep(timedelta(hours=1))
        view = await handle.query(AccountWorkflow.state)
        assert view.ceased_channels == [Channel.sms]
        assert view.open_disputes == [] and view.rejected_signals == []
        assert view.commitment is not None and view.commitment.paid_minor == 50_000
        assert view.paid_minor == 50_000
        # News after the change goes through the inbox as any other: the rest of the money cures the account.
        await env.sleep(timedelta(days=2))
        rest = PaymentReceived(payment_id="R2", amount_minor=200_000, paid_at=await env.get_current_time())
        await CollectionsClient(env.client, queue).pay(account.account_id, rest)
        assert (await handle.result()).state.status == "cured"
        history = await handle.fetch_history()
    await REPLAYER.replay_workflow(history)
    if os.environ.get("RECORD_HISTORIES"):
        (HISTORIES / "old_lists_carried_over.json").write_text(history.to_json(), encoding="utf-8")


async def test_a_sealed_history_replays_only_with_the_key_that_sealed_it():
    path = HISTORIES / "sealed_promises_outcomes_plan_fraud_claim.json"
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    assert "YmluYXJ5L2VuY3J5cHRlZA==" in path.read_text(encoding="utf-8")  # "binary/encrypted": sealed payloads
    stranger = Replayer(workflows=[AccountWorkflow], data_converter=sealed_data_converter(new_ring("another-ring")))
    # The workflow task fails with the key ring's error (its message sealed in turn, as every failure is).
    with pytest.raises(Exception, match="KeyRingError"):
        await stranger.replay_workflow(history)
