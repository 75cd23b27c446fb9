"""Activities that keep the account's own rows in PostgreSQL: opened, paid, closed."""

from __future__ import annotations

import asyncio
import json
from decimal import ROUND_HALF_UP
from pathlib import Path

import asyncpg
from temporalio import activity

from activities.channels import record_check, write_follow_ups
from dunning.contact import CeaseContact
from dunning.disputes import DisputeOpened
from dunning.ladder import PlannedStep
from dunning.letters import LetterDelivery
from dunning.orders import (
    AccountClosed,
    AccountOpened,
    ApprovalRecorded,
    CollectionResumed,
    CommitmentRecorded,
    ContactDeferred,
    ContactRecorded,
    DisputeRecorded,
    FollowUpsPlanned,
    FraudClaimRecorded,
    PaymentRecorded,
    PlacementRecorded,
    ReversalRecorded,
    VerificationRecorded,
    action_key,
)
from dunning.outcomes import ContactOutcome
from dunning.visits import VisitReport
from infra.agency_files import write_placement_file
from infra.logging import activity_logger

# Where each approvable channel's work order waits, and the status it goes on with once approved.
RELEASED_AS = {
    "letter": ("letter_jobs", "queued"),
    "agency": ("agency_placements", "placed"),
    "internal": ("internal_tasks", "open"),
}


