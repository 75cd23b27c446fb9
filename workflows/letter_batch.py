"""LetterBatchWorkflow: the print-and-mail vendor's daily batch, started by a Temporal schedule (or by hand)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.print_mail import LetterBatch, LetterBatchRequest, PrintMailActivities
    from workflows.steps import STEP_RETRY

BATCH_TIMEOUT = timedelta(minutes=30)  # rendering a day's letters takes a fraction of a second each
LETTER_BATCH_WORKFLOW_ID = "letter-batch"


@workflow.defn
class LetterBatchWorkflow:
    @workflow.run
    async def run(self) -> LetterBatch:
        # The workflow id is the batch's name: a schedule gives each run its own (id + the scheduled time).
        batch_id = workflow.info().workflow_id.replace(":", "").replace("+", "")
        return await workflow.execute_activity_method(
            PrintMailActivities.produce_letter_batch,
            LetterBatchRequest(batch_id=batch_id),
            start_to_close_timeout=BATCH_TIMEOUT,
            retry_policy=STEP_RETRY,
        )
