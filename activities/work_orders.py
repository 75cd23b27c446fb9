"""Work orders other teams and vendors pick up: call tasks, letters, field visits, placements, internal tasks."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.step_log import log_action, record_third_party_checks, recorded_result, skip, write_follow_ups
from dunning.actions import Action
from dunning.letters import LetterFacts, letter_facts
from dunning.orders import CallDetails, StepOrder, StepResult, VisitDetails
from dunning.visits import visit_ref
from infra.letters import LetterError, LetterRenderer
from infra.logging import activity_logger

T = TypeVar("T")
D = TypeVar("D", CallDetails, VisitDetails)


class WorkOrderActivities:
    """Work orders, each written with the step's action-log row in one transaction."""

    _pool: asyncpg.Pool
    _letters: LetterRenderer

    @activity.defn
    async def create_call_task(self, order: StepOrder) -> StepResult:
        stage = order.stage
        if stage is None or stage.call_cadence is None:
            raise ApplicationError(f"stage of {order.planned.key} has no call cadence", non_retryable=True)
        if not order.contact_points:
            return await skip(self._pool, order, "no phone number the stage may call")
        call = _details(order, CallDetails)
        phones = [{"kind": p.kind, "owner": p.owner, "number": p.value} for p in order.contact_points]
        for phone, disclose in zip(phones, call.may_disclose):
            phone["may_disclose"] = disclose  # a contact who may not hear of the debt is asked only to pass word
        # The contact guard paces a day's attempts so the task alone never breaks a cap.
        attempts = order.check.attempts if order.check else stage.call_cadence.attempts_per_day
        result = await self._work_order(
            order,
            f"call task for stage {stage.id} queued",
            "INSERT INTO call_tasks (action_key, account_id, stage, tone, phone_order, attempts_per_day, min_numbers,"
            " due_from, third_parties, collector_queue, purpose, attempt_windows)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            stage.id,
            stage.tone,
            json.dumps(phones),
            attempts,
            min(stage.call_cadence.min_numbers, attempts),
            order.taken_at,
            stage.third_parties.value,
            call.collector_queue,
            order.step.id,
            json.dumps(call.attempt_windows),
            then=lambda conn: _file_call(conn, order, call),
        )
        async with self._pool.acquire() as conn:
            # The queue's book size sets how often its other cases are followed up (domain §4).
            cases = await conn.fetchval(
                "SELECT count(*) FROM accounts WHERE collector_queue = $1 AND status = 'open'", call.collector_queue
            )
        return result.model_copy(update={"queue_cases": cases})

    @activity.defn
    async def queue_letter(self, order: StepOrder) -> StepResult:
        """Fixes the letter's facts and queues it for the day's print batch, which renders it (print_mail.py)."""
        if not order.contact_points:
            return await skip(self._pool, order, "no postal address on file")
        step, facts = order.step, letter_facts(order)
        make_or_fail(self._letters.html, facts)  # a letter that cannot be made fails now, not in the batch
        return await self._work_order(
            order,
            f"{step.letter_kind} letter {facts.letter_ref} {_queued_or_held(step)} ({step.delivery})",
            "INSERT INTO letter_jobs (action_key, account_id, letter_kind, template, locale, delivery, address,"
            " amount_minor, currency, requires_approval, status, validation_period_ends, letter_ref, facts)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            step.letter_kind,
            step.template,
            order.account.locale,
            step.delivery,
            facts.address,
            order.outstanding_minor,
            order.account.currency,
            step.requires_approval,
            _initial_status(step, "queued"),
            order.message.validation_period_ends,
            facts.letter_ref,
            facts.model_dump_json(),
        )

    @activity.defn
    async def order_field_visit(self, order: StepOrder) -> StepResult:
        if not order.contact_points:
            return await skip(self._pool, order, "no address to visit")
        visit, ref = _details(order, VisitDetails), visit_ref(order.action_key)
        return await self._work_order(
            order,
            f"{order.step.visit_purpose} visit {ref} ordered",
            "INSERT INTO field_visit_orders (action_key, account_id, purpose, address, visit_ref, reason, field_queue,"
            " deadline, invalid_addresses, staff_required, monthly_target)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            order.step.visit_purpose,
            order.contact_points[0].value,
            ref,
            visit.reason,
            visit.field_queue,
            visit.deadline,
            json.dumps(visit.invalid_addresses),
            visit.staff,
            visit.monthly_target,
        )

    @activity.defn
    async def place_with_agency(self, order: StepOrder) -> StepResult:
        agency = order.agency
        if agency is None:
            raise ApplicationError(f"{order.planned.key} names no agency", non_retryable=True)
        return await self._work_order(
            order,
            f"placement with {agency.id} {_queued_or_held(order.step)}",
            "INSERT INTO agency_placements (action_key, account_id, agency_id, placed_minor, currency,"
            " commission_rate, placed_at, recall_at, requires_approval, status)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            agency.id,
            order.outstanding_minor,
            order.account.currency,
            agency.commission_rate,
            order.taken_at,
            order.taken_at + timedelta(days=agency.recall_after_days),
            order.step.requires_approval,
            _initial_status(order.step, "placed"),
        )

    @activity.defn
    async def raise_internal_task(self, order: StepOrder) -> StepResult:
        step = order.step
        return await self._work_order(
            order,
            f"{step.task} task {_queued_or_held(step)}",
            "INSERT INTO internal_tasks (action_key, account_id, task, requires_approval, status)"
            " VALUES ($1, $2, $3, $4, $5)",
            step.task,
            step.requires_approval,
            _initial_status(step, "open"),
        )

    async def _work_order(
        self,
        order: StepOrder,
        detail: str,
        insert: str,
        *values,
        then: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
    ) -> StepResult:
        """Writes the action log row and the channel's work order together (and `then`), once per action key."""
        async with self._pool.acquire() as conn, conn.transaction():
            # The work order's own key is its reference: the team or vendor consuming it quotes it back.
            logged = await log_action(conn, order, "done", detail, order.action_key)
            if logged:
                await conn.execute(insert, order.action_key, order.account.account_id, *values)
            if then is not None:  # a retake's plans are the ones that hold
                await then(conn)
            if not logged:
                return await recorded_result(conn, order.action_key)
        activity_logger().info("work order created", step=order.planned.key, channel=order.planned.channel)
        return StepResult(status="done", detail=detail, reference=order.action_key)


