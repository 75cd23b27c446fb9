"""Texts and e-mails handed to their vendors (Twilio, the SMTP relay) once, the statement of account attached as a
PDF, and what a refusal says about the recipient coming back into the account: an opted-out number stops texts, an
impossible number or mailbox becomes invalid."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta

import pypdfium2 as pdfium
import pytest
from temporalio.testing import ActivityEnvironment

from client import CollectionsClient
from infra.delivery import NotSent
from tests.conftest import channel_activities, make_account, server_today, step_order
from workflows.account import AccountWorkflow

DUE = date(2026, 3, 2)


@pytest.fixture
def channels(pool, sms_client, settings):
    return channel_activities(pool, sms_client, settings)


def b2b_account(due: date, **changes):
    return make_account(
        due=due, policy="b2b_receivables", currency="USD", time_zone="America/Chicago", locale="en", **changes
    )


async def test_an_email_goes_through_the_smtp_relay_once_with_the_action_as_its_message_id(pool, channels, smtp):
    account = b2b_account(DUE)
    order = await step_order(pool, account, "chase_email_daily@11")
    first = await ActivityEnvironment().run(channels.send_email, order)
    again = await ActivityEnvironment().run(channels.send_email, order)  # a retry of the activity
    assert first == again and first.status == "done" and first.detail == "email accepted by the SMTP relay"
    mails = [m for m in smtp.messages if m["To"] == account.points("email")[0].value]
    assert len(mails) == 1
    mail = mails[0]
    assert mail["Subject"] == "Overdue: 2,500.00 USD, 11 days past due"
    assert mail["From"] == "collections@lender.test" and mail["Message-ID"] == first.reference
    assert "UNSUBSCRIBE" in mail.get_content()
    row = await pool.fetchrow("SELECT status, message_id FROM email_jobs WHERE action_key = $1", order.action_key)
    assert tuple(row) == ("sent", first.reference)


async def test_the_statement_of_account_goes_by_email_as_the_pdf_it_was_rendered_as(pool, channels, smtp):
    account = b2b_account(DUE)
    order = await step_order(pool, account, "statement_email@30")
    result = await ActivityEnvironment().run(channels.send_email, order)
    assert result.status == "done"
    mail = next(m for m in smtp.messages if m["Message-ID"] == result.reference)
    assert mail["Subject"] == f"Statement of account {account.account_id[-4:]}: 2,500.00 USD outstanding"
    [attached] = list(mail.iter_attachments())
    pdf = attached.get_content()
    assert attached.get_content_type() == "application/pdf" and attached.get_filename().endswith(".pdf")
    stored = await pool.fetchrow(
        "SELECT attachment, attachment_sha256 FROM email_jobs WHERE action_key = $1", order.action_key
    )
    assert stored["attachment"] == attached.get_filename()
    assert stored["attachment_sha256"] == hashlib.sha256(pdf).hexdigest()
    text = "".join(page.get_textpage().get_text_range() for page in pdfium.PdfDocument(pdf))
    assert "Test Debtor" in text and "1 Test Road, Shanghai" in text  # the postal address, not the e-mail


async def test_a_relay_that_says_try_later_gets_the_mail_once_it_takes_it(pool, channels, smtp):
    account = b2b_account(DUE)
    order = await step_order(pool, account, "chase_email_daily@10")
    smtp.fail_next(1, code=451)
    with pytest.raises(NotSent):
        await ActivityEnvironment().run(channels.send_email, order)
    assert await pool.fetchval("SELECT status FROM email_jobs WHERE action_key = $1", order.action_key) == "retry"
    result = await ActivityEnvironment().run(channels.send_email, order)
    assert result.status == "done"
    assert [m["To"] for m in smtp.messages].count(account.points("email")[0].value) == 1


async def test_a_mailbox_that_does_not_exist_is_dropped_from_the_account(env, run_worker, pool, smtp):
    account = b2b_account(await server_today(env, "America/Chicago") + timedelta(days=8))
    email = account.points("email")[0].value
    smtp.reject_recipient(email)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=8 + 7))  # the pre-due reminder (-7 dpd), then the chases of week 1
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    assert [(r.point.value, r.invalid_because) for r in view.invalid_points] == [(email, "invalid_email 1 times")]
    results = await pool.fetch(
        "SELECT step_id, result, detail FROM action_log WHERE account_id = $1 AND channel = 'email'"
        " AND step_id NOT LIKE 'statement_%' ORDER BY due_at",  # the ladder's, not the monthly statement's
        account.account_id,
    )
    assert [(r["step_id"], r["result"]) for r in results][:2] == [
        ("pre_due_reminder", "rejected"),
        ("chase_email_week_1", "skipped"),
    ]
    assert results[0]["detail"] == "smtp error 550" and results[1]["detail"] == "no e-mail address on file"
    assert not [m for m in smtp.messages if m["To"] == email]


async def test_twilio_refusing_an_opted_out_number_stops_texts_to_it(env, run_worker, pool, twilio):
    account = make_account(due=await server_today(env))
    mobile = account.points("mobile")[0].value
    twilio.opt_out(mobile)  # the handset texted STOP to our number before we knew of it
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=4))  # texts at 1 and 3 dpd
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    assert [c.value for c in view.ceased_channels] == ["sms"]
    texts = await pool.fetch(
        "SELECT step_id, result, detail FROM action_log WHERE account_id = $1 AND channel = 'sms' ORDER BY due_at",
        account.account_id,
    )
    assert [(t["step_id"], t["result"], t["detail"]) for t in texts] == [
        ("sms_reminder", "rejected", "twilio error 21610"),
        ("sms_reminder", "skipped", "the debtor asked us to stop this contact"),
    ]
    assert await pool.fetchval("SELECT source FROM sms_opt_outs WHERE number = $1", mobile) == "twilio_21610"


async def test_a_number_twilio_says_is_no_mobile_is_dropped_and_calls_go_elsewhere(env, run_worker, pool, twilio):
    account = make_account(due=await server_today(env))
    mobile = account.points("mobile")[0].value
    twilio.mark_not_mobile(mobile)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=3))
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    assert [(r.point.value, r.invalid_because) for r in view.invalid_points] == [(mobile, "invalid_number 1 times")]
    # Strategy 6: the next evening's call tries the other numbers; the "we missed you" text has no mobile to go to.
    phones = await pool.fetchval(
        "SELECT phone_order FROM call_tasks c JOIN action_log a USING (action_key)"
        " WHERE c.account_id = $1 AND a.step_id = 'no_answer_call'",
        account.account_id,
    )
    assert [p["number"] for p in json.loads(phones)] == [account.points("home_phone")[0].value]
    missed = await pool.fetchrow(
        "SELECT result, detail FROM action_log WHERE account_id = $1 AND step_id = 'missed_you_sms'", account.account_id
    )
    assert tuple(missed) == ("skipped", "no mobile number on file")
