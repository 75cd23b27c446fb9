"""E-mail's way out and debtors' words back: every mail carries a working opt-out (12 CFR 1006.6(e)), by its own link
or by a reply, that stops e-mail for the account at once; what debtors write that is no keyword (a text, an e-mail
reply forwarded by the mail vendor) reaches the collector queue of their account."""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from hashlib import sha256

import aiohttp
import pytest
from temporalio.testing import ActivityEnvironment

from dunning.account import AccountDocument
from dunning.replies import classify_email, load_replies
from inbound.mail import INBOUND_MAIL_PATH
from infra import debtor_replies
from infra.twilio_sms import INBOUND_SMS_PATH
from tests.conftest import channel_activities, make_account, run_cli, server_today, serving_worker, step_order

SIGNING_KEY = "key-" + "3" * 32  # Mailgun's webhook signing key, as our settings hold it
DUE = date(2026, 3, 2)


@pytest.fixture
async def stack(env, database_url, settings, twilio):
    """A worker as `python worker.py` runs it, with its HTTP server: each mail links there, Mailgun forwards there,
    and the Twilio stand-in posts handsets' texts there."""
    served_settings = replace(
        settings,
        task_queue="debtor-replies",
        database_url=database_url,
        inbound_http_port=0,
        mail_inbound_signing_key=SIGNING_KEY,
    )
    async with serving_worker(env, served_settings) as served:
        twilio.sms_url = served.url + INBOUND_SMS_PATH
        try:
            yield served
        finally:
            twilio.sms_url = None


@pytest.fixture
async def b2b(env, open_account) -> AccountDocument:
    """An English-speaking B2B customer one day late: chased by e-mail from the first day."""
    return await open_account(
        make_account(
            due=await server_today(env) - timedelta(days=1),
            policy="b2b_receivables",
            currency="USD",
            time_zone="America/Chicago",
            locale="en",
        )
    )


def address_of(account: AccountDocument) -> str:
    return account.points("email")[0].value


def mails_to(smtp, account: AccountDocument) -> list[EmailMessage]:
    return [m for m in smtp.messages if m["To"] == address_of(account)]


async def first_mail(env, smtp, account: AccountDocument) -> EmailMessage:
    for _ in range(16):
        if mails := mails_to(smtp, account):
            return mails[0]
        await env.sleep(timedelta(hours=6))
    raise AssertionError("no mail went to the account within 4 days")


def opt_out_link(mail: EmailMessage) -> str:
    return mail["List-Unsubscribe"].split(",")[0].strip().strip("<>")


async def eventually(check, seconds: float = 10):
    for _ in range(int(seconds * 20)):
        if found := await check():
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("it did not happen in time")


async def ceased_channels(pool, account: AccountDocument) -> list[str]:
    rows = await pool.fetch("SELECT channels FROM contact_ceases WHERE account_id = $1", account.account_id)
    return sorted(channel for row in rows for channel in row["channels"])


def forwarded(message_id: str, sender: str, subject: str, text: str, in_reply_to: str = "", **changes) -> dict:
    """A received mail as Mailgun's route forwards it (fully parsed), signed with our key."""
    timestamp, token = str(int(time.time())), secrets.token_hex(25)
    headers = [["Message-Id", message_id], ["From", sender], ["Subject", subject]]
    if in_reply_to:
        headers.append(["In-Reply-To", in_reply_to])
    form = {
        "timestamp": timestamp,
        "token": token,
        "signature": hmac.new(SIGNING_KEY.encode(), (timestamp + token).encode(), sha256).hexdigest(),
        "recipient": "collections@lender.test",
        "sender": sender,
        "from": f"Accounts Payable <{sender}>",
        "subject": subject,
        "body-plain": text + "\n\n> quoted text of our mail",
        "stripped-text": text,
        "message-headers": json.dumps(headers),
        "Message-Id": message_id,
    }
    if in_reply_to:
        form["In-Reply-To"] = in_reply_to
    return form | changes