async def _file_call(conn: asyncpg.Connection, order: StepOrder, call: CallDetails) -> None:
    """With the call task: its follow-up days, and the guard's word on each contact person's phone."""
    account_id = order.account.account_id
    await write_follow_ups(
        conn, account_id, call.follow_ups, order.taken_at, order.check.rule_set if order.check else ""
    )
    contacts = [p.value for p in order.contact_points if p.owner != "debtor"]
    await record_third_party_checks(conn, account_id, order.action_key, contacts, call.withheld, order.taken_at)


def make_or_fail(make: Callable[[LetterFacts], T], facts: LetterFacts) -> T:
    """A letter that cannot be made (no template, no letterhead) is a bad order: retrying will not help."""
    try:
        return make(facts)
    except LetterError as err:
        raise ApplicationError(str(err), non_retryable=True) from None


def _details(order: StepOrder, kind: type[D]) -> D:
    """The order's details for its channel; an order without them is a bad order."""
    if not isinstance(order.details, kind):
        raise ApplicationError(f"{order.planned.key} carries no {kind.__name__}", non_retryable=True)
    return order.details


def _initial_status(step: Action, ready: str) -> str:
    """A work order the policy marks as needing approval waits for it instead of going out."""
    return "awaiting_approval" if step.requires_approval else ready


def _queued_or_held(step: Action) -> str:
    return "awaiting approval" if step.requires_approval else "queued"
