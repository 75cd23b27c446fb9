"""Contact with the debtor in PostgreSQL: cease requests, outcomes and contact points, deferrals, follow-up days."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import asyncpg
from temporalio import activity

from activities.step_log import log_skipped, record_check, record_third_party_checks, write_follow_ups
from dunning.contact import CeaseContact
from dunning.letters import LetterDelivery
from dunning.orders import ContactDeferred, ContactRecorded, FollowUpsPlanned
from dunning.outcomes import ContactOutcome
from dunning.visits import VisitReport
from infra.logging import activity_logger


class ContactRecords:
    """Records of the debtor's contact points and of what contact may be made when."""

    _pool: asyncpg.Pool

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
                " note, occurred_at, verdict, strategy, settled_at, third_party_breach)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                " ON CONFLICT (account_id, event_id) DO NOTHING",
                recorded.ref.account_id,
                *row,
                recorded.verdict,
                recorded.strategy,
                recorded.settled_at,
                recorded.third_party_breach,
            )
            if not inserted.endswith(" 1"):
                return  # a resend, or a retry of this activity: the first record stands
            if isinstance(event, LetterDelivery):
                await record_letter_delivery(conn, event)
            elif isinstance(event, VisitReport) and not recorded.verdict.startswith("rejected"):  # refused: still open
                await conn.execute(
                    "UPDATE field_visit_orders SET status = 'reported', finding = $2, notes = $3, photos = $4,"
                    " visited_at = $5 WHERE visit_ref = $1",
                    event.visit_ref,
                    event.finding,
                    event.notes,
                    json.dumps(event.photos),
                    event.visited_at,
                )
                await conn.execute(
                    "INSERT INTO visit_evidence (report_id, account_id, visit_ref, agents, finding, photos,"
                    " notes_sha256, visited_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                    event.report_id,
                    recorded.ref.account_id,
                    event.visit_ref,
                    sorted(event.staff()),
                    event.finding,
                    json.dumps(event.photos),
                    hashlib.sha256(event.notes.encode()).hexdigest(),
                    event.visited_at,
                )
            if recorded.removed_point is not None:
                await conn.execute(
                    "INSERT INTO contact_points (account_id, value, kind, owner, status)"
                    " VALUES ($1, $2, '', '', 'replaced')"
                    " ON CONFLICT (account_id, value) DO UPDATE SET status = 'replaced', updated_at = now()",
                    recorded.ref.account_id,
                    recorded.removed_point,
                )
            await conn.executemany(
                """
                INSERT INTO contact_points (account_id, value, kind, owner, relation, failures, status,
                    invalid_because, line_type)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                ON CONFLICT (account_id, value) DO UPDATE SET
                    kind = EXCLUDED.kind, owner = EXCLUDED.owner, relation = EXCLUDED.relation,
                    failures = EXCLUDED.failures, status = EXCLUDED.status,
                    invalid_because = EXCLUDED.invalid_because, line_type = EXCLUDED.line_type, updated_at = now()
                """,
                [
                    (
                        recorded.ref.account_id,
                        r.point.value,
                        r.point.kind,
                        r.point.owner,
                        r.point.relation,
                        json.dumps(r.failures),
                        "valid" if r.invalid_since is None else "invalid",
                        r.invalid_because,
                        r.point.line_type,
                    )
                    for r in recorded.changed_points
                ],
            )
            await log_skipped(
                conn,
                recorded.ref,
                recorded.skipped,
                "fell due while the validation notice waited for an address",
            )
            if recorded.withheld:
                await _withhold_from_calls(
                    conn, recorded.ref.account_id, row[0], recorded.withheld, recorded.settled_at
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
    async def record_deferral(self, deferred: ContactDeferred) -> None:
        async with self._pool.acquire() as conn:
            await record_check(
                conn,
                deferred.ref.account_id,
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
            await write_follow_ups(conn, planned.ref.account_id, planned.plan, planned.now, planned.rule_set)
        activity_logger().info("follow-ups planned", task=planned.plan.task_key, days=len(planned.plan.days))


async def record_letter_delivery(conn: asyncpg.Connection, delivery: LetterDelivery) -> None:
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


async def _withhold_from_calls(
    conn: asyncpg.Connection, account_id: str, event_id: str, withheld: dict[str, str], at: datetime | None
) -> None:
    """Takes the contact persons' phones the guard no longer lets be called off the account's call tasks (their
    follow-up days and any call already taken use the same phone order), with the guard's evidence."""
    await conn.execute(
        """
        UPDATE call_tasks SET phone_order = (
            SELECT jsonb_agg(CASE WHEN $2::jsonb ? (p->>'number')
                                  THEN p || jsonb_build_object('withheld', $2::jsonb->>(p->>'number')) ELSE p END
                             ORDER BY n)
            FROM jsonb_array_elements(phone_order) WITH ORDINALITY AS x(p, n))
        WHERE account_id = $1
          AND EXISTS (SELECT 1 FROM jsonb_array_elements(phone_order) AS o(p) WHERE $2::jsonb ? (o.p->>'number'))
        """,
        account_id,
        json.dumps(withheld),
    )
    await record_third_party_checks(conn, account_id, event_id, [], withheld, at or datetime.now(UTC))
