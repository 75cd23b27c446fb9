"""The outboxes of texts and e-mails: where a message is kept while handed to its vendor, and what the vendor can
tell us beyond its answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from dunning.orders import StepOrder
from infra import twilio_sms
from infra.delivery import Rejected


async def _text_opted_out(conn: asyncpg.Connection, number: str, at: datetime, key: str) -> None:
    """Twilio refused a text because the handset opted out: no text of ours goes to that number any more."""
    await conn.execute(
        "INSERT INTO sms_opt_outs (number, opted_out_at, source, message_sid)"
        " VALUES ($1, $2, 'twilio_21610', $3) ON CONFLICT (number) DO NOTHING",
        number,
        at,
        key,
    )  # refused on send: no sid, the action's key


async def _text_ended_early(conn: asyncpg.Connection, key: str, sid: str) -> Rejected | None:
    """Twilio may report a text undelivered before we have stored its sid (the webhook then cannot tell whose it
    was): the ending is applied now, and a number that cannot take texts is reported with the step's result."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", sid)  # one at a time with the webhook
    ending = await conn.fetchrow(
        "SELECT status, error_code FROM sms_status_events WHERE message_sid = $1"
        " AND status = ANY($2::text[]) ORDER BY received_at LIMIT 1",
        sid,
        list(twilio_sms.FINAL_STATUSES),
    )
    if ending is None:
        return None
    await conn.execute(
        "UPDATE sms_messages SET status = $2, error_code = $3 WHERE action_key = $1",
        key,
        ending["status"],
        ending["error_code"],
    )
    if ending["error_code"] in twilio_sms.INVALID_NUMBER_ERRORS:
        return Rejected("twilio", ending["error_code"], "", "invalid_recipient")
    return None


@dataclass(frozen=True)
class Outbox:
    """Where a channel's messages are kept while handed to its vendor, the columns that differ, and what the
    vendor can tell us beyond its answer."""

    table: str
    vendor: str
    recipient: str  # the column of the number or address
    reference: str  # the column of the vendor's id for what it took
    opted_out: Callable[[asyncpg.Connection, str, datetime, str], Awaitable[None]] | None = None
    ended_early: Callable[[asyncpg.Connection, str, str], Awaitable[Rejected | None]] | None = None


SMS_OUTBOX = Outbox("sms_messages", "twilio", "to_number", "twilio_sid", _text_opted_out, _text_ended_early)
EMAIL_OUTBOX = Outbox("email_jobs", "the SMTP relay", "to_address", "message_id")
OUTBOXES = {"sms": SMS_OUTBOX, "email": EMAIL_OUTBOX}
# A message in these states may have reached the vendor: 'sending' (an attempt died mid-send), 'unknown' (its answer
# left it in doubt).
IN_DOUBT = ("sending", "unknown")
# The outcome code of a point that cannot receive the channel at all.
INVALID_POINT = {"sms": "invalid_number", "email": "invalid_email"}


async def withdraw(conn: asyncpg.Connection, order: StepOrder) -> bool:
    """A message withdrawn while its vendor was refusing it (status retry) never went out: True if it was one."""
    outbox = OUTBOXES.get(order.planned.channel)
    if outbox is None:
        return False
    withdrawn = await conn.execute(
        f"UPDATE {outbox.table} SET status = 'withdrawn', updated_at = now()"
        " WHERE action_key = $1 AND status = 'retry'",
        order.action_key,
    )
    return withdrawn.endswith(" 1")