class AccountActivities:
    def __init__(self, pool: asyncpg.Pool, agency_drop_dir: Path) -> None:
        self._pool = pool
        self._agency_drop_dir = agency_drop_dir

    @activity.defn
    async def open_account(self, opened: AccountOpened) -> None:
        account = opened.account
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                INSERT INTO accounts (account_id, workflow_id, policy_ref, policy_digest, currency, amount_due_minor,
                    outstanding_minor, due_date, segment, time_zone, status, document, opened_at, collector_queue)
                VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, 'open', $10, $11, $12)
                ON CONFLICT (account_id) DO UPDATE SET
                    workflow_id = EXCLUDED.workflow_id, policy_ref = EXCLUDED.policy_ref,
                    policy_digest = EXCLUDED.policy_digest, currency = EXCLUDED.currency,
                    amount_due_minor = EXCLUDED.amount_due_minor, outstanding_minor = EXCLUDED.outstanding_minor,
                    due_date = EXCLUDED.due_date, segment = EXCLUDED.segment, time_zone = EXCLUDED.time_zone,
                    status = 'open', document = EXCLUDED.document, opened_at = EXCLUDED.opened_at,
                    collector_queue = EXCLUDED.collector_queue, closed_at = NULL, updated_at = now()
                """,
                account.account_id,
                opened.workflow_id,
                opened.policy_ref,
                opened.policy_digest,
                account.currency,
                account.amount_due_minor,
                account.due_date,
                account.segment,
                account.time_zone,
                account.model_dump_json(),
                opened.opened_at,
                opened.collector_queue,
            )
            await conn.executemany(
                "INSERT INTO contact_points (account_id, value, kind, owner, relation, status)"
                " VALUES ($1, $2, $3, $4, $5, 'valid') ON CONFLICT (account_id, value) DO NOTHING",
                [(account.account_id, p.value, p.kind, p.owner, p.relation) for p in account.contact_points],
            )
            await _log_skipped(
                conn,
                account.account_id,
                opened.workflow_id,
                opened.ladder_life,
                opened.skipped,
                "already past when the account opened",
            )
        activity_logger().info("account opened", policy=opened.policy_ref, skipped=len(opened.skipped))

    @activity.defn
    async def record_payment(self, recorded: PaymentRecorded) -> None:
        outcome = recorded.outcome
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                INSERT INTO payments (account_id, payment_id, verdict, reason, amount_minor, applied_minor,
                    overpaid_minor, currency, paid_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (account_id, payment_id) DO UPDATE SET
                    verdict = EXCLUDED.verdict, reason = EXCLUDED.reason, amount_minor = EXCLUDED.amount_minor,
                    applied_minor = EXCLUDED.applied_minor, overpaid_minor = EXCLUDED.overpaid_minor,
                    currency = EXCLUDED.currency, paid_at = EXCLUDED.paid_at, recorded_at = now()
                -- A refused payment id may come again, corrected; an applied one never changes.
                WHERE payments.verdict = 'rejected'
                """,
                recorded.account_id,
                outcome.payment_id,
                outcome.verdict,
                outcome.reason,
                outcome.amount_minor,
                outcome.applied_minor,
                outcome.overpaid_minor,
                recorded.currency,
                recorded.paid_at,
            )
            await conn.execute(
                "UPDATE accounts SET outstanding_minor = $2, status = $3, updated_at = now() WHERE account_id = $1",
                recorded.account_id,
                outcome.outstanding_after_minor,
                recorded.account_status,
            )
        activity_logger().info(
            "payment recorded",
            payment_id=outcome.payment_id,
            verdict=outcome.verdict,
            overpaid_minor=outcome.overpaid_minor,
        )

    @activity.defn
    async def record_reversal(self, recorded: ReversalRecorded) -> None:
        outcome = recorded.outcome
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO payment_reversals (account_id, payment_id, verdict, reason, restored_minor, reversed_at)"
                " VALUES ($1, $2, $3, $4, $5, $6)"
                # A refused reversal (unknown payment id) may come again once the payment has arrived.
                " ON CONFLICT (account_id, payment_id) DO UPDATE SET verdict = EXCLUDED.verdict,"
                " reason = EXCLUDED.reason, restored_minor = EXCLUDED.restored_minor,"
                " reversed_at = EXCLUDED.reversed_at, recorded_at = now()"
                " WHERE payment_reversals.verdict = 'rejected'",
                recorded.account_id,
                outcome.payment_id,
                outcome.verdict,
                outcome.reason,
                outcome.restored_minor,
                recorded.reversed_at,
            )
            await conn.execute(
                "UPDATE accounts SET outstanding_minor = $2, status = $3,"
                " closed_at = CASE WHEN $3 = 'open' THEN NULL ELSE closed_at END, updated_at = now()"
                " WHERE account_id = $1",
                recorded.account_id,
                outcome.outstanding_after_minor,
                recorded.account_status,
            )
            await _log_skipped(
                conn,
                recorded.account_id,
                recorded.workflow_id,
                recorded.ladder_life,
                recorded.skipped,
                "fell due while the account was closed",
            )
        activity_logger().info(
            "payment reversal recorded",
            payment_id=outcome.payment_id,
            verdict=outcome.verdict,
            account_status=recorded.account_status,
        )

    @activity.defn
    async def record_dispute(self, recorded: DisputeRecorded) -> None:
        event = recorded.event
        async with self._pool.acquire() as conn, conn.transaction():
            if isinstance(event, DisputeOpened):
                await conn.execute(
                    "INSERT INTO disputes (account_id, dispute_id, subject, details, opened_at)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, dispute_id) DO NOTHING",
                    recorded.account_id,
                    event.dispute_id,
                    event.subject,
                    event.details,
                    event.opened_at,
                )
            elif recorded.verdict == "applied":
                await conn.execute(
                    "UPDATE disputes SET outcome = $3, resolved_at = $4 WHERE account_id = $1 AND dispute_id = $2",
                    recorded.account_id,
                    event.dispute_id,
                    event.outcome,
                    event.resolved_at,
                )
            await conn.execute(
                "UPDATE accounts SET collector_queue = $2, status = $3, updated_at = now() WHERE account_id = $1",
                recorded.account_id,
                recorded.collector_queue,
                recorded.account_status,
            )
            await _log_skipped(
                conn,
                recorded.account_id,
                recorded.workflow_id,
                recorded.ladder_life,
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
                recorded.account_id,
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
                recorded.account_id,
                recorded.account_status,
            )
            await _log_skipped(
                conn,
                recorded.account_id,
                recorded.workflow_id,
                recorded.ladder_life,
                recorded.skipped,
                f"fell due while a {report.event} report was verified",
            )
        activity_logger().info(
            "debtor event recorded", report_id=report.report_id, debtor_event=report.event, status=recorded.status
        )

    @activity.defn
    async def record_cease(self, account_id: str, request: CeaseContact) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO contact_ceases (account_id, request_id, channels, reason, received_at)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, request_id) DO NOTHING",
                account_id,
                request.request_id,
                sorted(c.value for c in request.ceased()),
                request.reason,
                request.received_at,
            )
        activity_logger().info(
            "contact ceased", request_id=request.request_id, channels=sorted(c.value for c in request.ceased())
        )

    @activity.defn
    async def record_commitment(self, recorded: CommitmentRecorded) -> None:
        instalments = json.dumps(
            [{"amount_minor": i.amount_minor, "due_date": i.due_date.isoformat()} for i in recorded.instalments]
        )
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                INSERT INTO commitments (account_id, commitment_id, kind, status, reason, instalments, total_minor,
                    paid_minor, taken_by, channel, made_at, decided_at, negative_record, failed_debit_fee)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                ON CONFLICT (account_id, commitment_id) DO UPDATE SET
                    status = EXCLUDED.status, paid_minor = EXCLUDED.paid_minor, decided_at = EXCLUDED.decided_at,
                    negative_record = EXCLUDED.negative_record, failed_debit_fee = EXCLUDED.failed_debit_fee
                """,
                recorded.account_id,
                recorded.commitment_id,
                recorded.kind,
                recorded.status,
                recorded.reason,
                instalments,
                sum(i.amount_minor for i in recorded.instalments),
                recorded.paid_minor,
                recorded.taken_by,
                recorded.channel,
                recorded.made_at,
                recorded.decided_at,
                recorded.negative_record,
                recorded.failed_debit_fee,
            )
            await conn.execute(
                "UPDATE accounts SET broken_promises = $2, updated_at = now() WHERE account_id = $1",
                recorded.account_id,
                recorded.broken_promises,
            )
            await _log_skipped(
                conn,
                recorded.account_id,
                recorded.workflow_id,
                recorded.ladder_life,
                recorded.skipped,
                f"fell due while {recorded.kind} {recorded.commitment_id} was open",
            )
        activity_logger().info(
            "commitment recorded", kind=recorded.kind, commitment_id=recorded.commitment_id, status=recorded.status
        )

    @activity.defn
    async def record_contact(self, recorded: ContactRecorded) -> None:
        event = recorded.event
        if isinstance(event, ContactOutcome):
            row = (
                event.outcome_id,
                "outcome",
                event.code,
                event.source,
                event.reported_by,
                event.contact_point,
                event.note,
                event.occurred_at,
            )
        elif isinstance(event, LetterDelivery):
            row = (
                event.event_id,
                "letter",
                event.reason or event.status,
                "letter",
                "mail vendor",
                event.address,
                event.evidence,
                event.occurred_at,
            )
        elif isinstance(event, VisitReport):
            row = (
                event.report_id,
                "visit",
                event.finding,
                "field_visit",
                event.agent,
                event.address,
                event.notes,
                event.visited_at,
            )
        else:
            row = (
                event.update_id,
                "update",
                recorded.verdict,
                event.source,
                "",
                event.point.value,
                "",
                event.updated_at,
            )
        async with self._pool.acquire() as conn, conn.transaction():
            inserted = await conn.execute(
                "INSERT INTO contact_events (account_id, event_id, kind, code, source, reported_by, contact_point,"
                " note, occurred_at, verdict, strategy, settled_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                " ON CONFLICT (account_id, event_id) DO NOTHING",
                recorded.account_id,
                *row,
                recorded.verdict,
                recorded.strategy,
                recorded.settled_at,
            )
            if not inserted.endswith(" 1"):
                return  # a resend, or a retry of this activity: the first record stands
            if isinstance(event, LetterDelivery):
                await _record_letter_delivery(conn, event)
            elif isinstance(event, VisitReport):
                await conn.execute(
                    "UPDATE field_visit_orders SET status = 'reported', finding = $2, notes = $3, photos = $4,"
                    " visited_at = $5 WHERE visit_ref = $1",
                    event.visit_ref,
                    event.finding,
                    event.notes,
                    json.dumps(event.photos),
                    event.visited_at,
                )
            if recorded.removed_point is not None:
                await conn.execute(
                    "INSERT INTO contact_points (account_id, value, kind, owner, status)"
                    " VALUES ($1, $2, '', '', 'replaced')"
                    " ON CONFLICT (account_id, value) DO UPDATE SET status = 'replaced', updated_at = now()",
                    recorded.account_id,
                    recorded.removed_point,
                )
            await conn.executemany(
                """
                INSERT INTO contact_points (account_id, value, kind, owner, relation, failures, status,
                    invalid_because)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (account_id, value) DO UPDATE SET
                    kind = EXCLUDED.kind, owner = EXCLUDED.owner, relation = EXCLUDED.relation,
                    failures = EXCLUDED.failures, status = EXCLUDED.status,
                    invalid_because = EXCLUDED.invalid_because, updated_at = now()
                """,
                [
                    (
                        recorded.account_id,
                        r.point.value,
                        r.point.kind,
                        r.point.owner,
                        r.point.relation,
                        json.dumps(r.failures),
                        "valid" if r.invalid_since is None else "invalid",
                        r.invalid_because,
                    )
                    for r in recorded.changed_points
                ],
            )
            await _log_skipped(
                conn,
                recorded.account_id,
                recorded.workflow_id,
                recorded.ladder_life,
                recorded.skipped,
                "fell due while the validation notice waited for an address",
            )
        activity_logger().info(
            "contact event recorded",
            event_kind=row[1],
            code=row[2],
            verdict=recorded.verdict,
            strategy=recorded.strategy,
            points_changed=len(recorded.changed_points),
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
                recorded.account_id,
                claim.claim_id,
                claim.clues,
                claim.taken_by,
                claim.claimed_at,
                recorded.status,
            )
            await conn.execute(
                f"UPDATE fraud_claims SET status = $3, withdraw_by = COALESCE($4, withdraw_by)"
                f"{f', {stamp} = $5' if stamp else ''} WHERE account_id = $1 AND claim_id = $2",
                recorded.account_id,
                claim.claim_id,
                recorded.status,
                recorded.withdraw_by,
                *([recorded.at] if stamp else []),
            )
            account_status = await conn.fetchval(
                "SELECT status FROM accounts WHERE account_id = $1", recorded.account_id
            )
        activity_logger().info("fraud claim recorded", claim_id=claim.claim_id, status=recorded.status)
        return account_status

    @activity.defn
    async def record_approval(self, recorded: ApprovalRecorded) -> None:
        """Files the wait for a decision or, with one, records it and releases or cancels the work order."""
        request, decision = recorded.request, recorded.decision
        async with self._pool.acquire() as conn, conn.transaction():
            if decision is None:
                await conn.execute(
                    "INSERT INTO approvals (approval_ref, action_key, account_id, step_id, channel, approvers,"
                    " requested_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    request.approval_ref,
                    request.action_key,
                    recorded.account_id,
                    request.step_id,
                    request.channel,
                    recorded.approvers,
                    request.requested_at,
                )
                return
            await conn.execute(
                "UPDATE approvals SET status = $2, decided_by = $3, decided_at = $4, note = $5 WHERE approval_ref = $1",
                request.approval_ref,
                "approved" if decision.approved else "rejected",
                decision.approver,
                decision.decided_at,
                decision.note,
            )
            table, released = RELEASED_AS[request.channel]
            await conn.execute(
                f"UPDATE {table} SET status = $2 WHERE action_key = $1 AND status = 'awaiting_approval'",
                request.action_key,
                released if decision.approved else "rejected",
            )
        activity_logger().info("approval decided", approval_ref=request.approval_ref, approved=decision.approved)

    @activity.defn
    async def record_placement(self, recorded: PlacementRecorded) -> None:
        """Keeps the placement's row and reports current and, when it begins or ends, hands the agency its file."""
        placement, report = recorded.placement, recorded.report
        async with self._pool.acquire() as conn, conn.transaction():
            if recorded.event == "placed":
                # Placed now: at once, or when an approver agreed (the row was filed when the step was taken).
                await conn.execute(
                    "UPDATE agency_placements SET placement_ref = $2, status = 'placed', placed_at = $3,"
                    " recall_at = $4, placed_minor = $5 WHERE action_key = $1",
                    placement.action_key,
                    placement.placement_ref,
                    placement.placed_at,
                    placement.recall_at,
                    placement.placed_minor,
                )
            if report is not None:
                commission = (
                    int((report.amount_minor * placement.commission_rate).to_integral_value(ROUND_HALF_UP))
                    if report.amount_minor
                    else None
                )
                await conn.execute(
                    "INSERT INTO agency_reports (placement_ref, report_id, kind, amount_minor, commission_minor,"
                    " note, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    placement.placement_ref,
                    report.report_id,
                    report.kind,
                    report.amount_minor,
                    commission,
                    report.note,
                    report.occurred_at,
                )
            await conn.execute(
                "UPDATE agency_placements SET recovered_minor = $2,"
                " status = CASE WHEN $3 IN ('recalled', 'settled') THEN $3 ELSE status END,"
                " ended_at = CASE WHEN $3 IN ('recalled', 'settled') THEN $4 ELSE ended_at END,"
                " end_reason = CASE WHEN $3 IN ('recalled', 'settled') THEN $5 ELSE end_reason END"
                " WHERE placement_ref = $1",
                placement.placement_ref,
                placement.recovered_minor,
                recorded.event,
                recorded.at,
                recorded.reason,
            )
        if recorded.event != "report":
            await asyncio.to_thread(write_placement_file, self._agency_drop_dir, recorded)
        activity_logger().info(
            "placement recorded", placement_ref=placement.placement_ref, placement_event=recorded.event
        )

    @activity.defn
    async def record_resumption(self, resumed: CollectionResumed) -> None:
        async with self._pool.acquire() as conn:
            await _log_skipped(
                conn, resumed.account_id, resumed.workflow_id, resumed.ladder_life, resumed.skipped, resumed.reason
            )
        activity_logger().info("collection resumed", skipped=len(resumed.skipped))

    @activity.defn
    async def record_deferral(self, deferred: ContactDeferred) -> None:
        async with self._pool.acquire() as conn:
            await record_check(
                conn,
                deferred.account_id,
                deferred.action_key,
                deferred.planned,
                deferred.check,
                "deferred",
                deferred.check.rule,
            )
        activity_logger().info(
            "contact deferred", step=deferred.planned.key, rule=deferred.check.rule, until=deferred.check.at.isoformat()
        )

    @activity.defn
    async def plan_follow_ups(self, planned: FollowUpsPlanned) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await write_follow_ups(conn, planned.account_id, planned.plan, planned.now, planned.rule_set)
        activity_logger().info("follow-ups planned", task=planned.plan.task_key, days=len(planned.plan.days))

    @activity.defn
    async def close_account(self, closed: AccountClosed) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(
                "UPDATE accounts SET status = $2, closed_at = $3, outstanding_minor = $4, updated_at = now()"
                " WHERE account_id = $1",
                closed.account_id,
                closed.status,
                closed.closed_at,
                closed.outstanding_minor,
            )
        activity_logger().info("account closed", status=closed.status)


