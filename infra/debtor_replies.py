"""What debtors wrote that a person must answer: a text that is no keyword, an e-mail that is no opt-out. Each is
queued for the collector team of the account it concerns; a collector takes the oldest, reads it, answers the
debtor as the case needs, and records that it was answered. The words stay where they came in (inbound_sms,
inbound_email); the queue holds who, when and how far."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import asyncpg

from dunning.channels import work_order_ref

ReplyChannel = Literal["sms", "email"]
# A reply reference that names no reply taken (or, to an operator, another creditor's reply: told alike).
NO_REPLY = "no reply {!r} taken from a collector queue (`replies next` gives the reference)"


class ReplyError(ValueError):
    """A reply that cannot be answered as asked, with the reason."""


def reply_ref(channel: ReplyChannel, source_id: str, account_id: str) -> str:
    return work_order_ref("R", f"{channel}:{source_id}:{account_id}")


async def queue(
    conn: asyncpg.Connection, channel: ReplyChannel, source_id: str, account_ids: list[str], received_at: datetime
) -> None:
    """Queues the message once for each account it concerns (a webhook taken twice queues nothing more)."""
    await conn.executemany(
        "INSERT INTO debtor_replies (reply_ref, channel, source_id, account_id, received_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source_id, account_id) DO NOTHING",
        [(reply_ref(channel, source_id, account), channel, source_id, account, received_at) for account in account_ids],
    )


# SKIP LOCKED: a reply another collector is taking this instant is passed over, so two never get the same one.
_NEXT_REPLY = """
    SELECT r.reply_ref FROM debtor_replies r JOIN accounts a USING (account_id)
    WHERE r.status = 'waiting' AND a.collector_queue = $1
      AND ($2::text[] IS NULL OR a.document->>'creditor' = ANY($2))
    ORDER BY r.received_at, r.reply_ref
    LIMIT 1 FOR UPDATE OF r SKIP LOCKED
"""
# What the collector reads: the message as it came in, and the account it concerns.
_REPLY_SHEET = """
    SELECT r.reply_ref, r.channel, r.account_id, r.received_at, r.status, r.taken_by, r.taken_at,
           coalesce(s.from_number, e.sender) AS sender, e.subject, coalesce(s.body, e.body) AS text,
           a.document->>'debtor_name' AS debtor_name, coalesce(a.document->>'locale', 'en') AS locale
    FROM debtor_replies r JOIN accounts a USING (account_id)
    LEFT JOIN inbound_sms s ON r.channel = 'sms' AND s.message_sid = r.source_id
    LEFT JOIN inbound_email e ON r.channel = 'email' AND e.message_id = r.source_id
    WHERE r.reply_ref = $1
"""


async def take_next(
    pool: asyncpg.Pool, queue_name: str, collector: str, now: datetime, creditors: list[str] | None = None
) -> dict | None:
    """Assigns to `collector` the oldest waiting reply on an account of `queue_name` and of `creditors` (None: every
    creditor), and returns what they read; None when none waits."""
    async with pool.acquire() as conn, conn.transaction():
        ref = await conn.fetchval(_NEXT_REPLY, queue_name, creditors)
        if ref is None:
            return None
        await conn.execute(
            "UPDATE debtor_replies SET status = 'taken', taken_by = $2, taken_at = $3 WHERE reply_ref = $1",
            ref,
            collector,
            now,
        )
        return dict(await conn.fetchrow(_REPLY_SHEET, ref))


async def answered(pool: asyncpg.Pool, ref: str, collector: str, note: str, at: datetime) -> str:
    """Records that the taken reply was answered; returns its account. A reply answered already is refused, so a
    second collector learns it was done."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT account_id, status, taken_by FROM debtor_replies WHERE reply_ref = $1 FOR UPDATE", ref
        )
        if row is None or row["status"] == "waiting":
            raise ReplyError(NO_REPLY.format(ref))
        if row["status"] == "answered":
            raise ReplyError(f"reply {ref} was answered already (by {row['taken_by']})")
        await conn.execute(
            "UPDATE debtor_replies SET status = 'answered', taken_by = $2, answered_at = $3, answer_note = $4"
            " WHERE reply_ref = $1",
            ref,
            collector,
            at,
            note,
        )
        return str(row["account_id"])
