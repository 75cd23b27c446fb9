"""Work orders after they are filed, in PostgreSQL: approvals and agency placements."""

from __future__ import annotations

import asyncio
from decimal import ROUND_HALF_UP
from pathlib import Path

import asyncpg
from temporalio import activity

from dunning.orders import ApprovalRecorded, PlacementRecorded
from infra.agency_files import write_placement_file
from infra.logging import activity_logger

# Where each approvable channel's work order waits, and the status it goes on with once approved.
RELEASED_AS = {
    "letter": ("letter_jobs", "queued"),
    "agency": ("agency_placements", "placed"),
    "internal": ("internal_tasks", "open"),
}


class WorkOrderRecords:
    """Records of the decisions on held work orders and of placements with agencies."""

    _pool: asyncpg.Pool
    _agency_drop_dir: Path

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
                    recorded.ref.account_id,
                    request.step_id,
                    request.channel,
                    recorded.approvers,
                    request.requested_at,
                )
                return
            await conn.execute(
                "UPDATE approvals SET status = $2, decided_by = $3, decided_as = $4, decided_at = $5, note = $6"
                " WHERE approval_ref = $1",
                request.approval_ref,
                "approved" if decision.approved else "rejected",
                decision.operator or decision.approver,
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
