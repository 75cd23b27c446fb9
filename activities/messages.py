"""Texts and e-mails: handed to their vendor inside the activity, once."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from temporalio import activity

from activities.outbox import EMAIL_OUTBOX, IN_DOUBT, INVALID_POINT, SMS_OUTBOX, Outbox
from activities.step_log import log_action, recorded_result, set_result, skip
from activities.work_orders import make_or_fail
from dunning.channels import Channel
from dunning.contact import CeaseContact, takes_texts
from dunning.ladder import dpd_at
from dunning.letters import LetterFacts, attachment_facts
from dunning.messages import MessageFacts, Templates
from dunning.orders import StepOrder, StepResult
from dunning.outcomes import ContactOutcome
from infra import twilio_sms
from infra.delivery import NotSent, OutcomeUnknown, Rejected
from infra.letters import LetterRenderer, RenderedLetter
from infra.logging import activity_logger
from infra.metrics import BusinessMetrics
from infra.smtp_mail import Mailer


class MessageActivities:
    """Texts and e-mails, kept in their outbox while handed to the vendor."""

    _pool: asyncpg.Pool
    _templates: Templates
    _letters: LetterRenderer
    _sms_client: Any
    _sms_from: str
    _mailer: Mailer

    @activity.defn
    async def send_sms(self, order: StepOrder) -> StepResult:
        if not order.contact_points:
            return await skip(self._pool, order, "no mobile number on file")
        if not takes_texts(order.contact_points[0]):
            return await skip(self._pool, order, "the mobile number on file is a landline, which takes no texts")
        to = order.contact_points[0].value
        if await self._opted_out("sms_opt_outs", "number", to, order):
            return await skip(self._pool, order, "the number opted out of texts (it texted STOP)")
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
            return await skip(self._pool, order, "no e-mail address on file")
        to = order.contact_points[0].value
        if await self._opted_out("email_opt_outs", "address", to, order):
            return await skip(self._pool, order, "the address asked for no more e-mail (it unsubscribed)")
        # The token, the body that quotes it and the rest are stored with the first attempt, which every retry sends.
        token = secrets.token_urlsafe(18)
        email = self._templates.email(
            order.step.template, order.account.locale, self._facts(order), self._mailer.opt_out_link(token)
        )
        message = {"to_address": to, "subject": email.subject, "body": email.body, "opt_out_token": token}
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
                opt_out_token=stored["opt_out_token"],
                attachments=attachments,
            )
            return sent.message_id

        return await self._hand_over(order, EMAIL_OUTBOX, message, send)

    async def _opted_out(self, table: str, column: str, recipient: str, order: StepOrder) -> bool:
        """Whether the recipient is on the channel's opt-out list, unless this step was handed over before (a retry
        finishes what its first attempt began)."""
        return bool(
            await self._pool.fetchval(
                f"SELECT 1 FROM {table} WHERE {column} = $1 AND NOT EXISTS"
                " (SELECT 1 FROM action_log WHERE action_key = $2)",
                recipient,
                order.action_key,
            )
        )

    async def _render(self, facts: LetterFacts) -> RenderedLetter:
        make_or_fail(self._letters.html, facts)  # a letter that cannot be made is a bad order, not worth a retry
        return await self._letters.render_apart(facts)

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
            first = await log_action(conn, order, "sending")
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
            with BusinessMetrics(activity.metric_meter()).vendor_call(order.planned.channel):
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
        recorded = await recorded_result(conn, order.action_key)
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
            await set_result(conn, key, "rejected", detail)
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
            await set_result(conn, key, "done", detail, reference)
            early = await outbox.ended_early(conn, key, reference) if outbox.ended_early else None
        activity_logger().info("message sent", step=order.planned.key, reference=reference)
        said = _what_the_refusal_says(order, stored[outbox.recipient], early) if early else {}
        return StepResult(status="done", detail=detail, reference=reference, **said)

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
            statement_month=order.message.statement.month if order.message.statement else "",
            confirm_by=order.message.statement.confirm_by if order.message.statement else None,
        )


async def _unknown(conn: asyncpg.Connection, table: str, key: str, reason: str) -> StepResult:
    """The vendor may or may not have taken the message: record that and never send it again (a debtor does not
    get it twice; ops can see the row and check the vendor's log)."""
    detail = f"delivery unknown: {reason}"
    await conn.execute(f"UPDATE {table} SET status = 'unknown', updated_at = now() WHERE action_key = $1", key)
    await set_result(conn, key, "rejected", detail)
    return StepResult(status="rejected", detail=detail)


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
