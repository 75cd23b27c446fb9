"""Send SMS through the real Twilio client and sort failures into give-up and try-again."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from aiohttp import ClientConnectorError, ClientError
from twilio.base import values
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from infra.config import Settings
from infra.delivery import NotSent, OutcomeUnknown, Rejected

REQUEST_TIMEOUT_S = 15.0
LOOKBACK = 50  # texts to one number listed when looking for one that may have been taken
CLOCK_SLACK = timedelta(minutes=5)
# Where Twilio posts what became of each text we sent, and the texts handsets send to our number.
STATUS_CALLBACK_PATH = "/twilio/sms/status"
INBOUND_SMS_PATH = "/twilio/sms/inbound"
# A message's status as Twilio reports it (the Message resource's `status`).
MESSAGE_STATUSES = frozenset(
    {
        "queued",
        "sending",
        "sent",
        "failed",
        "delivered",
        "undelivered",
        "receiving",
        "received",
        "accepted",
        "scheduled",
        "read",
        "partially_delivered",
        "canceled",
    }
)
# How a text that Twilio took ended; a row that got there never moves again (callbacks can come out of order).
FINAL_STATUSES = ("delivered", "undelivered", "failed")
# Error codes of an undelivered or failed text: the handset had opted out (it texted STOP to our number) ...
UNSUBSCRIBED_ERRORS = frozenset({21610})
# ... or the number cannot take texts: unknown destination handset, landline or unreachable carrier.
INVALID_NUMBER_ERRORS = frozenset({30005, 30006})
# Twilio echoes phone numbers into error messages; ours end up in logs and workflow history.
_PHONE_NUMBER = re.compile(r"\+?\d[\d ().-]{5,}\d")


@dataclass(frozen=True)
class SentSms:
    sid: str
    status: str
    num_segments: int


# Refusals of a send that say what the number is: it opted out (texted STOP) ...
OPTED_OUT_ON_SEND = frozenset({21610})
# ... or it cannot take texts: not a valid number, not a mobile.
INVALID_NUMBER_ON_SEND = frozenset({21211, 21614})


# Answers after which Twilio has not queued the message; 401/403 last until someone fixes the credentials.
_NOT_TAKEN = {401, 403, 429, 503}


class _HttpClient(AsyncTwilioHttpClient):
    """Twilio's aiohttp client, honouring its own timeout and optionally aimed at another base URL."""

    def __init__(self, base_url: str | None, timeout: float):
        super().__init__(timeout=timeout)
        self._base = urlsplit(base_url) if base_url else None

    async def request(self, method, url, *args, timeout=None, **kwargs):
        if self._base:
            parts = urlsplit(url)
            url = urlunsplit(
                parts._replace(
                    scheme=self._base.scheme, netloc=self._base.netloc, path=self._base.path.rstrip("/") + parts.path
                )
            )
        # The stock client drops its constructor timeout and passes None, which aiohttp reads as "no limit".
        return await super().request(method, url, *args, timeout=timeout or self.timeout, **kwargs)


class SmsClient(Client):
    """Twilio's client, and the URL Twilio should report each text's fate to (None: nowhere)."""

    def __init__(self, *args, status_callback: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.status_callback = status_callback


def make_client(settings: Settings) -> SmsClient:
    """Twilio client on the async (aiohttp) path; with `public_base_url` set, every text asks for status callbacks
    at our webhook.

    Call it inside the running event loop (the HTTP session binds to it) and release it with
    `await client.http_client.close()`.
    """
    base = settings.public_base_url
    return SmsClient(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        http_client=_HttpClient(settings.twilio_api_base, REQUEST_TIMEOUT_S),
        status_callback=base.rstrip("/") + STATUS_CALLBACK_PATH if base else None,
    )


async def send_sms(client: SmsClient, *, to: str, from_: str, body: str, status_callback: str | None = None) -> SentSms:
    try:
        # Twilio's client sends None literally; `unset` leaves the parameter out.
        message = await client.messages.create_async(
            to=to, from_=from_, body=body, status_callback=status_callback or client.status_callback or values.unset
        )
    except (TwilioRestException, TwilioServiceException) as exc:
        # `from None`: the original exception's text carries the unredacted number.
        if exc.status in _NOT_TAKEN:
            raise NotSent(f"Twilio answered HTTP {exc.status} (error {exc.code})") from None
        if exc.status >= 500:
            raise OutcomeUnknown(f"Twilio answered HTTP {exc.status} (error {exc.code})") from None
        text = exc.msg if isinstance(exc, TwilioRestException) else exc.detail or exc.title
        meaning = (
            "opted_out"
            if exc.code in OPTED_OUT_ON_SEND
            else "invalid_recipient"
            if exc.code in INVALID_NUMBER_ON_SEND
            else ""
        )
        raise Rejected("twilio", exc.code, _PHONE_NUMBER.sub("<number>", text), meaning) from None
    except ClientConnectorError as exc:
        raise NotSent(f"Twilio unreachable: {type(exc).__name__}") from exc
    except (ClientError, TimeoutError) as exc:
        raise OutcomeUnknown(f"no answer from Twilio: {type(exc).__name__}") from exc
    return SentSms(sid=message.sid, status=message.status, num_segments=int(message.num_segments or 1))


async def find_sent(client: SmsClient, *, to: str, from_: str, body: str, since: datetime) -> str | None:
    """The sid of the text with this body that Twilio took for `to` since `since`, or None if it took none: asked
    before sending again after an answer that left it in doubt. NotSent when Twilio cannot be asked now."""
    try:
        recent = await client.messages.list_async(to=to, from_=from_, limit=LOOKBACK)
    except (TwilioRestException, TwilioServiceException) as exc:
        raise NotSent(f"Twilio could not list our texts: HTTP {exc.status}") from None
    except (ClientError, TimeoutError) as exc:
        raise NotSent(f"Twilio could not be asked: {type(exc).__name__}") from exc
    # Twilio stamps its own clock: a little slack for the difference from ours.
    taken = [m for m in recent if m.body == body and m.date_created and m.date_created >= since - CLOCK_SLACK]
    return taken[-1].sid if taken else None
