"""The worker's inbound HTTP server: Twilio's webhooks here, the partners' (the field app's visit reports, the
mail vendor's delivery evidence: inbound/partner_webhooks.py) beside them, and the strategy report's pages for signed-in
operators (inbound/reports.py). Each sender's routes are guarded by its own authentication.

Twilio's webhooks: what became of the texts we sent (status callbacks) and what debtors texted back.
Only requests signed by Twilio over the public URL they were sent to are heard. What one means is written to
PostgreSQL first, in one transaction and once per MessageSid (and status), since Twilio may send one twice; then the
accounts it concerns are signalled. When PostgreSQL or Temporal cannot be reached, the request is kept in the spool
(inbound/spool.py) and answered as taken, and handed to the handler again until it goes through: Twilio does not
retry on its own, and a STOP must not be lost (each signal carries the webhook's id, so an account takes it once).
A reply is answered with no text of ours, but for the one confirmation of an opt-out Twilio does not confirm itself
("OPT OUT", 退订; dunning/replies.py), the first time its webhook is taken or kept.
The partners' endpoints answer 503 with Retry-After while the database is down; they retry.
Phone numbers and texts are personal data: they go to the database and the spool only, never to logs or answers.
"""

from __future__ import annotations

import asyncio
import functools
import re
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg
import structlog
from aiohttp import web
from multidict import MultiDictProxy
from temporalio.client import Client
from temporalio.converter import PayloadCodec
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from dunning.account import E164
from dunning.channels import Channel
from dunning.contact import CeaseContact
from dunning.messages import Templates
from dunning.operators import load_roles
from dunning.outcomes import ContactOutcome
from dunning.replies import Intent, ReplyVocabulary, classify, load_replies, opt_out_confirmation
from inbound.accounts import Signal, Unavailable, running_accounts_of, tell
from inbound.codec import CodecServer
from inbound.health import Health
from inbound.mail import MailWebhooks
from inbound.partner_webhooks import LETTER_EVIDENCE_PATH, VISIT_REPORT_PATH, Handler, PartnerWebhooks, signed_with
from inbound.reports import ReportPages
from inbound.spool import Spool
from infra import db, debtor_replies
from infra.config import Settings
from infra.twilio_sms import (
    FINAL_STATUSES,
    INBOUND_SMS_PATH,
    INVALID_NUMBER_ERRORS,
    MESSAGE_STATUSES,
    STATUS_CALLBACK_PATH,
    UNSUBSCRIBED_ERRORS,
)

log = structlog.get_logger()

SIGNATURE_HEADER = "X-Twilio-Signature"
MESSAGE_SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")  # SM... for texts, MM... for picture messages
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'  # no auto-reply: collectors answer
REPORTED_BY_TWILIO = "twilio status callback"
# Texts no account acts on by itself: a collector reads and answers them (`collections replies next`).
FOR_A_COLLECTOR: tuple[Intent, ...] = ("help", "other")


@dataclass(frozen=True)
class Reply:
    """A text a handset sent to our number."""

    message_sid: str
    from_number: str
    to_number: str
    body: str


@dataclass(frozen=True)
class StatusReport:
    """Twilio's word on one of our texts."""

    message_sid: str
    status: str
    error_code: int | None
    to_number: str

    def failed_with(self, codes: frozenset[int]) -> bool:
        return self.status in ("undelivered", "failed") and self.error_code in codes


TWILIO_WEBHOOKS = web.AppKey("twilio_webhooks", "TwilioWebhooks")
RETRY_AFTER_SECONDS = 30  # what a partner is told to wait while the database is down


