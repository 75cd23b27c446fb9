"""Loopback stand-in for Twilio's Programmable Messaging REST API (2010-04-01 Messages).

It speaks the real protocol (paths, form-encoded requests, Basic auth, JSON resources and
errors, paging envelopes, signed status callbacks and incoming-message webhooks, whose TwiML
answer it carries out), so the real `twilio` client works against it once pointed at `base_url`.

    python -m standins.twilio_api --port 8787 --account-sid AC... --auth-token ...
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import math
import operator
import os
import re
import secrets
import signal
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from urllib.parse import urlencode

from aiohttp import BasicAuth, ClientError, ClientSession, ClientTimeout, hdrs, web
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
ACCOUNT_PATH = f"/{API_VERSION}/Accounts/{{account_sid}}"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
# Twilio's default opt-out / opt-in keywords (REVOKE and OPTOUT since 14 May 2025; no keyword with a space): a reply
# that is exactly one of them flips consent.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
START_WORDS = {"START", "YES", "UNSTOP"}
# What Twilio texts back, from the number texted, after one of STOP_WORDS.
UNSUBSCRIBED_REPLY = (
    "You have successfully been unsubscribed. You will not receive any more messages from this number."
    " Reply START to resubscribe."
)
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")  # each costs two septets
# List filters; the client sends "DateSent<" / "DateSent>" for Twilio's on-or-before / on-or-after.
DATE_FILTERS = {"DateSent": operator.eq, "DateSent<": operator.le, "DateSent>": operator.ge}


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment)  # "Thu, 24 Aug 2023 05:01:45 +0000", as Twilio writes dates


def _segments(body: str) -> int:
    if all(c in GSM7 or c in GSM7_EXTENSION for c in body):
        units, single, multi = sum(2 if c in GSM7_EXTENSION else 1 for c in body), 160, 153
    else:
        units, single, multi = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else math.ceil(units / multi)


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status, headers=headers)


def _not_found(path: str) -> web.Response:
    return _error(404, 20404, f"The requested resource {path} was not found")


class TwilioStandIn:
    """One Twilio account's Messages API on loopback, with knobs for tests and demos."""

    def __init__(self, account_sid: str, auth_token: str, *, delivery_delay: float = 0.1):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.delivery_delay = delivery_delay  # seconds between queued -> sent -> delivered
        # Our numbers' incoming-message webhook ("A message comes in"), one for every number of the account here.
        self.sms_url: str | None = None
        self.base_url: str | None = None
        self.messages: list[dict] = []  # accepted message resources, oldest first, updated as they progress
        self.webhooks: list[tuple[str, dict[str, str]]] = []  # (url, form) of every webhook posted, oldest first
        self.opted_out: set[str] = set()
        self.not_mobile: set[str] = set()
        self.undeliverable: dict[str, int] = {}
        self._failures: deque[tuple[int, int | None]] = deque()
        self._validator = RequestValidator(auth_token)
        self._tasks: set[asyncio.Task] = set()
        self._runner: web.AppRunner | None = None
        self._http: ClientSession | None = None

    def opt_out(self, number: str) -> None:
        """Make sends to `number` fail with 21610, as after the handset replied STOP."""
        self.opted_out.add(number)

    def mark_not_mobile(self, number: str) -> None:
        """Make sends to `number` fail with 21614 (a landline, say)."""
        self.not_mobile.add(number)

    def mark_undeliverable(self, number: str, error_code: int = 30003) -> None:
        """Accept sends to `number`, then report them `undelivered` with `error_code`."""
        self.undeliverable[number] = error_code

    async def inbound_sms(self, from_: str, body: str, to: str | None = None) -> int | None:
        """A handset texts `to` (by default the number of ours that last texted it). Twilio's opt-out / opt-in
        keywords change its consent as on the real service (an opt-out is answered with Twilio's own confirmation),
        and the text is posted, signed, to `sms_url`, whose TwiML answer is carried out (`post_webhook`).
        Returns the webhook's HTTP status (None: no `sms_url`, or it could not be reached)."""
        to = to or next((m["from"] for m in reversed(self.messages) if m["to"] == from_ and m["from"]), None)
        if to is None:
            raise ValueError("none of our numbers has texted this handset; say which one it texts (to=...)")
        keyword = body.strip().upper()
        if keyword in STOP_WORDS:
            self.opted_out.add(from_)
            self._accept({"To": from_, "From": to, "Body": UNSUBSCRIBED_REPLY}, "outbound-reply")
        elif keyword in START_WORDS:
            self.opted_out.discard(from_)
        if not self.sms_url:
            return None
        sid = "SM" + secrets.token_hex(16)
        return await self.post_webhook(
            self.sms_url,
            {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "Body": body,
                "From": from_,
                "MessageSid": sid,
                "NumMedia": "0",
                "NumSegments": str(_segments(body)),
                "SmsMessageSid": sid,
                "SmsSid": sid,
                "SmsStatus": "received",
                "To": to,
            },
        )

    async def post_webhook(self, url: str, form: dict[str, str]) -> int | None:
        """POSTs `form` to `url` signed as Twilio signs webhooks (also to resend one, as Twilio retries); returns
        the answer's HTTP status, or None when `url` could not be reached. The answer to an incoming message is
        TwiML, carried out as Twilio does, a resent one's too."""
        self.webhooks.append((url, form))
        signature = self._validator.compute_signature(url, form)
        try:
            async with self._http.post(url, data=form, headers={"X-Twilio-Signature": signature}) as response:
                status, answer = response.status, await response.text()
        except (ClientError, TimeoutError) as exc:
            # Twilio drops webhooks it cannot deliver; so do we.
            log.warning("webhook for %s failed: %s", form.get("MessageSid"), type(exc).__name__)
            return None
        # Only an incoming message's answer says what to do; Twilio ignores what a status callback answers.
        if form.get("SmsStatus") == "received" and 200 <= status < 300 and answer.strip():
            self._carry_out(form, answer)
        return status

    def _carry_out(self, incoming: Mapping[str, str], twiml: str) -> None:
        """Each <Message> of the answer is sent from the number texted to the handset that texted, as an API send
        is, and refused as one is: Twilio does not send to a handset that opted out (21610), so nothing is kept."""
        try:
            response = ET.fromstring(twiml)
        except ET.ParseError:
            response = None
        if response is None or response.tag != "Response":
            log.warning("the answer to %s is not TwiML (Twilio error 12100)", incoming["MessageSid"])
            return
        for element in response.findall("Message"):
            body = element.findtext("Body") or element.text or ""  # <Message>text</Message> or its <Body>
            reply = {"To": incoming["From"], "From": incoming["To"], "Body": body}
            if rejection := self._rejection(reply):
                log.info("refused a TwiML reply with Twilio error %s", rejection[0])
                continue
            self._accept(reply, "outbound-reply")

    def fail_next(self, n: int = 1, status: int = 503, retry_after: int | None = None) -> None:
        """Answer the next `n` API requests with `status` (e.g. 503, or 429 with `retry_after` seconds)."""
        self._failures.extend([(status, retry_after)] * n)

    def recover(self) -> None:
        """Twilio is back: drop the injected failures not yet used."""
        self._failures.clear()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(middlewares=[self._gate])
        app.router.add_post(ACCOUNT_PATH + "/Messages.json", self._create)
        app.router.add_get(ACCOUNT_PATH + "/Messages.json", self._list)
        app.router.add_get(ACCOUNT_PATH + "/Messages/{sid}.json", self._fetch)
        self._http = ClientSession(timeout=ClientTimeout(total=5))
        # No access log: query strings carry phone numbers (To=..., From=...).
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.base_url = f"http://{host}:{self._runner.addresses[0][1]}"
        return self.base_url

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner:
            await self._runner.cleanup()
        if self._http:
            await self._http.close()

    @web.middleware
    async def _gate(self, request: web.Request, handler) -> web.StreamResponse:
        if self._failures:
            status, retry_after = self._failures.popleft()
            headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
            return _error(status, 20000 + status, HTTPStatus(status).phrase, headers)
        if not self._authorized(request):
            return _error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return _not_found(request.path)

    def _authorized(self, request: web.Request) -> bool:
        try:
            auth = BasicAuth.decode(request.headers.get(hdrs.AUTHORIZATION, ""))
        except ValueError:
            return False
        return (
            hmac.compare_digest(auth.login.encode(), self.account_sid.encode())
            and hmac.compare_digest(auth.password.encode(), self.auth_token.encode())
            # Unknown paths have no account_sid; they get Twilio's 404 once the credentials pass.
            and request.match_info.get("account_sid", self.account_sid) == self.account_sid
        )

    def _rejection(self, form) -> tuple[int, str] | None:
        to = form.get("To", "")
        if not to:
            return 21604, "A 'To' phone number is required."
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return 21603, "A 'From' phone number is required."
        if not form.get("Body"):
            return 21602, "Message body is required."
        if not E164.match(to):
            return 21211, f"The 'To' number {to} is not a valid phone number."
        if to in self.opted_out:
            return 21610, "Attempt to send to unsubscribed recipient"
        if to in self.not_mobile:
            return 21614, f"To number: {to}, is not a mobile number"
        return None

    async def _create(self, request: web.Request) -> web.Response:
        form = await request.post()
        if rejection := self._rejection(form):
            code, text = rejection
            log.info("rejected a message with Twilio error %s", code)
            return _error(400, code, text)
        return web.json_response(self._accept(form, "outbound-api"), status=201)

    def _accept(self, form: Mapping[str, str], direction: str) -> dict:
        """A message resource from the form's From (or MessagingServiceSid) to its To, on its way: queued, sent,
        delivered (or undelivered), with a status callback for each when the form asks for one."""
        now = _rfc2822(datetime.now(UTC))
        sid = "SM" + secrets.token_hex(16)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        from_, service = form.get("From") or None, form.get("MessagingServiceSid") or None
        message = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": form["Body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": direction,
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": str(_segments(form["Body"])),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if from_ else "accepted",
            "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
            "to": form["To"],
            "uri": uri,
        }
        self.messages.append(message)
        log.info("accepted %s", sid)
        task = asyncio.create_task(self._deliver(message, form.get("StatusCallback")))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return message

    async def _fetch(self, request: web.Request) -> web.Response:
        sid = request.match_info["sid"]
        found = next((m for m in self.messages if m["sid"] == sid), None)
        return web.json_response(found) if found else _not_found(request.path)

    async def _list(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            page = int(query.get("Page", 0))
            size = min(int(query.get("PageSize", 50)), 1000)
            days = [(op, datetime.fromisoformat(query[key]).date()) for key, op in DATE_FILTERS.items() if key in query]
        except ValueError:
            return _error(400, 20001, "Invalid parameter")

        def wanted(m: dict) -> bool:
            if query.get("To", m["to"]) != m["to"] or query.get("From", m["from"]) != m["from"]:
                return False
            if days and not m["date_sent"]:
                return False
            return all(op(parsedate_to_datetime(m["date_sent"]).date(), day) for op, day in days)

        selected = [m for m in reversed(self.messages) if wanted(m)]  # newest first, as Twilio lists
        filters = {k: v for k, v in query.items() if k in ("To", "From", *DATE_FILTERS)}

        def page_uri(n: int) -> str:
            return f"{request.path}?{urlencode({**filters, 'PageSize': size, 'Page': n})}"

        start = page * size
        records = selected[start : start + size]
        return web.json_response(
            {
                "messages": records,
                "page": page,
                "page_size": size,
                "start": start,
                "end": start + max(len(records) - 1, 0),
                "uri": page_uri(page),
                "first_page_uri": page_uri(0),
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "next_page_uri": page_uri(page + 1) if start + size < len(selected) else None,
            }
        )

    async def _deliver(self, message: dict, callback_url: str | None) -> None:
        error_code = self.undeliverable.get(message["to"])
        for status in ("sent", "undelivered" if error_code else "delivered"):
            await asyncio.sleep(self.delivery_delay)
            now = _rfc2822(datetime.now(UTC))
            message.update(status=status, date_updated=now)
            if status == "sent":
                message["date_sent"] = now
            else:
                message["error_code"] = error_code
            if callback_url:
                await self._callback(callback_url, message)

    async def _callback(self, url: str, message: dict) -> None:
        sid, status = message["sid"], message["status"]
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": message["to"],
        }
        if message["from"]:
            params["From"] = message["from"]
        if message["messaging_service_sid"]:
            params["MessagingServiceSid"] = message["messaging_service_sid"]
        if message["error_code"]:
            params["ErrorCode"] = str(message["error_code"])
        status = await self.post_webhook(url, params)
        if status is not None and status >= 400:
            log.warning("status callback for %s answered HTTP %s", sid, status)


async def _serve(args: argparse.Namespace) -> None:
    standin = TwilioStandIn(args.account_sid, args.auth_token)
    for number in args.opt_out:
        standin.opt_out(number)
    for number in args.not_mobile:
        standin.mark_not_mobile(number)
    print(f"TWILIO_API_BASE={await standin.start(host=args.host, port=args.port)}", flush=True)
    stopped = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopped.set)
    try:
        await stopped.wait()
    finally:
        await standin.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 only inside a container network")
    parser.add_argument("--port", type=int, default=8787)
    for flag, env in (("--account-sid", "TWILIO_ACCOUNT_SID"), ("--auth-token", "TWILIO_AUTH_TOKEN")):
        parser.add_argument(flag, default=os.environ.get(env), required=env not in os.environ, help=f"default: ${env}")
    parser.add_argument("--opt-out", action="append", default=[], metavar="E164", help="number that replied STOP")
    parser.add_argument("--not-mobile", action="append", default=[], metavar="E164", help="number that is not a mobile")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