async def _log_skipped(
    conn: asyncpg.Connection,
    account_id: str,
    workflow_id: str,
    ladder_life: str,
    skipped: list[PlannedStep],
    reason: str,
) -> None:
    await conn.executemany(
        """
        INSERT INTO action_log (action_key, account_id, workflow_id, step_id, channel, dpd, stage, due_at,
            result, detail)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'skipped', $9)
        ON CONFLICT (action_key) DO NOTHING
        """,
        [
            (
                action_key(account_id, ladder_life, p.key),
                account_id,
                workflow_id,
                p.step_id,
                p.channel,
                p.dpd,
                p.stage,
                p.due_at,
                reason,
            )
            for p in skipped
        ],
    )


async def _record_letter_delivery(conn: asyncpg.Connection, delivery: LetterDelivery) -> None:
    await conn.execute(
        "INSERT INTO letter_events (letter_ref, event_id, status, reason, evidence, occurred_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        delivery.letter_ref,
        delivery.event_id,
        delivery.status,
        delivery.reason,
        delivery.evidence,
        delivery.occurred_at,
    )
    # The latest evidence by when it happened, whatever order the vendor reports it in.
    await conn.execute(
        "UPDATE letter_jobs SET delivery_status = (SELECT status FROM letter_events WHERE letter_ref = $1"
        " ORDER BY occurred_at DESC, recorded_at DESC LIMIT 1) WHERE letter_ref = $1",
        delivery.letter_ref,
    )