async def take_reply_of(pool, account: AccountDocument, collector: str = "alice") -> dict:
    """What a collector of the account's queue reads when its reply comes up (others' replies, oldest first, are
    taken on the way: the database is the whole session's)."""
    queue = await pool.fetchval("SELECT collector_queue FROM accounts WHERE account_id = $1", account.account_id)
    while taken := await debtor_replies.take_next(pool, queue, collector, datetime.now(UTC)):
        if taken["account_id"] == account.account_id:
            return taken
    raise AssertionError(f"no reply of {account.account_id} waits on {queue}")


async def post(url: str, form: dict[str, str]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.post(url, data=form) as response:
        return response.status, await response.text()


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


# --- what a mail to us means (pure) -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject, text",
    [
        ("Re: Overdue: 2,500.00 USD", "UNSUBSCRIBE"),
        ("unsubscribe", ""),  # what the List-Unsubscribe mailto sends
        ("RE: Fwd: 逾期提醒", "  Stop.\n\nSent from my phone"),
        ("回复：逾期提醒", "退订"),
    ],
)
def test_an_opt_out_word_as_the_subject_or_first_line_is_an_opt_out(subject, text):
    assert classify_email(subject, text, load_replies()) == "opt_out"


@pytest.mark.parametrize(
    "subject, text",
    [
        ("Re: Overdue: 2,500.00 USD", "We paid this on Monday, remittance attached."),
        ("Re: Statement", "Please unsubscribe our old address and use ap@example.com"),
        ("Stop the interest", "It was never ours"),
    ],
)
def test_anything_else_is_for_a_collector_to_read(subject, text):
    assert classify_email(subject, text, load_replies()) == "other"


# --- every mail carries its way out -------------------------------------------------------------------------------


async def test_each_mail_carries_its_own_link_and_the_headers_mail_programs_offer(pool, sms_client, settings, smtp):
    channels = channel_activities(
        pool, sms_client, replace(settings, public_base_url="https://collections.example/hooks")
    )
    account = make_account(due=DUE, policy="b2b_receivables", currency="USD", locale="en")
    order = await step_order(pool, account, "chase_email_daily@11")
    await ActivityEnvironment().run(channels.send_email, order)
    await ActivityEnvironment().run(channels.send_email, order)  # a retry sends nothing new
    (mail,) = mails_to(smtp, account)
    token = await pool.fetchval("SELECT opt_out_token FROM email_jobs WHERE action_key = $1", order.action_key)
    link = f"https://collections.example/hooks/mail/opt-out/{token}"
    assert len(token) >= 24 and mail.get_content().rstrip().endswith(f"reply UNSUBSCRIBE or open {link}")
    unfolded = " ".join(mail["List-Unsubscribe"].split())  # a long header is folded over lines
    assert unfolded == f"<{link}>, <mailto:{settings.mail_from}?subject=unsubscribe>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_an_address_that_opted_out_gets_no_mail(pool, sms_client, settings, smtp):
    channels = channel_activities(pool, sms_client, settings)
    account = make_account(due=DUE, policy="b2b_receivables", currency="USD", locale="en")
    await pool.execute(
        "INSERT INTO email_opt_outs (address, opted_out_at, source, reference) VALUES ($1, now(), 'reply', 'm')",
        address_of(account),
    )
    order = await step_order(pool, account, "chase_email_daily@11")
    result = await ActivityEnvironment().run(channels.send_email, order)
    assert (result.status, result.detail) == ("skipped", "the address asked for no more e-mail (it unsubscribed)")
    assert mails_to(smtp, account) == []


# --- the link: a page that asks, then stops e-mail for the account ------------------------------------------------