def make_app(
    settings: Settings, pool: asyncpg.Pool, temporal: Client, codec: PayloadCodec | None = None
) -> web.Application:
    """The webhooks, the report pages, and with the client's codec the codec server for the Web UI and CLI."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token and settings.public_base_url):
        raise ValueError("Twilio's webhooks need the account sid, its auth token and the public base URL")
    spool = Spool(settings.inbound_spool_dir)
    vocabulary = load_replies()
    twilio = TwilioWebhooks(settings.twilio_account_sid, pool, temporal, vocabulary, spool)
    by_twilio = signed_by_twilio(settings.twilio_auth_token, settings.public_base_url)
    partners = PartnerWebhooks(pool, temporal)
    by_field_app = signed_with(settings.field_app_secret, "field app")
    by_mail_vendor = signed_with(settings.mail_vendor_secret, "mail vendor")
    app = web.Application(middlewares=[database_down_is_503])
    app[TWILIO_WEBHOOKS] = twilio
    app.router.add_post(STATUS_CALLBACK_PATH, by_twilio(twilio.status_callback))
    app.router.add_post(INBOUND_SMS_PATH, by_twilio(twilio.inbound_sms))
    app.router.add_post(VISIT_REPORT_PATH, by_field_app(partners.visit_report))
    app.router.add_post(LETTER_EVIDENCE_PATH, by_mail_vendor(partners.letter_evidence))
    roles = load_roles()
    ReportPages(pool, roles, secure_cookie=settings.public_base_url.startswith("https://")).add_routes(app)
    Health(pool, temporal).add_routes(app)
    MailWebhooks(pool, temporal, Templates.load(), vocabulary, settings.mail_inbound_signing_key).add_routes(app)
    if codec is not None:
        CodecServer(codec, pool, roles, settings.temporal_ui_origin).add_routes(app)
    return app


@web.middleware
async def database_down_is_503(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request the database could not take is to be sent again later, not a server error."""
    try:
        return await handler(request)
    except db.UNREACHABLE as err:
        log.warning("database unreachable; asked to retry", path=request.path, error=type(err).__name__)
        return web.Response(
            status=503,
            text="the database is unavailable; retry later",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


@asynccontextmanager
async def serve(
    settings: Settings, pool: asyncpg.Pool, temporal: Client, retry_every: float = 5.0
) -> AsyncIterator[str]:
    """Serves the webhooks on the inbound host and port until the block ends, handing the spool's requests to their
    handlers again every `retry_every` seconds; yields the base URL Twilio (and the partners) must call
    (PUBLIC_BASE_URL, or the server's own address)."""
    host = settings.inbound_http_host
    # Bound before the app is built, so that with port 0 the URL signatures are checked against has the real port.
    with socket.create_server((host, settings.inbound_http_port)) as sock:
        bound_url = f"http://{host}:{sock.getsockname()[1]}"
        public_url = settings.public_base_url or bound_url
        app = make_app(
            replace(settings, public_base_url=public_url), pool, temporal, temporal.data_converter.payload_codec
        )
        runner = web.AppRunner(app)
        await runner.setup()
        retrying = asyncio.create_task(app[TWILIO_WEBHOOKS].retry_kept(retry_every))
        try:
            await web.SockSite(runner, sock).start()
            log.info(
                "inbound webhooks served",
                bound_url=bound_url,
                public_base_url=public_url,
                field_app=bool(settings.field_app_secret),
                mail_vendor=bool(settings.mail_vendor_secret),
            )
            yield public_url
        finally:
            retrying.cancel()
            await runner.cleanup()


def signed_by_twilio(auth_token: str, public_base_url: str) -> Callable[[Handler], Handler]:
    """A decorator for Twilio's routes: refuses (403) any request that does not carry Twilio's signature over the
    URL Twilio called."""
    validator = RequestValidator(auth_token)
    base = public_base_url.rstrip("/")

    def guard(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            signature = request.headers.get(SIGNATURE_HEADER)
            if not signature:
                return _refused(request, 403, f"missing {SIGNATURE_HEADER}")
            if not validator.validate(base + request.raw_path, await request.post(), signature):
                return _refused(request, 403, "signature does not match")
            return await handler(request)

        return checked

    return guard


class TwilioWebhooks:
    def __init__(
        self, account_sid: str, pool: asyncpg.Pool, temporal: Client, vocabulary: ReplyVocabulary, spool: Spool
    ):
        self._account_sid = account_sid
        self._pool = pool
        self._temporal = temporal
        self._vocabulary = vocabulary
        self._spool = spool
        self._routes = {"sms_reply": self._take_reply, "sms_status": self._take_status}

    async def inbound_sms(self, request: web.Request) -> web.Response:
        form = await request.post()
        if problem := self._problem(form, ("MessageSid", "From", "To", "AccountSid"), handset="From"):
            return _refused(request, 400, problem)
        first_time = await self._take_or_keep("sms_reply", form)
        confirmation = opt_out_confirmation(form.get("Body", ""), self._vocabulary) if first_time else None
        return web.Response(text=_twiml(confirmation), content_type="text/xml")

    async def status_callback(self, request: web.Request) -> web.Response:
        form = await request.post()
        required = ("MessageSid", "MessageStatus", "From", "To", "AccountSid")
        if problem := self._problem(form, required, handset="To") or _status_problem(form):
            return _refused(request, 400, problem)
        await self._take_or_keep("sms_status", form)
        return web.Response(status=204)

    async def retry_kept(self, every: float) -> None:
        """Runs for as long as the server does: the spool's requests go to their handlers again, oldest first."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.handle_kept()
            except Exception:  # an unreadable spool must not stop the retries for good
                log.exception("kept webhooks could not be read")

    async def handle_kept(self) -> None:
        """Each kept request goes through once PostgreSQL and Temporal take it; the first that still cannot waits
        with the rest for the next round."""
        for kept in self._spool.waiting():
            try:
                await self._take(kept.route, kept.form)
            except Unavailable:
                return
            except Exception:  # not an outage: kept aside for a person, so the others still go through
                log.exception("kept webhook set aside", route=kept.route, message_sid=kept.form.get("MessageSid"))
                self._spool.set_aside(kept)
                continue
            self._spool.handled(kept)
            log.info("kept webhook handled", route=kept.route, message_sid=kept.form.get("MessageSid"))

    async def _take_or_keep(self, route: str, form: MultiDictProxy[str]) -> bool:
        """Whether the webhook is taken for the first time (not Twilio sending one taken before again). One kept
        counts as a first time, since the spool sees it through (so would a repeat that has to be kept: Twilio does
        not send a webhook again on its own)."""
        fields = {name: form[name] for name in form}
        try:
            return await self._take(route, fields)
        except Unavailable as err:
            self._spool.keep(route, fields)
            log.warning("webhook kept to retry", route=route, message_sid=fields["MessageSid"], unavailable=str(err))
            return True

    async def _take(self, route: str, form: Mapping[str, str]) -> bool:
        try:
            return await self._routes[route](form)
        except db.UNREACHABLE as err:
            raise Unavailable("PostgreSQL") from err

    async def _take_reply(self, form: Mapping[str, str]) -> bool:
        reply = Reply(form["MessageSid"], form["From"], form["To"], form.get("Body", ""))
        intent = classify(reply.body, self._vocabulary)
        confirmation = opt_out_confirmation(reply.body, self._vocabulary)
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await _store_reply(conn, reply, intent, confirmation)
        if stored["signalled"] is None:
            told = await tell(
                self._temporal, _reply_signals(reply, stored["intent"], stored["account_ids"], stored["received_at"])
            )
            await self._pool.execute(
                "UPDATE inbound_sms SET signalled = $2 WHERE message_sid = $1", reply.message_sid, told
            )
        log.info(
            "sms reply received",
            message_sid=reply.message_sid,
            intent=stored["intent"],
            account_ids=stored["account_ids"],
        )
        return bool(stored["first_time"])

    async def _take_status(self, form: Mapping[str, str]) -> bool:
        code = form.get("ErrorCode")
        report = StatusReport(form["MessageSid"], form["MessageStatus"], int(code) if code else None, form["To"])
        async with self._pool.acquire() as conn, conn.transaction():
            stored = await _store_status(conn, report)
        if stored["signalled"] is None:
            told = await tell(self._temporal, _status_signals(report, stored["account_ids"], stored["received_at"]))
            await self._pool.execute(
                "UPDATE sms_status_events SET signalled = $3 WHERE message_sid = $1 AND status = $2",
                report.message_sid,
                report.status,
                told,
            )
        log.info(
            "sms status received",
            message_sid=report.message_sid,
            status=report.status,
            error_code=report.error_code,
            account_ids=stored["account_ids"],
        )
        return bool(stored["first_time"])

    def _problem(self, form: MultiDictProxy[str], required: tuple[str, ...], handset: str) -> str:
        """Why a signed webhook cannot be used, naming the field but never its value ('' if it can)."""
        if missing := [field for field in required if not form.get(field)]:
            return f"missing {', '.join(missing)}"
        if form["AccountSid"] != self._account_sid:
            return "AccountSid is not this Twilio account's"
        if not MESSAGE_SID.match(form["MessageSid"]):
            return "MessageSid is not a Twilio message sid"
        if not E164.match(form[handset]):
            return f"{handset} is not an E.164 phone number"
        return ""


def _status_problem(form: MultiDictProxy[str]) -> str:
    if form["MessageStatus"] not in MESSAGE_STATUSES:
        return "unknown MessageStatus"
    if not form.get("ErrorCode", "0").isdigit():
        return "ErrorCode is not a number"
    return ""


def _twiml(confirmation: str | None) -> str:
    """The answer to a reply's webhook: Twilio texts each <Message> in it to the handset."""
    if confirmation is None:
        return EMPTY_TWIML
    response = MessagingResponse()
    response.message(confirmation)  # XML-escaped as it is written out
    return str(response)


def _refused(request: web.Request, status: int, reason: str) -> web.Response:
    log.warning("twilio webhook refused", path=request.path, status=status, reason=reason)
    return web.Response(status=status, text=reason)


# --- the database: each webhook once, its effects with it ------------------------------------------------------


async def _store_reply(
    conn: asyncpg.Connection, reply: Reply, intent: Intent, confirmation: str | None
) -> asyncpg.Record:
    """Records the reply (with the confirmation the first time's answer carries) and, the first time, what it
    changes; a retry gets the row of the first time."""
    accounts = await running_accounts_of(conn, reply.from_number, "mobile")
    stored = await conn.fetchrow(
        "INSERT INTO inbound_sms (message_sid, from_number, to_number, body, intent, account_ids, opt_out_confirmation)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (message_sid) DO NOTHING"
        " RETURNING intent, account_ids, received_at, signalled, true AS first_time",
        reply.message_sid,
        reply.from_number,
        reply.to_number,
        reply.body,
        intent,
        accounts,
        confirmation,
    )
    if stored is None:
        return await conn.fetchrow(
            "SELECT intent, account_ids, received_at, signalled, false AS first_time FROM inbound_sms"
            " WHERE message_sid = $1",
            reply.message_sid,
        )
    if intent == "opt_out":
        await _opt_out(conn, reply.from_number, stored["received_at"], "reply", reply.message_sid)
    elif intent == "opt_in":
        # Twilio subscribes the handset again; a cease request the accounts recorded still stands.
        await conn.execute("DELETE FROM sms_opt_outs WHERE number = $1", reply.from_number)
    elif intent in FOR_A_COLLECTOR:
        await debtor_replies.queue(conn, "sms", reply.message_sid, accounts, stored["received_at"])
    return stored


async def _store_status(conn: asyncpg.Connection, report: StatusReport) -> asyncpg.Record:
    """Records the callback and, the first time, what it changes; a retry gets the row of the first time."""
    # One at a time with the send activity storing this sid, so an early callback is seen by one or the other.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", report.message_sid)
    accounts = await _accounts_to_tell(conn, report)
    stored = await conn.fetchrow(
        "INSERT INTO sms_status_events (message_sid, status, error_code, account_ids) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (message_sid, status) DO NOTHING"
        " RETURNING account_ids, received_at, signalled, true AS first_time",
        report.message_sid,
        report.status,
        report.error_code,
        accounts,
    )
    if stored is None:
        return await conn.fetchrow(
            "SELECT account_ids, received_at, signalled, false AS first_time FROM sms_status_events"
            " WHERE message_sid = $1 AND status = $2",
            report.message_sid,
            report.status,
        )
    if report.status in FINAL_STATUSES:
        # Only a text Twilio took moves on, once: a late 'sent' or a second ending leaves it as it is.
        await conn.execute(
            "UPDATE sms_messages SET status = $2, error_code = $3, updated_at = now()"
            " WHERE twilio_sid = $1 AND status = 'sent'",
            report.message_sid,
            report.status,
            report.error_code,
        )
    if report.failed_with(UNSUBSCRIBED_ERRORS):
        await _opt_out(conn, report.to_number, stored["received_at"], "twilio_21610", report.message_sid)
    return stored


async def _accounts_to_tell(conn: asyncpg.Connection, report: StatusReport) -> list[str]:
    if report.failed_with(UNSUBSCRIBED_ERRORS):
        return await running_accounts_of(conn, report.to_number, "mobile")
    if report.failed_with(INVALID_NUMBER_ERRORS):
        sender = await conn.fetchval("SELECT account_id FROM sms_messages WHERE twilio_sid = $1", report.message_sid)
        return [sender] if sender else []
    return []


async def _opt_out(conn: asyncpg.Connection, number: str, at: datetime, source: str, message_sid: str) -> None:
    """The first opt-out stands (when it began); a handset that texts START is removed, and may opt out again."""
    await conn.execute(
        "INSERT INTO sms_opt_outs (number, opted_out_at, source, message_sid) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (number) DO NOTHING",
        number,
        at,
        source,
        message_sid,
    )


# --- what the accounts are told -----------------------------------------------------------------------------------


def _reply_signals(reply: Reply, intent: str, account_ids: list[str], at: datetime) -> list[Signal]:
    if intent == "opt_out":
        request = CeaseContact(
            request_id=f"sms-{reply.message_sid}",
            channels=[Channel.sms],
            reason="replied STOP to our SMS",
            received_at=at,
        )
        return [Signal(account_id, "cease_contact", request) for account_id in account_ids]
    if intent in ("says_paid", "callback_requested"):
        # No note: the text stays in inbound_sms, out of workflow history.
        outcome = ContactOutcome(
            outcome_id=f"sms-{reply.message_sid}",
            code=intent,
            source="sms",
            contact_point=reply.from_number,
            reported_by="sms reply",
            occurred_at=at,
        )
        return [Signal(account_id, "contact_outcome", outcome) for account_id in account_ids]
    return []  # help and anything else: queued for a collector (FOR_A_COLLECTOR)


def _status_signals(report: StatusReport, account_ids: list[str], at: datetime) -> list[Signal]:
    if report.failed_with(UNSUBSCRIBED_ERRORS):
        request = CeaseContact(
            request_id=f"sms-{report.message_sid}",
            channels=[Channel.sms],
            reason=f"Twilio refused our SMS: the handset opted out (error {report.error_code})",
            received_at=at,
        )
        return [Signal(account_id, "cease_contact", request) for account_id in account_ids]
    if report.failed_with(INVALID_NUMBER_ERRORS):
        outcome = ContactOutcome(
            outcome_id=f"sms-{report.message_sid}-{report.error_code}",
            code="invalid_number",
            source="sms",
            contact_point=report.to_number,
            reported_by=REPORTED_BY_TWILIO,
            occurred_at=at,
        )
        return [Signal(account_id, "contact_outcome", outcome) for account_id in account_ids]
    return []
