"""Taking one step inside a workflow: the channel's activity, or a skip when a cease request forbids it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.channels import ChannelActivities
    from dunning.channels import Channel
    from dunning.contact import blocked_by_cease
    from dunning.orders import StepOrder, StepResult
    from infra.metrics import BusinessMetrics

STEP_ACTIVITIES = {
    Channel.sms: ChannelActivities.send_sms,
    Channel.email: ChannelActivities.send_email,
    Channel.call: ChannelActivities.create_call_task,
    Channel.letter: ChannelActivities.queue_letter,
    Channel.field_visit: ChannelActivities.order_field_visit,
    Channel.agency: ChannelActivities.place_with_agency,
    Channel.internal: ChannelActivities.raise_internal_task,
}
# Vendors and the database may be down for hours: a step retries until they are back (ops see the pending
# activity in the UI). Only a non-retryable error (a bad order) reaches the workflow, which records it and goes on.
STEP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10))
STEP_TIMEOUT = timedelta(minutes=2)


def start_step(order: StepOrder, ceased: set[Channel], forbidden: str = "") -> workflow.ActivityHandle:
    """Starts the step's activity; a step the debtor's cease request or the stage (`forbidden`) rules out is
    logged as skipped instead."""
    if blocked_by_cease(order.step, ceased):
        forbidden = "the debtor asked us to stop this contact"
    if forbidden:
        activity, arguments = ChannelActivities.skip_step, [order, forbidden]
    else:
        activity, arguments = STEP_ACTIVITIES[order.step.channel], [order]
    return workflow.start_activity_method(
        activity, args=arguments, start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY
    )


async def step_result(running: workflow.ActivityHandle, order: StepOrder) -> StepResult:
    """The step's result; a step that failed for good (a bad order) is recorded as failed, and the account goes on."""
    try:
        return await running
    except ActivityError as err:
        BusinessMetrics(workflow.metric_meter()).step_failed(order.planned.channel)
        return await workflow.execute_activity_method(
            ChannelActivities.record_failure,
            args=[order, str(err.cause or err)],
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
        )