async def test_the_link_asks_first_then_stops_email_for_the_account_at_once(env, stack, b2b, pool, smtp):
    mail = await first_mail(env, smtp, b2b)
    link = opt_out_link(mail)
    assert link.startswith(stack.url + "/mail/opt-out/") and link in mail.get_content()

    status, page = await get(link)  # a mail scanner opening the link stops nothing
    assert status == 200 and "Stop e-mails from Test Lender about account" in page and 'method="post"' in page
    assert await pool.fetchval("SELECT count(*) FROM email_opt_outs WHERE address = $1", address_of(b2b)) == 0

    status, page = await post(link, {"List-Unsubscribe": "One-Click"})  # the button, or a one-click unsubscribe
    assert status == 200 and "Done: Test Lender sends no more e-mails" in page
    opt_out = await pool.fetchrow("SELECT source FROM email_opt_outs WHERE address = $1", address_of(b2b))
    assert opt_out["source"] == "link"
    assert await eventually(lambda: ceased_channels(pool, b2b)) == ["email"]

    sent = len(mails_to(smtp, b2b))
    await env.sleep(timedelta(days=10))  # the week-one chases and the daily ones
    assert len(mails_to(smtp, b2b)) == sent
    assert await post(link, {"List-Unsubscribe": "One-Click"}) == (200, page)  # clicked again: the same answer
    status, page = await get(stack.url + "/mail/opt-out/not-a-token")
    assert status == 404 and "This link is not one of ours." in page


# --- what the mail vendor forwards ---------------------------------------------------------------------------------


async def test_a_reply_reaches_the_collector_queue_of_its_account_once(env, stack, b2b, pool, smtp):
    mail = await first_mail(env, smtp, b2b)
    reply = forwarded(
        "<r1@customer.example>",
        address_of(b2b),
        f"Re: {mail['Subject']}",
        "Paid Monday, see remittance",
        in_reply_to=mail["Message-ID"],
    )
    assert await post(stack.url + INBOUND_MAIL_PATH, reply) == (200, "taken")
    again = forwarded("<r1@customer.example>", address_of(b2b), reply["subject"], reply["stripped-text"])
    assert await post(stack.url + INBOUND_MAIL_PATH, again) == (200, "taken")  # Mailgun retried: taken once

    taken = await take_reply_of(pool, b2b)
    assert (taken["channel"], taken["sender"], taken["subject"], taken["text"], taken["taken_by"]) == (
        "email",
        address_of(b2b),
        reply["subject"],
        "Paid Monday, see remittance",
        "alice",
    )
    queued = await pool.fetch("SELECT status FROM debtor_replies WHERE account_id = $1", b2b.account_id)
    assert [r["status"] for r in queued] == ["taken"]  # one message, one collector
    now = datetime.now(UTC)
    assert await debtor_replies.answered(pool, taken["reply_ref"], "alice", "confirmed receipt", now) == b2b.account_id
    with pytest.raises(debtor_replies.ReplyError, match="answered already"):
        await debtor_replies.answered(pool, taken["reply_ref"], "bob", "", now)
    assert await pool.fetchval("SELECT count(*) FROM email_opt_outs WHERE address = $1", address_of(b2b)) == 0


async def test_a_reply_saying_unsubscribe_stops_mail_to_the_address_we_wrote_to(env, stack, b2b, pool, smtp):
    mail = await first_mail(env, smtp, b2b)
    # Written from another mailbox of the customer's: the address our mail went to is the one that stops.
    reply = forwarded(
        "<r2@customer.example>",
        "ap-team@customer.example",
        "Re: statement",
        "UNSUBSCRIBE",
        in_reply_to=mail["Message-ID"],
    )
    assert await post(stack.url + INBOUND_MAIL_PATH, reply) == (200, "taken")
    row = await pool.fetchrow("SELECT source, reference FROM email_opt_outs WHERE address = $1", address_of(b2b))
    assert tuple(row) == ("reply", "<r2@customer.example>")
    assert await eventually(lambda: ceased_channels(pool, b2b)) == ["email"]
    assert await pool.fetchval("SELECT count(*) FROM debtor_replies WHERE account_id = $1", b2b.account_id) == 0


async def test_forwards_that_are_not_mailguns_or_cannot_be_taken_are_refused(stack, pool):
    url = stack.url + INBOUND_MAIL_PATH
    forged = forwarded("<f@x.example>", "a@x.example", "hi", "hello") | {"signature": "0" * 64}
    assert await post(url, forged) == (401, "signature does not match")
    no_id = forwarded("", "a@x.example", "hi", "hello", **{"message-headers": "[]"})
    assert await post(url, no_id) == (406, "missing Message-Id (a field, or in message-headers)")
    assert await pool.fetchval("SELECT count(*) FROM inbound_email WHERE sender = 'a@x.example'") == 0


