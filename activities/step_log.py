"""The rows that say what became of each step: the action log, the contact guard's evidence, the follow-up days.

Every step is idempotent on its action key: its action-log row and its work order are written in one transaction,
and a retry finds them and returns what was recorded the first time.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from temporalio import activity

from activities.outbox import withdraw
from dunning.compliance import Check
from dunning.ladder import PlannedStep
from dunning.orders import AccountRef, StepOrder, StepResult, action_key
from dunning.pacing import FollowUpPlan
from infra.logging import activity_logger
from infra.metrics import BusinessMetrics


async def skip(pool: asyncpg.Pool, order: StepOrder, reason: str) -> StepResult:
    """Logs the step as skipped, never carried out."""
    async with pool.acquire() as conn, conn.transaction():
        if not await log_action(conn, order, "skipped", reason):
            if await withdraw(conn, order):
                await set_result(conn, order.action_key, "skipped", reason)
            return await recorded_result(conn, order.action_key)
    activity_logger().info("step skipped", step=order.planned.key, reason=reason)
    return StepResult(status="skipped", detail=reason)


async def log_action(
    conn: asyncpg.Connection, order: StepOrder, result: str, detail: str = "", reference: str | None = None
) -> bool:
    """Inserts the action-log row, with the contact guard's evidence; False when this action key was already
    recorded."""
    planned = order.planned
    status = await conn.execute(
        """
        INSERT INTO action_log (action_key, account_id, workflow_id, run_id, step_id, channel, dpd, stage, due_at,
            taken_at, result, detail, reference)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        ON CONFLICT (action_key) DO NOTHING
        """,
        order.action_key,
        order.account.account_id,
        order.workflow_id,
        order.run_id,
        planned.step_id,
        planned.channel,
        planned.dpd,
        planned.stage,
        planned.due_at,
        order.taken_at,
        result,
        detail,
        reference,
    )
    if order.check is not None and status.endswith(" 1"):
        blocked = result == "skipped"
        await record_check(
            conn,
            order.account.account_id,
            order.action_key,
            planned,
            order.check,
            "blocked" if blocked else "allowed",
            detail if blocked else order.check.rule,
        )
    return status.endswith(" 1")


async def write_follow_ups(
    conn: asyncpg.Connection, account_id: str, plan: FollowUpPlan | None, now: datetime, rule_set: str
) -> None:
    """Replaces the account's follow-up days from `plan.replace_from` on with the plan's (a stopped plan marks
    them stopped). Idempotent: writing the same plan twice leaves the same rows."""
    if plan is None:
        return
    await conn.execute(
        "UPDATE follow_ups SET status = $3, planned_at = $4 WHERE account_id = $1 AND day >= $2 AND status = 'planned'",
        account_id,
        plan.replace_from,
        "stopped" if plan.stopped else "withdrawn",
        now,
    )
    await conn.executemany(
        "INSERT INTO follow_ups (account_id, day, task_key, starts_at, attempts, rule_set, status, planned_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, 'planned', $7) ON CONFLICT (account_id, day) DO UPDATE SET"
        " task_key = EXCLUDED.task_key, starts_at = EXCLUDED.starts_at, attempts = EXCLUDED.attempts,"
        " rule_set = EXCLUDED.rule_set, status = 'planned', planned_at = EXCLUDED.planned_at",
        [(account_id, day.day, plan.task_key, day.at, day.attempts, rule_set, now) for day in plan.days],
    )


async def record_check(
    conn: asyncpg.Connection, account_id: str, key: str, planned: PlannedStep, check: Check, verdict: str, rule: str
) -> None:
    status = await conn.execute(
        "INSERT INTO contact_checks (account_id, action_key, step_id, channel, rule_set, verdict, rule, evaluated_at,"
        " local_time, allowed_at, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (action_key, evaluated_at) DO NOTHING",
        account_id,
        key,
        planned.step_id,
        planned.channel,
        check.rule_set,
        verdict,
        rule,
        check.evaluated_at,
        check.local_time,
        check.at if verdict == "deferred" else None,
        check.attempts,
    )
    if status.endswith(" 1"):  # a retried activity finds its evidence recorded, and counted
        BusinessMetrics(activity.metric_meter()).contact_judged(planned.channel, verdict)


async def set_result(conn: asyncpg.Connection, key: str, result: str, detail: str, reference: str | None = None):
    await conn.execute(
        "UPDATE action_log SET result = $2, detail = $3, reference = $4 WHERE action_key = $1",
        key,
        result,
        detail,
        reference,
    )


async def recorded_result(conn: asyncpg.Connection, key: str) -> StepResult:
    row = await conn.fetchrow("SELECT result, detail, reference FROM action_log WHERE action_key = $1", key)
    status = row["result"] if row["result"] in ("done", "skipped", "rejected") else "rejected"
    return StepResult(status=status, detail=row["detail"], reference=row["reference"])


async def log_skipped(
    conn: asyncpg.Connection,
    ref: AccountRef,
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
                action_key(ref.account_id, ref.ladder_life, p.key),
                ref.account_id,
                ref.workflow_id,
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


async def record_third_party_checks(
    conn: asyncpg.Connection,
    account_id: str,
    decided_for: str,
    allowed: list[str],
    withheld: dict[str, str],
    at: datetime,
) -> None:
    """The guard's word on each contact person's phone, for a call task or for the event that changed it (once)."""
    await conn.executemany(
        "INSERT INTO third_party_checks (account_id, decided_for, contact_point, verdict, reason, evaluated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (decided_for, contact_point) DO NOTHING",
        [(account_id, decided_for, value, "allowed", "", at) for value in allowed]
        + [(account_id, decided_for, value, "withheld", why, at) for value, why in withheld.items()],
    )
