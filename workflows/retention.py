"""PersonalDataRetentionWorkflow: closed accounts' personal data erased once their rule set's retention has passed,
started daily by a Temporal schedule (or by hand)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.retention import ErasureRequest, RetentionActivities
    from dunning.account import Clock, DemoClock, Payload
    from workflows.steps import STEP_RETRY

RETENTION_WORKFLOW_ID = "personal-data-retention"
ERASURE_TIMEOUT = timedelta(minutes=10)  # a batch of accounts, a transaction each


class RetentionAsked(Payload):
    batch: int = Field(default=200, ge=1, le=10_000)  # accounts erased per activity, so a backlog goes in steps
    clock: DemoClock | None = None  # the demo's fast days: retention counts business years


@workflow.defn
class PersonalDataRetentionWorkflow:
    @workflow.run
    async def run(self, asked: RetentionAsked) -> int:
        """Returns how many accounts were erased."""
        request = ErasureRequest(now=Clock(asked.clock).business(workflow.now()), limit=asked.batch)
        erased = 0
        while True:
            batch = await workflow.execute_activity_method(
                RetentionActivities.erase_personal_data,
                request,
                start_to_close_timeout=ERASURE_TIMEOUT,
                retry_policy=STEP_RETRY,
            )
            erased += batch
            if batch < asked.batch:
                return erased
