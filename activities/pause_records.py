"""What pauses collection, in PostgreSQL: disputes, debtor events under verification, fraud claims."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from activities.step_log import log_skipped
from dunning.books import Teams
from dunning.disputes import DisputeOpened
from dunning.orders import DisputeRecorded, FraudClaimRecorded, VerificationRecorded
from infra import books
from infra.logging import activity_logger


class PauseRecords:
    """Records of the disputes, debtor events and fraud claims that pause collection."""

    _pool: asyncpg.Pool
    _teams: Teams

    @activity.defn
    async def record_dispute(self, recorded: DisputeRecorded) -> None:
        event = recorded.event
        async with self._pool.acquire() as conn, conn.transaction():
            if isinstance(event, DisputeOpened):
                await conn.execute(
                    "INSERT INTO disputes (account_id, dispute_id, subject, details, opened_at)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, dispute_id) DO NOTHING",
                    recorded.ref.account_id,
                    event.dispute_id,
                    event.subject,
                    event.details,
                    event.opened_at,
                )
            elif recorded.verdict == "applied":
                await conn.execute(
                    "UPDATE disputes SET outcome = $3, resolved_at = $4 WHERE account_id = $1 AND dispute_id = $2",
                    recorded.ref.account_id,
                    event.dispute_id,
                    event.outcome,
                    event.resolved_at,
                )
            moved = await conn.fetchval(
                "UPDATE accounts a SET collector_queue = $2, status = $3, updated_at = now()"
                " FROM accounts was WHERE a.account_id = $1 AND was.account_id = a.account_id"
                " RETURNING was.collector_queue <> $2",
                recorded.ref.account_id,
                recorded.collector_queue,
                recorded.account_status,
            )
            if isinstance(event, DisputeOpened) and (moved or event.subject == "collector"):
                await _reassign_on_complaint(conn, recorded.ref.account_id, event, self._teams)
            await log_skipped(
                conn,
                recorded.ref,
                recorded.skipped,
                "fell due while a dispute of the debt was open",
            )
        activity_logger().info(
            "dispute recorded",
            dispute_id=event.dispute_id,
            verdict=recorded.verdict,
            collector_queue=recorded.collector_queue,
        )

    @activity.defn
    async def record_verification(self, recorded: VerificationRecorded) -> None:
        report = recorded.report
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO debtor_events (account_id, report_id, event, details, reported_at, review_by, status,"
                " decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (account_id, report_id) DO UPDATE SET status = EXCLUDED.status,"
                " decided_at = EXCLUDED.decided_at",
                recorded.ref.account_id,
                report.report_id,
                report.event,
                report.details,
                report.reported_at,
                recorded.review_by,
                recorded.status,
                recorded.decided_at,
            )
            await conn.execute(
                "UPDATE accounts SET status = $2, updated_at = now() WHERE account_id = $1",
                recorded.ref.account_id,
                recorded.account_status,
            )
            await log_skipped(
                conn,
                recorded.ref,
                recorded.skipped,
                f"fell due while a {report.event} report was verified",
            )
        activity_logger().info(
            "debtor event recorded", report_id=report.report_id, debtor_event=report.event, status=recorded.status
        )

    @activity.defn
    async def record_fraud_claim(self, recorded: FraudClaimRecorded) -> str:
        """Returns the account's status, so the claim knows whether the account is still there to tell."""
        claim = recorded.claim
        # Each stage stamps its own column; the row is created by the first.
        stamp = {
            "declaration_signed": "signed_at",
            "sent_to_creditor": "sent_at",
            "confirmed": "decided_at",
            "rejected": "decided_at",
            "lapsed": "decided_at",
        }.get(recorded.status)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO fraud_claims (account_id, claim_id, clues, taken_by, claimed_at, status)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id, claim_id) DO NOTHING",
                recorded.ref.account_id,
                claim.claim_id,
                claim.clues,
                claim.taken_by,
                claim.claimed_at,
                recorded.status,
            )
            await conn.execute(
                f"UPDATE fraud_claims SET status = $3, withdraw_by = COALESCE($4, withdraw_by)"
                f"{f', {stamp} = $5' if stamp else ''} WHERE account_id = $1 AND claim_id = $2",
                recorded.ref.account_id,
                claim.claim_id,
                recorded.status,
                recorded.withdraw_by,
                *([recorded.at] if stamp else []),
            )
            account_status = await conn.fetchval(
                "SELECT status FROM accounts WHERE account_id = $1", recorded.ref.account_id
            )
        activity_logger().info("fraud claim recorded", claim_id=claim.claim_id, status=recorded.status)
        return account_status


async def _reassign_on_complaint(
    conn: asyncpg.Connection, account_id: str, dispute: DisputeOpened, teams: Teams
) -> None:
    """A complaint against the collector (domain §6, strategy 5): someone else takes the account, in the queue it
    moved to."""
    complained = await conn.fetchval("SELECT collector FROM accounts WHERE account_id = $1", account_id)
    await books.assign(
        conn,
        account_id,
        f"dispute {dispute.dispute_id} about the {dispute.subject}",
        dispute.opened_at.date(),
        frozenset({complained} if complained and dispute.subject == "collector" else ()),
        teams,
    )
