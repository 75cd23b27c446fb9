"""Channel activities: each turns one ladder step into what its channel consumes. Texts and e-mails are in
messages.py, work orders in work_orders.py, the action log every step writes in step_log.py."""

from __future__ import annotations

import asyncpg
from temporalio import activity

from activities.messages import MessageActivities
from activities.step_log import log_action, set_result, skip
from activities.work_orders import WorkOrderActivities
from dunning.messages import Templates
from dunning.orders import StepOrder, StepResult
from infra.letters import LetterRenderer
from infra.logging import activity_logger
from infra.smtp_mail import Mailer


class ChannelActivities(MessageActivities, WorkOrderActivities):
    """Each activity turns one ladder step into what its channel consumes: a message handed to its vendor, or a
    work order."""

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

    @activity.defn
    async def skip_step(self, order: StepOrder, reason: str) -> StepResult:
        """A step the account's state forbids (e.g. contact ceased): logged as skipped, never carried out."""
        return await skip(self._pool, order, reason)

    @activity.defn
    async def record_failure(self, order: StepOrder, detail: str) -> StepResult:
        """A step whose activity failed for good (a bad order, not an outage): logged as failed for ops to see."""
        async with self._pool.acquire() as conn:
            if not await log_action(conn, order, "failed", detail):
                await set_result(conn, order.action_key, "failed", detail)
        activity_logger().error("step failed", step=order.planned.key)
        return StepResult(status="failed", detail=detail)
