"""E-mail's ways back to us: each mail's opt-out link (12 CFR 1006.6(e)), and the mail vendor's forward of what
debtors write to our address.

    GET  /mail/opt-out/{token}   a page that asks before anything stops (mail scanners open links on their own)
    POST /mail/opt-out/{token}   the page's button, or a mail program's one-click unsubscribe (RFC 8058)
    POST /mail/inbound           Mailgun's route forward of a received mail (fully parsed, form fields)

An opt-out, by the link or by a reply saying UNSUBSCRIBE (or STOP, 退订: the words of templates/sms_replies.yaml),
puts the address on `email_opt_outs` at once (no mail of ours goes to it again) and tells the accounts whose debtor
has that address: `cease_contact` for e-mail. Any other mail is kept in `inbound_email` and queued for the account's
collectors (`collections replies next`).

Mailgun signs each forward: `signature` is the hex HMAC-SHA256, under the signing key, of `timestamp` + `token`.
A forward without a valid signature gets 401. A mail is taken once per Message-Id, so a replayed or retried forward
changes nothing; Mailgun retries any answer but 200 and 406 for 8 hours, so while PostgreSQL or Temporal is down
the answer is 503, and 406 refuses a forward that can never be taken. Answers and logs never carry an address or
the mail's words.
"""

from __future__ import annotations

import hmac
import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parseaddr
from hashlib import sha256
from typing import Literal

import asyncpg
import structlog
from aiohttp import web
from temporalio.client import Client

from dunning.channels import Channel
from dunning.contact import CeaseContact
from dunning.messages import Templates
from dunning.replies import ReplyVocabulary, classify_email
from inbound.accounts import Signal, Unavailable, running_accounts_of, tell
from infra import debtor_replies
from infra.smtp_mail import OPT_OUT_PATH

log = structlog.get_logger()

INBOUND_MAIL_PATH = "/mail/inbound"
MESSAGE_IDS = re.compile(r"<[^<>\s]+>")  # each id of In-Reply-To and References


