"""Channel activities: each turns one ladder step into the work order its channel consumes.

Every activity is idempotent on the order's action key: the action-log row and the work order are written in one
transaction, and a retry finds them and returns what was recorded the first time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from dunning.compliance import Check
from dunning.contact import CeaseContact
from dunning.ladder import PlannedStep, dpd_at
from dunning.letters import LetterFacts, attachment_facts, letter_facts
from dunning.messages import MessageFacts, Templates
from dunning.orders import CallDetails, StepOrder, StepResult, VisitDetails
from dunning.outcomes import ContactOutcome
from dunning.pacing import FollowUpPlan
from dunning.policy import Action, Channel
from dunning.visits import visit_ref
from infra import twilio_sms
from infra.delivery import NotSent, OutcomeUnknown, Rejected
from infra.letters import LetterError, LetterRenderer, RenderedLetter
from infra.logging import activity_logger
from infra.smtp_mail import Mailer


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

T = TypeVar("T")
D = TypeVar("D", CallDetails, VisitDetails)

CHANNEL_TABLES = {
    "email": "email_jobs",
    "call": "call_tasks",
    "letter": "letter_jobs",
    "field_visit": "field_visit_orders",
    "agency": "agency_placements",
    "internal": "internal_tasks",
}


class ChannelActivities:
    def __init__(
        self,
        pool: asyncpg.Pool,
        templates: Templates,
        letters: LetterRenderer,
        sms_client,
        sms_from: str,
        mailer: Mailer,
    ) -> None:
        self._pool = pool
        self._templates = templates
        self._letters = letters
        self._sms_client = sms_client
        self._sms_from = sms_from
        self._mailer = mailer

    # --- texts and e-mails: handed to the vendor inside the activity, once ---------------------------------

    @activity.defn
    async def send_sms(self, order: StepOrder) -> StepResult:
        if not order.contact_points:
            return await self._skip(order, "no mobile number on file")
        to = order.contact_points[0].value
        if await self._pool.fetchval(
            "SELECT 1 FROM sms_opt_outs WHERE number = $1 AND NOT EXISTS"
            " (SELECT 1 FROM action_log WHERE action_key = $2)",
            to,
            order.action_key,
        ):
            return await self._skip(order, "the number opted out of texts (it texted STOP)")
        message = {
            "to_number": to,
            "body": self._templates.sms(order.step.template, order.account.locale, self._facts(order)),
        }

        async def send(stored: asyncpg.Record) -> str:
            sent = await twilio_sms.send_sms(
                self._sms_client, to=stored["to_number"], from_=self._sms_from, body=stored["body"]
            )
            return sent.sid

        async def find_taken(stored: asyncpg.Record) -> str | None:
            return await twilio_sms.find_sent(
                self._sms_client,
                to=stored["to_number"],
                from_=self._sms_from,
                body=stored["body"],
                since=stored["created_at"],
            )

        return await self._hand_over(order, SMS_OUTBOX, message, send, find_taken)

    @activity.defn
    async def send_email(self, order: StepOrder) -> StepResult:
        if not order.contact_points:
            return await self._skip(order, "no e-mail address on file")
        email = self._templates.email(order.step.template, order.account.locale, self._facts(order))
        message = {"to_address": order.contact_points[0].value, "subject": email.subject, "body": email.body}
        attachments = []
        if order.step.attach_letter:
            # Rendered from the step's facts, so every attempt attaches the same document (the same checksum).
            facts = attachment_facts(order)
            letter = await self._render(facts)
            name = f"{facts.letter_ref}.pdf"
            attachments = [(name, letter.pdf)]
            message |= {"attachment": name, "attachment_sha256": letter.sha256}

        async def send(stored: asyncpg.Record) -> str:
            # The Message-ID is the action's: a relay or mailbox that sees it twice knows it is the same mail.
            sent = await self._mailer.send(
                to=stored["to_address"],
                subject=stored["subject"],
                body=stored["body"],
                message_id=self._mailer.message_id(order.action_key),
                attachments=attachments,
            )
            return sent.message_id

        return await self._hand_over(order, EMAIL_OUTBOX, message, send)

    async def _render(self, facts: LetterFacts) -> RenderedLetter:
        return await asyncio.to_thread(_make_or_fail, self._letters.render, facts)

    async def _hand_over(
        self,
        order: StepOrder,
        outbox: Outbox,
        message: dict[str, str],
        send: Callable[[asyncpg.Record], Awaitable[str]],
        find_taken: Callable[[asyncpg.Record], Awaitable[str | None]] | None = None,
    ) -> StepResult:
        """Records the message as `sending`, hands it to the vendor, and records the answer. A message is sent again
        only when the vendor provably did not take it, so a debtor never gets it twice: when an answer leaves that in
        doubt (a timeout, a 5xx, an attempt that died mid-send), a vendor that can be asked (`find_taken`) is asked
        on the next attempt, and one that cannot be asked is never handed the message again."""
        key, table = order.action_key, outbox.table
        async with self._pool.acquire() as conn, conn.transaction():
            first = await _log_action(conn, order, "sending")
            if first:
                placeholders = ", ".join(f"${i}" for i in range(3, 3 + len(message)))
                stored = await conn.fetchrow(
                    f"INSERT INTO {table} (action_key, account_id, status, {', '.join(message)})"
                    f" VALUES ($1, $2, 'sending', {placeholders}) RETURNING *",
                    key,
                    order.account.account_id,
                    *message.values(),
                )
            else:
                # The message stored the first time is the one that goes; a retry never rewrites it.
                stored = await conn.fetchrow(f"SELECT * FROM {table} WHERE action_key = $1 FOR UPDATE", key)
                in_doubt = stored["status"] in IN_DOUBT
                if in_doubt and find_taken is None:
                    return await _unknown(conn, table, key, "a previous attempt may have handed it over")
                if not in_doubt and stored["status"] != "retry":
                    return await self._recorded(conn, order, outbox, stored)
        if not first:
            if stored["status"] in IN_DOUBT and (taken := await find_taken(stored)):
                return await self._sent(order, outbox, stored, taken)
            await self._set_status(table, key, "sending")  # provably not taken: this attempt sends it
        try:
            reference = await send(stored)
        except Rejected as err:
            return await self._refused(order, outbox, stored, err)
        except NotSent:
            await self._set_status(table, key, "retry")
            raise  # Temporal retries with backoff
        except OutcomeUnknown as err:
            activity_logger().warning("message outcome unknown", step=order.planned.key, reason=str(err))
            if find_taken is not None:
                await self._set_status(table, key, "unknown")
                raise  # retried with backoff; the next attempt asks the vendor first
            async with self._pool.acquire() as conn, conn.transaction():
                return await _unknown(conn, table, key, str(err))
        return await self._sent(order, outbox, stored, reference)

    async def _set_status(self, table: str, key: str, status: str) -> None:
        await self._pool.execute(
            f"UPDATE {table} SET status = $2, updated_at = now() WHERE action_key = $1", key, status
        )

    async def _recorded(
        self, conn: asyncpg.Connection, order: StepOrder, outbox: Outbox, stored: asyncpg.Record
    ) -> StepResult:
        """What the first attempt recorded; a refusal it stored still has its say in a retried activity's result."""
        recorded = await _recorded_result(conn, order.action_key)
        if not stored["refusal"]:
            return recorded
        refusal = Rejected(outbox.vendor, stored["error_code"], "", stored["refusal"])
        return recorded.model_copy(update=_what_the_refusal_says(order, stored[outbox.recipient], refusal))

    async def _refused(self, order: StepOrder, outbox: Outbox, stored: asyncpg.Record, err: Rejected) -> StepResult:
        key, detail = order.action_key, f"{err.vendor} error {err.code}"
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                f"UPDATE {outbox.table} SET status = 'rejected', error_code = $2, refusal = $3,"
                " updated_at = now() WHERE action_key = $1",
                key,
                err.code,
                err.meaning or None,
            )
            if outbox.opted_out and err.meaning == "opted_out":
                await outbox.opted_out(conn, stored[outbox.recipient], order.taken_at, key)
            await _set_result(conn, key, "rejected", detail)
        activity_logger().warning("message rejected", step=order.planned.key, vendor=err.vendor, code=err.code)
        return StepResult(
            status="rejected", detail=detail, **_what_the_refusal_says(order, stored[outbox.recipient], err)
        )

    async def _sent(self, order: StepOrder, outbox: Outbox, stored: asyncpg.Record, reference: str) -> StepResult:
        key, detail = order.action_key, f"{order.planned.channel} accepted by {outbox.vendor}"
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                f"UPDATE {outbox.table} SET status = 'sent', {outbox.reference} = $2,"
                " updated_at = now() WHERE action_key = $1",
                key,
                reference,
            )
            await _set_result(conn, key, "done", detail, reference)
            early = await outbox.ended_early(conn, key, reference) if outbox.ended_early else None
        activity_logger().info("message sent", step=order.planned.key, reference=reference)
        said = _what_the_refusal_says(order, stored[outbox.recipient], early) if early else {}
        return StepResult(status="done", detail=detail, reference=reference, **said)

    # --- work orders other teams and vendors pick up ----------------------------------------------------------

    @activity.defn
    async def create_call_task(self, order: StepOrder) -> StepResult:
        stage = order.stage
        if stage is None or stage.call_cadence is None:
            raise ApplicationError(f"stage of {order.planned.key} has no call cadence", non_retryable=True)
        if not order.contact_points:
            return await self._skip(order, "no phone number the stage may call")
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
            then=lambda conn: write_follow_ups(
                conn,
                order.account.account_id,
                call.follow_ups,
                order.taken_at,
                order.check.rule_set if order.check else "",
            ),
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
            return await self._skip(order, "no postal address on file")
        step, facts = order.step, letter_facts(order)
        _make_or_fail(self._letters.html, facts)  # a letter that cannot be made fails now, not in the batch
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
            return await self._skip(order, "no address to visit")
        visit, ref = _details(order, VisitDetails), visit_ref(order.action_key)
        return await self._work_order(
            order,
            f"{order.step.visit_purpose} visit {ref} ordered",
            "INSERT INTO field_visit_orders (action_key, account_id, purpose, address, visit_ref, reason, field_queue,"
            " deadline, invalid_addresses) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            order.step.visit_purpose,
            order.contact_points[0].value,
            ref,
            visit.reason,
            visit.field_queue,
            visit.deadline,
            json.dumps(visit.invalid_addresses),
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

    @activity.defn
    async def skip_step(self, order: StepOrder, reason: str) -> StepResult:
        """A step the account's state forbids (e.g. contact ceased): logged as skipped, never carried out."""
        return await self._skip(order, reason)

    @activity.defn
    async def record_failure(self, order: StepOrder, detail: str) -> StepResult:
        """A step whose activity failed for good (a bad order, not an outage): logged as failed for ops to see."""
        async with self._pool.acquire() as conn:
            if not await _log_action(conn, order, "failed", detail):
                await _set_result(conn, order.action_key, "failed", detail)
        activity_logger().error("step failed", step=order.planned.key)
        return StepResult(status="failed", detail=detail)

    # --- shared plumbing ------------------------------------------------------------------------------------

    def _facts(self, order: StepOrder) -> MessageFacts:
        account = order.account
        return MessageFacts(
            creditor=account.creditor,
            account_id=account.account_id,
            outstanding_minor=order.outstanding_minor,
            currency=account.currency,
            due_date=account.due_date,
            dpd=dpd_at(account, order.taken_at),
            next_stage_dpd=order.message.next_stage_dpd,
            late_fee_rate_per_day=order.message.late_fee_rate_per_day,
            promised_minor=order.message.promise.amount_minor if order.message.promise else None,
            promised_date=order.message.promise.due_date if order.message.promise else None,
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
            logged = await _log_action(conn, order, "done", detail, order.action_key)
            if logged:
                await conn.execute(insert, order.action_key, order.account.account_id, *values)
            if then is not None:  # a retake's plans are the ones that hold
                await then(conn)
            if not logged:
                return await _recorded_result(conn, order.action_key)
        activity_logger().info("work order created", step=order.planned.key, channel=order.planned.channel)
        return StepResult(status="done", detail=detail, reference=order.action_key)

    async def _skip(self, order: StepOrder, reason: str) -> StepResult:
        async with self._pool.acquire() as conn, conn.transaction():
            if not await _log_action(conn, order, "skipped", reason):
                # A message withdrawn while its vendor was refusing it (status retry) never went out: skipped now.
                outbox = OUTBOXES.get(order.planned.channel)
                withdrawn = outbox and await conn.execute(
                    f"UPDATE {outbox.table} SET status = 'withdrawn', updated_at = now()"
                    " WHERE action_key = $1 AND status = 'retry'",
                    order.action_key,
                )
                if withdrawn and withdrawn.endswith(" 1"):
                    await _set_result(conn, order.action_key, "skipped", reason)
                return await _recorded_result(conn, order.action_key)
        activity_logger().info("step skipped", step=order.planned.key, reason=reason)
        return StepResult(status="skipped", detail=reason)


def _make_or_fail(make: Callable[[LetterFacts], T], facts: LetterFacts) -> T:
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


async def _log_action(
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
    await conn.execute(
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


async def _set_result(conn: asyncpg.Connection, key: str, result: str, detail: str, reference: str | None = None):
    await conn.execute(
        "UPDATE action_log SET result = $2, detail = $3, reference = $4 WHERE action_key = $1",
        key,
        result,
        detail,
        reference,
    )


async def _unknown(conn: asyncpg.Connection, table: str, key: str, reason: str) -> StepResult:
    """The vendor may or may not have taken the message: record that and never send it again (a debtor does not
    get it twice; ops can see the row and check the vendor's log)."""
    detail = f"delivery unknown: {reason}"
    await conn.execute(f"UPDATE {table} SET status = 'unknown', updated_at = now() WHERE action_key = $1", key)
    await _set_result(conn, key, "rejected", detail)
    return StepResult(status="rejected", detail=detail)


async def _recorded_result(conn: asyncpg.Connection, key: str) -> StepResult:
    row = await conn.fetchrow("SELECT result, detail, reference FROM action_log WHERE action_key = $1", key)
    status = row["result"] if row["result"] in ("done", "skipped", "rejected") else "rejected"
    return StepResult(status=status, detail=row["detail"], reference=row["reference"])


def _what_the_refusal_says(order: StepOrder, recipient: str, refusal: Rejected) -> dict:
    """A refusal that says the point opted out stops that channel for the account; one that says the point cannot
    receive it makes the point invalid. The account acts on these as on a signal."""
    channel = order.planned.channel
    if refusal.meaning == "opted_out":
        return {
            "cease": CeaseContact(
                request_id=f"{refusal.vendor}-{refusal.code}-{order.action_key}",
                channels=[Channel(channel)],
                reason=f"{refusal.vendor} refused: the recipient opted out (error {refusal.code})",
                received_at=order.taken_at,
            )
        }
    if refusal.meaning == "invalid_recipient":
        return {
            "point_outcome": ContactOutcome(
                outcome_id=f"{refusal.vendor}-{refusal.code}-{order.action_key}",
                code=INVALID_POINT[channel],
                source=channel,
                contact_point=recipient,
                reported_by=refusal.vendor,
                occurred_at=order.taken_at,
            )
        }
    return {}
