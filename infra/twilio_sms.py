"""Send SMS through the real Twilio client and sort failures into give-up and try-again."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from aiohttp import ClientConnectorError, ClientError
from twilio.base import values
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from infra.config import Settings

REQUEST_TIMEOUT_S = 15.0
# Twilio echoes phone numbers into error messages; ours end up in logs and workflow history.
_PHONE_NUMBER = re.compile(r"\+?\d[\d ().-]{5,}\d")


@dataclass(frozen=True)
class SentSms:
    sid: str
    status: str
    num_segments: int


class SmsRejected(Exception):
    """Twilio refused this send for good (4xx: bad or opted-out number, bad request): don't retry."""

    def __init__(self, code: int | None, message: str):
        super().__init__(f"Twilio error {code}: {message}")
        self.code = code
        self.message = message


class SmsNotSent(Exception):
    """Twilio provably did not take the send (429, 503, bad credentials, connection refused): sending again is safe."""


class SmsOutcomeUnknown(Exception):
    """The request may have reached Twilio (timeout, dropped connection, other 5xx): sending again could text the
    debtor twice."""


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
            url = urlunsplit(parts._replace(scheme=self._base.scheme, netloc=self._base.netloc,
                                            path=self._base.path.rstrip("/") + parts.path))
        # The stock client drops its constructor timeout and passes None, which aiohttp reads as "no limit".
        return await super().request(method, url, *args, timeout=timeout or self.timeout, **kwargs)


def make_client(settings: Settings) -> Client:
    """Twilio client on the async (aiohttp) path.

    Call it inside the running event loop (the HTTP session binds to it) and release it with
    `await client.http_client.close()`.
    """
    return Client(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        http_client=_HttpClient(settings.twilio_api_base, REQUEST_TIMEOUT_S),
    )


async def send_sms(client: Client, *, to: str, from_: str, body: str, status_callback: str | None = None) -> SentSms:
    try:
        # Twilio's client sends None literally; `unset` leaves the parameter out.
        message = await client.messages.create_async(
            to=to, from_=from_, body=body, status_callback=status_callback or values.unset
        )
    except (TwilioRestException, TwilioServiceException) as exc:
        # `from None`: the original exception's text carries the unredacted number.
        if exc.status in _NOT_TAKEN:
            raise SmsNotSent(f"Twilio answered HTTP {exc.status} (error {exc.code})") from None
        if exc.status >= 500:
            raise SmsOutcomeUnknown(f"Twilio answered HTTP {exc.status} (error {exc.code})") from None
        text = exc.msg if isinstance(exc, TwilioRestException) else exc.detail or exc.title
        raise SmsRejected(exc.code, _PHONE_NUMBER.sub("<number>", text)) from None
    except ClientConnectorError as exc:
        raise SmsNotSent(f"Twilio unreachable: {type(exc).__name__}") from exc
    except (ClientError, TimeoutError) as exc:
        raise SmsOutcomeUnknown(f"no answer from Twilio: {type(exc).__name__}") from exc
    return SentSms(sid=message.sid, status=message.status, num_segments=int(message.num_segments or 1))
