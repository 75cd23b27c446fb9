"""False-application claims (domain §7): contact stops at once and the claim runs as its own workflow."""

from __future__ import annotations

from datetime import time, timedelta

from client import CollectionsClient, inputs
from dunning.fraud import claim_workflow_id
from tests.conftest import make_account, server_today
from tests.test_promises import CALENDAR, actions, sleep_until
from tests.test_promises import SHANGHAI as CALENDAR_ZONE
from workflows.account import AccountWorkflow
from workflows.fraud_claim import FraudClaimWorkflow


async def test_a_confirmed_claim_withdraws_the_account_within_the_working_days_after_reminding_the_creditor(
    env, run_worker, pool, twilio
):
    today = await server_today(env)
    account = make_account(due=today)
    mobile = account.points("mobile")[0].value
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await sleep_until(env, today + timedelta(days=2), time(12))
        await CollectionsClient(env.client).signal(
            account.account_id,
            "fraud_claimed",
            inputs.parse_fraud_claim("F1", "a cousin had her ID card", "agent-7"),
        )
        await sleep_until(env, today + timedelta(days=4), time(12))
        on_hold = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)
        await CollectionsClient(env.client).signal_claim(
            account.account_id, "F1", "declaration_signed", inputs.parse_declaration("creditor_branch")
        )
        await sleep_until(env, CALENDAR.add_working_days(today + timedelta(days=4), 6), time(12))
        await CollectionsClient(env.client).signal_claim(
            account.account_id, "F1", "creditor_decided", inputs.parse_creditor_decision(True, "BANK-123")
        )
        closed = await env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id).result()
        decided = await env.client.get_workflow_handle_for(
            FraudClaimWorkflow.run, claim_workflow_id(account.account_id, "F1")
        ).result()

    assert on_hold.fraud_claims[0].claim_id == "F1" and on_hold.next_action is None
    assert [m["to"] for m in twilio.messages].count(mobile) == 1  # the 1 dpd text only: nothing after the claim
    assert closed.state.status == "withdrawn"
    taken = await actions(pool, account.account_id)
    assert taken["fraud_declaration_booking:claim-F1"][1] == "done"
    assert taken["fraud_declaration_to_creditor:claim-F1"][1] == "done"
    assert taken["fraud_decision_reminder:claim-F1"][1] == "done"  # 5 working days without an answer
    assert "fraud_decision_escalation:claim-F1" not in taken  # the answer came before 10
    assert taken["fraud_withdrawal:claim-F1"][1] == "done"
    row = await pool.fetchrow(
        "SELECT status, signed_at IS NOT NULL AS signed, withdraw_by FROM fraud_claims WHERE account_id = $1",
        account.account_id,
    )
    assert (row["status"], row["signed"]) == ("confirmed", True)
    assert row["withdraw_by"] == decided.withdraw_by
    decided_day = decided.decided_at.astimezone(CALENDAR_ZONE).date()
    assert decided.withdraw_by.astimezone(CALENDAR_ZONE).date() == CALENDAR.add_working_days(
        decided_day, 2
    ) + timedelta(days=1)
    assert await pool.fetchval("SELECT status FROM accounts WHERE account_id = $1", account.account_id) == "withdrawn"


async def test_a_rejected_claim_resumes_the_ladder_where_the_dpd_now_is(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(due=today)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await sleep_until(env, today + timedelta(days=2), time(12))
        await CollectionsClient(env.client).signal(
            account.account_id,
            "fraud_claimed",
            inputs.parse_fraud_claim("F2", "says she never applied", "agent-7"),
        )
        await CollectionsClient(env.client).signal(
            account.account_id,
            "fraud_claimed",
            inputs.parse_fraud_claim("F2", "says she never applied", "agent-7"),
        )
        await env.sleep(timedelta(hours=2))  # the signing is booked, and she comes in
        await CollectionsClient(env.client).signal_claim(
            account.account_id, "F2", "declaration_signed", inputs.parse_declaration("agency")
        )
        await sleep_until(env, today + timedelta(days=20), time(11))
        await CollectionsClient(env.client).signal_claim(
            account.account_id, "F2", "creditor_decided", inputs.parse_creditor_decision(False, "BANK-456")
        )
        await sleep_until(env, today + timedelta(days=20), time(12))
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    assert view.status == "open" and view.fraud_claims == []
    taken = await actions(pool, account.account_id)
    # Not from the start: of the steps that fell due during the claim, only the latest of each channel goes out.
    assert {taken[key][1] for key in ("sms_reminder@3", "sms_urge@6", "sms_urge@12", "letter_first@10")} == {"skipped"}
    assert taken["sms_firm@18"] == taken["letter_second@20"] == (f"{today + timedelta(days=20)} 11:00", "done")
    assert taken["fraud_decision_escalation:claim-F2"][1] == "done"  # 10 working days without an answer
    assert (
        await pool.fetchval("SELECT status FROM fraud_claims WHERE account_id = $1", account.account_id) == "rejected"
    )


async def test_a_claim_the_debtor_never_signs_lapses_and_collection_resumes(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(due=today)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await CollectionsClient(env.client).signal(
            account.account_id, "fraud_claimed", inputs.parse_fraud_claim("F3", "no clues", "agent-7")
        )
        await sleep_until(env, today + timedelta(days=15), time(12))
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    assert view.status == "open" and view.fraud_claims == [] and view.next_action is not None
    assert await pool.fetchval("SELECT status FROM fraud_claims WHERE account_id = $1", account.account_id) == "lapsed"


async def test_the_claim_shows_its_progress_and_refuses_a_decision_it_cannot_read(env, run_worker):
    account = make_account(due=await server_today(env))
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await CollectionsClient(env.client).signal(
            account.account_id, "fraud_claimed", inputs.parse_fraud_claim("F5", "never applied", "agent-7")
        )
        await env.sleep(timedelta(hours=2))
        claim = env.client.get_workflow_handle_for(FraudClaimWorkflow.run, claim_workflow_id(account.account_id, "F5"))
        await claim.signal("creditor_decided", {"confirmed": "perhaps"})
        await CollectionsClient(env.client).signal_claim(
            account.account_id, "F5", "declaration_signed", inputs.parse_declaration("agency")
        )
        await env.sleep(timedelta(hours=1))
        progress = await claim.query(FraudClaimWorkflow.progress)

    assert progress.status == "sent_to_creditor" and progress.signed.place == "agency" and progress.decision is None
    assert progress.refused_signals[0].startswith(
        "CreditorDecided refused, it could not be read: confirmed: Input should be a valid boolean"
    )