class MailWebhooks:
    def __init__(
        self,
        pool: asyncpg.Pool,
        temporal: Client,
        templates: Templates,
        vocabulary: ReplyVocabulary,
        signing_key: str | None,
    ) -> None:
        self._pool = pool
        self._temporal = temporal
        self._templates = templates
        self._vocabulary = vocabulary
        self._signing_key = signing_key

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(OPT_OUT_PATH, self.opt_out_page)
        app.router.add_post(OPT_OUT_PATH, self.opt_out_by_link)
        app.router.add_post(INBOUND_MAIL_PATH, self.inbound)

    # --- the link ---------------------------------------------------------------------------------------------

    async def opt_out_page(self, request: web.Request) -> web.Response:
        mail = await self._mail_of(request.match_info["token"])
        if mail is None:
            return self._page("en", "unknown", status=404)
        return self._page(mail["locale"], "question", mail, button=True)

    async def opt_out_by_link(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        mail = await self._mail_of(token)
        if mail is None:
            return self._page("en", "unknown", status=404)
        now = datetime.now(UTC)
        async with self._pool.acquire() as conn, conn.transaction():
            await _opt_out(conn, mail["to_address"], now, "link", token)
            accounts = await _accounts_to_cease(conn, mail["to_address"], mail["account_id"])
        try:
            await tell(self._temporal, _cease_signals(f"mail-link-{token}", accounts, now))
        except Unavailable:  # the address is on the list already: nothing goes to it; the accounts hear on a retry
            return self._page(mail["locale"], "done", mail, status=503)
        log.info("e-mail opt-out by link", account_ids=accounts)
        return self._page(mail["locale"], "done", mail)

    async def _mail_of(self, token: str) -> asyncpg.Record | None:
        return await self._pool.fetchrow(
            "SELECT j.account_id, j.to_address, a.document->>'creditor' AS creditor,"
            " coalesce(a.document->>'locale', 'en') AS locale"
            " FROM email_jobs j JOIN accounts a USING (account_id) WHERE j.opt_out_token = $1",
            token,
        )

    def _page(
        self,
        locale: str,
        part: str,
        mail: asyncpg.Record | None = None,
        *,
        button: bool = False,
        status: int = 200,
    ) -> web.Response:
        facts = {"creditor": mail["creditor"], "account_id": mail["account_id"]} if mail else {}
        line = html.escape(self._templates.opt_out_page(part, locale, **facts))
        form = (
            '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
            f'<button type="submit">{html.escape(self._templates.opt_out_page("button", locale))}</button></form>'
            if button
            else ""
        )
        page = f'<!doctype html><html lang="{locale}"><meta charset="utf-8"><title>{line}</title><p>{line}</p>{form}'
        if status == 503:  # recorded, but the accounts could not be told now
            page += "<p>Please try again in a minute.</p>"
        return web.Response(text=page, content_type="text/html", status=status)

    # --- mails forwarded by the vendor ------------------------------------------------------------------------

    async def inbound(self, request: web.Request) -> web.Response:
        if not self._signing_key:
            return _refused(request, 503, "not configured")
        form = await request.post()
        fields = {name: str(form[name]) for name in form}
        if not _signed(self._signing_key, fields):
            return _refused(request, 401, "signature does not match")
        if problem := _mail_problem(fields):
            return _refused(request, 406, problem)
        try:
            await self._take(fields)
        except Unavailable:  # the mail is kept; Mailgun's retry tells the accounts (PostgreSQL down: the middleware)
            return _refused(request, 503, "temporal unavailable")
        return web.Response(text="taken")

    async def _take(self, fields: Mapping[str, str]) -> None:
        message_id = _header(fields, "Message-Id").strip()
        subject, text = fields.get("subject", ""), fields.get("stripped-text") or fields.get("body-plain", "")
        sender = (parseaddr(fields.get("from", ""))[1] or fields["sender"]).lower()
        answers = MESSAGE_IDS.findall(f"{_header(fields, 'In-Reply-To')} {_header(fields, 'References')}")
        intent = classify_email(subject, text, self._vocabulary)
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await conn.fetchrow(
                "SELECT intent, account_ids, received_at, signalled FROM inbound_email WHERE message_id = $1",
                message_id,
            )
            if stored is None:
                stored = await _store(conn, message_id, sender, subject, text, answers, intent)
        if stored["signalled"] is None:
            signals = (
                _cease_signals(
                    f"mail-{sha256(message_id.encode()).hexdigest()[:32]}",
                    stored["account_ids"],
                    now=stored["received_at"],
                )
                if stored["intent"] == "opt_out"
                else []
            )
            told = await tell(self._temporal, signals)
            await self._pool.execute("UPDATE inbound_email SET signalled = $2 WHERE message_id = $1", message_id, told)
        log.info("e-mail received", intent=stored["intent"], account_ids=stored["account_ids"])


async def _store(
    conn: asyncpg.Connection,
    message_id: str,
    sender: str,
    subject: str,
    text: str,
    answers: list[str],
    intent: Literal["opt_out", "other"],
) -> asyncpg.Record:
    """Records the mail and what it changes, once. A reply is about the account of our mail it answers, and an
    opt-out stops mail to the address that mail went to (the debtor may write from another); a mail that answers
    none of ours is about the accounts whose debtor has the sender's address."""
    ours = await conn.fetchrow(
        "SELECT account_id, to_address, message_id FROM email_jobs WHERE message_id = ANY($1::text[])"
        " ORDER BY created_at DESC LIMIT 1",
        answers,
    )
    address = ours["to_address"] if ours else sender
    if intent == "opt_out":
        accounts = await _accounts_to_cease(conn, address, ours["account_id"] if ours else None)
    else:
        accounts = [ours["account_id"]] if ours else await running_accounts_of(conn, sender, "email")
    stored = await conn.fetchrow(
        "INSERT INTO inbound_email (message_id, sender, subject, body, in_reply_to, intent, account_ids)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING intent, account_ids, received_at, signalled",
        message_id,
        sender,
        subject,
        text,
        ours["message_id"] if ours else None,
        intent,
        accounts,
    )
    if intent == "opt_out":
        await _opt_out(conn, address, stored["received_at"], "reply", message_id)
    else:
        await debtor_replies.queue(conn, "email", message_id, accounts, stored["received_at"])
    return stored


async def _accounts_to_cease(conn: asyncpg.Connection, address: str, account_id: str | None) -> list[str]:
    """The accounts whose mail stops: those being worked whose debtor has the address, and the mail's own."""
    accounts = set(await running_accounts_of(conn, address, "email"))
    if account_id is not None:
        accounts.add(account_id)
    return sorted(accounts)


async def _opt_out(conn: asyncpg.Connection, address: str, at: datetime, source: str, reference: str) -> None:
    """The first opt-out stands (when it began)."""
    await conn.execute(
        "INSERT INTO email_opt_outs (address, opted_out_at, source, reference) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (address) DO NOTHING",
        address,
        at,
        source,
        reference,
    )


def _cease_signals(request_id: str, account_ids: list[str], now: datetime) -> list[Signal]:
    request = CeaseContact(
        request_id=request_id, channels=[Channel.email], reason="asked for no more e-mail", received_at=now
    )
    return [Signal(account_id, "cease_contact", request) for account_id in account_ids]


def _signed(signing_key: str, fields: Mapping[str, str]) -> bool:
    expected = hmac.new(
        signing_key.encode(), (fields.get("timestamp", "") + fields.get("token", "")).encode(), sha256
    ).hexdigest()
    return hmac.compare_digest(expected, fields.get("signature", ""))


def _header(fields: Mapping[str, str], name: str) -> str:
    """A header of the forwarded mail: Mailgun posts the usual ones as fields of their own, and every one in
    `message-headers`, a JSON list of [name, value] pairs."""
    if value := fields.get(name):
        return value
    try:
        headers = json.loads(fields.get("message-headers") or "[]")
        return next((str(pair[1]) for pair in headers if str(pair[0]).lower() == name.lower()), "")
    except (ValueError, TypeError, IndexError, KeyError):
        return ""


def _mail_problem(fields: Mapping[str, str]) -> str:
    """Why a signed forward can never be taken, naming the field but never its value ('' if it can)."""
    if not _header(fields, "Message-Id").strip():
        return "missing Message-Id (a field, or in message-headers)"
    if not fields.get("sender", "").strip():
        return "missing sender"
    return ""


def _refused(request: web.Request, status: int, reason: str) -> web.Response:
    log.warning("mail webhook refused", path=request.path, status=status, reason=reason)
    return web.Response(status=status, text=reason)