async def test_a_mail_from_a_debtor_that_answers_none_of_ours_is_queued_by_the_sender(env, stack, b2b, pool, smtp):
    await first_mail(env, smtp, b2b)  # the customer has heard from us, and writes anew
    letter = forwarded("<r3@customer.example>", address_of(b2b), "Our account", "Who do we talk to about a plan?")
    assert await post(stack.url + INBOUND_MAIL_PATH, letter) == (200, "taken")
    taken = await take_reply_of(pool, b2b)
    assert (taken["channel"], taken["subject"], taken["text"]) == ("email", "Our account", letter["stripped-text"])


# --- texts ---------------------------------------------------------------------------------------------------------


async def test_a_text_that_is_no_keyword_reaches_the_collector_queue(env, stack, open_account, pool, twilio):
    account = await open_account(make_account(due=await server_today(env)))
    await env.sleep(timedelta(days=2))  # the first reminder went: the debtor answers it
    mobile = account.points("mobile")[0].value
    assert await twilio.inbound_sms(mobile, "I lost my job, can we talk next week?") == 200
    assert await twilio.inbound_sms(mobile, "I paid yesterday at the branch") == 200  # the account acts on that

    taken = await take_reply_of(pool, account)
    assert (taken["channel"], taken["sender"], taken["text"], taken["subject"]) == (
        "sms",
        mobile,
        "I lost my job, can we talk next week?",
        None,
    )
    queued = await pool.fetch("SELECT source_id FROM debtor_replies WHERE account_id = $1", account.account_id)
    assert len(queued) == 1  # "I paid" went to the account as an outcome, not to the queue


# --- the command line ----------------------------------------------------------------------------------------------


async def test_a_collector_takes_and_answers_a_reply_from_the_command_line(pool, database_url, tmp_path):
    account = make_account(due=DUE, policy="b2b_receivables", currency="USD", locale="en")
    await step_order(pool, account, "chase_email_daily@11")  # the account's row, as after opening
    queue, sid = f"replies-{account.account_id}", "SM" + secrets.token_hex(16)
    await pool.execute("UPDATE accounts SET collector_queue = $2 WHERE account_id = $1", account.account_id, queue)
    async with pool.acquire() as conn:
        received = await conn.fetchval(
            "INSERT INTO inbound_sms (message_sid, from_number, to_number, body, intent, account_ids)"
            " VALUES ($1, '+8613800138000', '+15005550006', 'can we talk?', 'other', $2) RETURNING received_at",
            sid,
            [account.account_id],
        )
        await debtor_replies.queue(conn, "sms", sid, [account.account_id], received)
    environment = {"DATABASE_URL": database_url, "XDG_CONFIG_HOME": str(tmp_path)}  # no session: the system

    taken = await run_cli("replies", "next", "--queue", queue, "--collector", "agent7", "--json", env=environment)
    assert taken.returncode == 0, taken.stderr
    sheet = json.loads(taken.stdout)
    assert (sheet["channel"], sheet["account_id"], sheet["text"], sheet["taken_by"]) == (
        "sms",
        account.account_id,
        "can we talk?",
        "agent7",
    )
    ref = sheet["reply_ref"]
    answered = await run_cli(
        "replies", "answered", ref, "--note", "called back", "--collector", "agent7", env=environment
    )
    assert (answered.returncode, answered.stdout.strip()) == (
        0,
        f"reply {ref} on account {account.account_id} answered",
    )
    again = await run_cli("replies", "answered", ref, "--collector", "agent8", env=environment)
    assert (again.returncode, again.stderr.strip()) == (2, f"error: reply {ref} was answered already (by agent7)")
    empty = await run_cli("replies", "next", "--queue", queue, "--collector", "agent7", env=environment)
    assert (empty.returncode, empty.stderr.strip()) == (2, f"error: no reply waits on queue {queue!r}")
