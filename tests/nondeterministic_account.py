"""A deliberately non-deterministic change to the account workflow, for the replay check to catch: an hour's timer
before each step, unguarded by `workflow.patched`, so a recorded run's first step is not the command the code gives.
A module of its own so the workflow sandbox imports it without the tests' fixtures."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dunning.ladder import PlannedStep
    from dunning.state import AccountRun
    from workflows.account import AccountWorkflow


@workflow.defn(name="AccountWorkflow")
class AccountWorkflowWaitingBeforeSteps(AccountWorkflow):
    @workflow.run
    async def run(self, run: AccountRun) -> AccountRun:
        return await super().run(run)

    async def _take(self, planned: PlannedStep) -> None:
        await workflow.sleep(timedelta(hours=1))
        await super()._take(planned)
