"""Replay: recorded histories must replay on today's workflow code, or a deploy would break running accounts.

Histories in tests/histories/ were recorded from real runs at different points of the code's life; keep the old
ones, they are what proves accounts already running still replay. Record new ones (then keep only the files you
mean to add) with: RECORD_HISTORIES=1 .venv/bin/python -m pytest tests/test_replay.py
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from dunning.account import PaymentReceived, PaymentReversed
from infra import billing
from tests.conftest import make_account, server_today
from workflows.account import AccountWorkflow

HISTORIES = Path(__file__).resolve().parent / "histories"
REPLAYER = Replayer(workflows=[AccountWorkflow], data_converter=pydantic_data_converter)


def recorded() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path):
    history = WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))
    await REPLAYER.replay_workflow(history)


async def test_fresh_histories_replay_and_can_be_recorded(env, run_worker):
    """Runs the flows worth keeping (a whole ladder; payments to cure; fees, a reversal and the debtor's answers)
    and replays their histories."""
    today = await server_today(env)
    ladder_account = make_account(due=today, account_id="REPLAY-LADDER")
    paid_account = make_account(due=today, account_id="REPLAY-PAID", amount_minor=90_000)
    fees_account = make_account(due=today, account_id="REPLAY-FEES", policy="property_fees", amount_minor=150_000)
    answers_account = make_account(due=today, account_id="REPLAY-ANSWERS")
    accounts = (ladder_account, paid_account, fees_account, answers_account)
    async with run_worker() as queue:
        for account in accounts:
            await billing.open_account(env.client, queue, account)
        await env.sleep(timedelta(days=7))
        now = await env.get_current_time()
        for payment_id, amount in (("R1", 40_000), ("R1", 40_000), ("R2", 50_000)):
            await billing.pay(env.client, queue, paid_account.account_id,
                              PaymentReceived(payment_id=payment_id, amount_minor=amount, paid_at=now))
        await env.client.get_workflow_handle(paid_account.workflow_id).result()
        await billing.pay(env.client, queue, fees_account.account_id,
                          PaymentReceived(payment_id="F1", amount_minor=20_000, paid_at=now))
        await billing.reverse_payment(env.client, queue, fees_account.account_id,
                                      PaymentReversed(payment_id="F1", reason="bounced", reversed_at=now))
        for signal, payload in (
            ("cease_contact", billing.parse_cease(["sms"], "replied STOP", "C1")),
            ("dispute_opened", billing.parse_dispute("D1", "debt", "says it was paid")),
            ("dispute_resolved", billing.parse_resolution("D1", "debt_confirmed")),
            ("dispute_opened", billing.parse_dispute("K1", "collector", "rude")),
            ("debtor_event_reported", billing.parse_debtor_event("B1", "bankrupt", "petition filed")),
        ):
            await billing.signal_open_account(env.client, answers_account.account_id, signal, payload)
        await env.sleep(timedelta(days=180))

    names = ("consumer_loan_ladder_180_dpd", "partial_duplicate_full", "property_fees_reversal", "debtor_answers")
    for account, name in zip(accounts, names):
        history = await env.client.get_workflow_handle(account.workflow_id).fetch_history()
        await REPLAYER.replay_workflow(history)
        if os.environ.get("RECORD_HISTORIES"):
            (HISTORIES / f"{name}.json").write_text(history.to_json(), encoding="utf-8")
