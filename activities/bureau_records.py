"""Credit-bureau reports in PostgreSQL: filed by the account, released when the furnishing gate opens, or withdrawn
(dunning/bureau.py). Each write is idempotent on the report's action key, so a retried activity changes nothing."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from dunning.orders import BureauReportRecorded
from infra.logging import activity_logger


class BureauRecords:
    """The work orders of the bureau feed."""

    _pool: asyncpg.Pool

    @activity.defn
    async def record_bureau_report(self, recorded: BureauReportRecorded) -> None:
        report, ready = recorded.report, recorded.status == "ready"
        async with self._pool.acquire() as conn:
            if recorded.event == "filed":
                await conn.execute(
                    """
                    INSERT INTO bureau_reports (action_key, report_ref, account_id, reason, commitment_id,
                        amount_minor, currency, dpd, as_of, rule_set, status, filed_at, waited_because, released_at,
                        released_because)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                    ON CONFLICT (action_key) DO NOTHING
                    """,
                    report.action_key,
                    report.report_ref,
                    recorded.ref.account_id,
                    report.reason,
                    report.commitment_id,
                    recorded.amount_minor,
                    recorded.currency,
                    recorded.dpd,
                    recorded.at,
                    recorded.rule_set,
                    recorded.status,
                    report.filed_at,
                    "" if ready else recorded.because,
                    recorded.at if ready else None,
                    recorded.because if ready else "",
                )
            elif recorded.event == "released":
                # Furnished as of the day it goes: the balance and dpd of that day.
                await conn.execute(
                    "UPDATE bureau_reports SET status = 'ready', released_at = $2, released_because = $3,"
                    " amount_minor = $4, dpd = $5, as_of = $2 WHERE action_key = $1 AND status = 'waiting'",
                    report.action_key,
                    recorded.at,
                    recorded.because,
                    recorded.amount_minor,
                    recorded.dpd,
                )
            else:
                await conn.execute(
                    "UPDATE bureau_reports SET status = 'withdrawn', withdrawn_at = $2, withdrawn_because = $3"
                    " WHERE action_key = $1 AND status = 'waiting'",
                    report.action_key,
                    recorded.at,
                    recorded.because,
                )
        activity_logger().info(
            "bureau report recorded", report_ref=report.report_ref, bureau_event=recorded.event, status=recorded.status
        )
