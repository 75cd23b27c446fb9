"""Webhooks from our partners: field agents' visit reports (the field app) and delivery evidence from the
print-and-mail vendor. Both send JSON, signed with a secret each sender shares with us.

    POST /field/visits/{visit_ref}/report   {report_id, finding, agent, accompanied_by, notes, photos,
                                             promised_amount, promised_date, visited_at} -> signal visit_reported
    POST /mail/evidence                     {event_id, letter_ref, status, reason, evidence, occurred_at}
                                                                                         -> signal letter_delivery

Signing: `X-Timestamp` is the time of sending in unix seconds, `X-Signature` is `sha256=` and the hex HMAC-SHA256,
under the sender's secret, of `<timestamp>.<raw body>` (`sign()` computes it). A request without a valid signature,
or stamped more than 5 minutes from our clock (a captured request replayed later), gets 401 and is not read any
further; a sender whose secret is not configured gets 503 on every request. Inside those 5 minutes a replay is
harmless: a report and an event are taken once per id, and a resend is answered 200 as the first one was.

A request is taken as `collections visits report` and `letters evidence` take theirs: the work order it quotes is
looked up (404 when there is none), the payload is built by the same functions (`client.inputs`; 400 naming the
field that is wrong) and the account's workflow is signalled, if it is still running (409 if it has closed). When
Temporal cannot be reached the answer is 503, and the sender retries. Answers and logs name fields, never their
values: notes, addresses and names are personal data.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import InvalidOperation

import asyncpg
import structlog
from aiohttp import web
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from client import CollectionsClient, inputs
from dunning.money import to_minor
from infra import field_visits
from infra.letters import letter_on_file

log = structlog.get_logger()

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
MAX_CLOCK_SKEW_SECONDS = 5 * 60
VISIT_REPORT_PATH = "/field/visits/{visit_ref}/report"
LETTER_EVIDENCE_PATH = "/mail/evidence"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """The X-Signature header of a body sent at `timestamp` (unix seconds)."""
    message = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_with(
    secret: str | None, sender: str, clock: Callable[[], float] = time.time
) -> Callable[[Handler], Handler]:
    """A decorator for the routes of one sender: only requests signed with its secret, recently, reach them."""

    def guard(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            if not secret:
                return _refused(request, sender, 503, "not configured")
            if problem := signature_problem(secret, request.headers, await request.read(), clock()):
                return _refused(request, sender, 401, problem)
            return await handler(request)

        return checked

    return guard


def signature_problem(secret: str, headers, body: bytes, now: float) -> str:
    """Why a request is not one the holder of `secret` sent in the last 5 minutes ('' if it is)."""
    stamp, signature = headers.get(TIMESTAMP_HEADER, ""), headers.get(SIGNATURE_HEADER, "")
    if not stamp:
        return f"missing {TIMESTAMP_HEADER}"
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        return f"{TIMESTAMP_HEADER} is not a time in unix seconds"
    if abs(now - int(stamp)) > MAX_CLOCK_SKEW_SECONDS:
        return f"{TIMESTAMP_HEADER} is more than {MAX_CLOCK_SKEW_SECONDS // 60} minutes from our clock"
    if not signature:
        return f"missing {SIGNATURE_HEADER}"
    if not (signature.isascii() and signature.startswith("sha256=")):
        return f"{SIGNATURE_HEADER} is not sha256=<hex>"
    expected = sign(secret, stamp, body).encode("ascii")
    if not hmac.compare_digest(expected, signature.lower().encode("ascii")):
        return "signature does not match"
    return ""


class Refusal(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Shape:
    """The fields a JSON body may carry: texts (a string; optional ones may be null or left out) and lists of
    texts."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    text_lists: tuple[str, ...] = ()

    def read(self, body: bytes) -> dict:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise Refusal(400, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise Refusal(400, "the body is not a JSON object")
        if unknown := sorted(set(data) - {*self.required, *self.optional, *self.text_lists}):
            raise Refusal(400, f"unknown field {', '.join(unknown)}")
        if missing := [name for name in self.required if data.get(name) is None]:
            raise Refusal(400, f"missing {', '.join(missing)}")
        for name in (*self.required, *self.optional):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise Refusal(400, f"{name} must be a string")
        for name in self.text_lists:
            texts = data.get(name)
            if texts is not None and not (isinstance(texts, list) and all(isinstance(t, str) for t in texts)):
                raise Refusal(400, f"{name} must be a list of strings")
        return data


VISIT_REPORT = Shape(
    required=("report_id", "finding", "agent", "visited_at"),
    optional=("notes", "promised_amount", "promised_date"),
    text_lists=("photos", "accompanied_by"),
)
LETTER_EVIDENCE = Shape(required=("event_id", "letter_ref", "status", "occurred_at"), optional=("reason", "evidence"))


class PartnerWebhooks:
    def __init__(self, pool: asyncpg.Pool, temporal: Client):
        self._pool = pool
        self._temporal = temporal

    async def visit_report(self, request: web.Request) -> web.Response:
        visit_ref = request.match_info["visit_ref"]
        try:
            body = VISIT_REPORT.read(await request.read())
            order = await field_visits.visit_on_file(self._pool, visit_ref)
            if order is None:
                raise Refusal(404, f"no visit order {visit_ref!r}")
            account_id = order["account_id"]
            currency = await self._pool.fetchval("SELECT currency FROM accounts WHERE account_id = $1", account_id)
            _check_instant(body, "visited_at")
            _check_day(body, "promised_date")
            _check_amount(body, "promised_amount", currency)
            report = _built(
                lambda: inputs.parse_visit_report(
                    body["report_id"],
                    visit_ref,
                    body["finding"],
                    order["address"],
                    body["agent"],
                    body.get("notes") or "",
                    body.get("photos") or [],
                    body.get("promised_amount") or None,
                    body.get("promised_date") or None,
                    currency,
                    body["visited_at"],
                    body.get("accompanied_by") or [],
                    order["agents"],
                ),
                {"promised_minor": "promised_amount"},
            )
            taken = await self._tell(account_id, "visit_reported", report, report.report_id, "visit", "report_id")
        except Refusal as refusal:
            return _refused(request, "field app", refusal.status, refusal.reason)
        log.info(
            "visit report received",
            visit_ref=visit_ref,
            report_id=report.report_id,
            account_id=account_id,
            finding=report.finding,
            taken=taken,
        )
        return web.json_response({"status": taken, "report_id": report.report_id, "visit_ref": visit_ref})

    async def letter_evidence(self, request: web.Request) -> web.Response:
        try:
            body = LETTER_EVIDENCE.read(await request.read())
            job = await letter_on_file(self._pool, body["letter_ref"])
            if job is None:
                raise Refusal(404, f"no letter {body['letter_ref']!r}")
            account_id = job["account_id"]
            _check_instant(body, "occurred_at")
            delivery = _built(
                lambda: inputs.parse_letter_delivery(
                    body["event_id"],
                    body["letter_ref"],
                    body["status"],
                    body.get("reason") or None,
                    body.get("evidence") or "",
                    job["address"],
                    body["occurred_at"],
                )
            )
            taken = await self._tell(account_id, "letter_delivery", delivery, delivery.event_id, "letter", "event_id")
        except Refusal as refusal:
            return _refused(request, "mail vendor", refusal.status, refusal.reason)
        log.info(
            "letter evidence received",
            letter_ref=delivery.letter_ref,
            event_id=delivery.event_id,
            account_id=account_id,
            delivery_status=delivery.status,
            reason=delivery.reason,
            taken=taken,
        )
        return web.json_response({"status": taken, "event_id": delivery.event_id, "letter_ref": delivery.letter_ref})

    async def _tell(
        self, account_id: str, signal: str, payload: BaseModel, event_id: str, kind: str, id_field: str
    ) -> str:
        """Signals the account, unless it has recorded this event already (a resend: answered as the first time).
        Returns 'accepted' or 'already recorded'."""
        recorded = await self._pool.fetchval(
            "SELECT kind FROM contact_events WHERE account_id = $1 AND event_id = $2", account_id, event_id
        )
        if recorded == kind:
            return "already recorded"
        if recorded is not None:
            raise Refusal(409, f"{id_field} {event_id!r} is already used on this account by another event")
        try:
            await CollectionsClient(self._temporal).signal(account_id, signal, payload)
        except inputs.InputError:  # closed, or its workflow no longer on file
            raise Refusal(409, "the account has closed: it takes no more reports") from None
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:  # closed between the check and the signal
                raise Refusal(409, "the account has closed: it takes no more reports") from None
            log.warning(
                "temporal did not take a signal; the sender will retry",
                account_id=account_id,
                signal=signal,
                grpc_status=err.status.name,
            )
            raise Refusal(503, "the account could not be told; try again") from None
        return "accepted"


def _built(build: Callable[[], BaseModel], renamed: dict[str, str] | None = None) -> BaseModel:
    """The payload `client.inputs` builds; its refusal (which names fields, never values) is a 400, in the
    names of this API's fields."""
    try:
        return build()
    except inputs.InputError as err:
        reason = str(err)
        for model_name, api_name in (renamed or {}).items():
            reason = reason.replace(model_name, api_name)
        raise Refusal(400, reason) from None


# Checked here, before `client.inputs` sees them: theirs name command-line flags and echo the value.


def _check_instant(body: dict, name: str) -> None:
    try:
        at = datetime.fromisoformat(body[name])
    except ValueError:
        raise Refusal(400, f"{name} is not an ISO 8601 date-time such as 2026-11-22T15:00:00+08:00") from None
    if at.tzinfo is None:
        raise Refusal(400, f"{name} has no UTC offset")


def _check_day(body: dict, name: str) -> None:
    if body.get(name):
        try:
            date.fromisoformat(body[name])
        except ValueError:
            raise Refusal(400, f"{name} is not a date such as 2026-12-01") from None


def _check_amount(body: dict, name: str, currency: str) -> None:
    if body.get(name):
        try:
            minor = to_minor(body[name], currency)
        except (ValueError, InvalidOperation):
            raise Refusal(400, f'{name} is not an amount of {currency} in major units, such as "500.00"') from None
        if minor <= 0:
            raise Refusal(400, f"{name} must be more than zero")


def _refused(request: web.Request, sender: str, status: int, reason: str) -> web.Response:
    log.warning("partner webhook refused", sender=sender, path=request.path, status=status, reason=reason)
    return web.json_response({"error": reason}, status=status)
