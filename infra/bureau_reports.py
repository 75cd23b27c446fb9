"""The credit-bureau reports the accounts filed (migrations/030_bureau_reports.sql), read back for the bureau feed,
which marks a ready one sent once it has furnished it."""

from __future__ import annotations

from datetime import datetime

import asyncpg


class NotSendable(ValueError):
    """A report that cannot be marked sent: unknown, not ready (waiting for its gate, withdrawn), or sent already."""


async def listed(pool: asyncpg.Pool, status: str | None = None, creditors: list[str] | None = None) -> list[dict]:
    """The reports of the creditors' accounts (None: every creditor's), in the status given (None: any), oldest
    first."""
    rows = await pool.fetch(
        "SELECT r.report_ref, r.account_id, r.status, r.reason, r.amount_minor, r.currency, r.dpd, r.as_of,"
        " r.rule_set, r.filed_at, r.waited_because, r.released_at, r.released_because, r.withdrawn_at,"
        " r.withdrawn_because, r.sent_at, r.sent_by, r.bureau_ref"
        " FROM bureau_reports r JOIN accounts a USING (account_id)"
        " WHERE ($1::text IS NULL OR r.status = $1) AND ($2::text[] IS NULL OR a.document->>'creditor' = ANY($2))"
        " ORDER BY r.filed_at, r.report_ref",
        status,
        creditors,
    )
    return [dict(r) for r in rows]


async def mark_sent(pool: asyncpg.Pool, report_ref: str, bureau_ref: str, by: str, at: datetime) -> str:
    """Marks a ready report furnished; returns its account. Only a ready report may be: one waiting for the gate
    never reaches a bureau."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT account_id, status, sent_by FROM bureau_reports WHERE report_ref = $1 FOR UPDATE", report_ref
        )
        if row is None:
            raise NotSendable(f"no bureau report {report_ref!r}")
        if row["status"] == "sent":
            raise NotSendable(f"bureau report {report_ref} was sent already (by {row['sent_by']})")
        if row["status"] != "ready":
            raise NotSendable(f"bureau report {report_ref} is {row['status']}: only a ready report may be sent")
        await conn.execute(
            "UPDATE bureau_reports SET status = 'sent', sent_at = $2, sent_by = $3, bureau_ref = $4"
            " WHERE report_ref = $1",
            report_ref,
            at,
            by,
            bureau_ref,
        )
    return str(row["account_id"])
