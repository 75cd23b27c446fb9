"""FraudClaimWorkflow: the four steps of a false-application claim (domain §7), run beside the account it stops."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.accounts import AccountActivities
    from dunning.account import Clock, local_date, local_datetime
    from dunning.actions import Action
    from dunning.calendar import WorkingCalendar
    from dunning.fraud import ClaimProgress, CreditorDecided, DeclarationSigned, FraudClaimDecided, FraudClaimRun
    from dunning.ladder import AgendaStep, dpd_at, stage_id
    from dunning.orders import AccountRef, FraudClaimRecorded, step_order
    from workflows.calendars import AsksForWorkingDays
    from workflows.signals import read
    from workflows.steps import STEP_RETRY, STEP_TIMEOUT, start_step, step_result


@workflow.defn
class FraudClaimWorkflow(AsksForWorkingDays):
    def __init__(self) -> None:
        self._status = "started"
        self._signed: DeclarationSigned | None = None
        self._decision: CreditorDecided | None = None
        self._refused: list[str] = []

    @workflow.run
    async def run(self, run: FraudClaimRun) -> FraudClaimDecided:
        self._run = run
        self._clock = Clock(run.clock)
        self._calendar = run.policy.working_days
        rules = run.policy.fraud
        assert rules is not None, "the account starts a claim only under a policy with a fraud flow"
        await self._record("clues_recorded")
        await self._act(rules.signing)
        signing_by = self._now() + timedelta(days=rules.signing_within_days)
        if not await self._wait_until(lambda: self._signed or self._decision, signing_by):
            return await self._decide("lapsed")
        if self._signed:
            await self._record("declaration_signed", self._signed.signed_at)
            await self._act(rules.to_creditor)
            await self._record("sent_to_creditor")
        # The creditor has no deadline of its own: remind it, then escalate, then keep waiting.
        sent_day = local_date(self._now(), run.account.time_zone)
        calendar = await self._working_days(sent_day)
        for action, working_days in (
            (rules.decision_reminder, rules.decision_reminder_working_days),
            (rules.decision_escalation, rules.decision_escalation_working_days),
        ):
            due = self._start_of(calendar.add_working_days(sent_day, working_days))
            if not await self._wait_until(lambda: self._decision, due):
                await self._act(action)
        await self._wait_until(lambda: self._decision, None)
        assert self._decision is not None
        return await self._decide("confirmed" if self._decision.confirmed else "rejected")

    @workflow.signal
    def declaration_signed(self, signed: RawValue) -> None:
        payload = read(signed, DeclarationSigned)
        if isinstance(payload, str):
            self._refused.append(payload)
        else:
            self._signed = self._signed or payload  # a resend changes nothing

    @workflow.signal
    def creditor_decided(self, decision: RawValue) -> None:
        payload = read(decision, CreditorDecided)
        if isinstance(payload, str):
            self._refused.append(payload)
        else:
            self._decision = self._decision or payload

    @workflow.signal
    def calendar_announced(self) -> None:
        """Sent by `collections deploys announce-calendars` to the runs in flight: ask the worker for the days ahead."""
        self._told()

    @workflow.query
    def progress(self) -> ClaimProgress:
        return ClaimProgress(
            status=self._status, signed=self._signed, decision=self._decision, refused_signals=self._refused
        )

    async def _decide(self, outcome: str) -> FraudClaimDecided:
        """Records the end of the claim and tells the account; a confirmed claim books the withdrawal."""
        run, rules = self._run, self._run.policy.fraud
        assert rules is not None
        decided_at = self._now()
        withdraw_by = None
        if outcome == "confirmed":
            decided_on = local_date(decided_at, run.account.time_zone)
            calendar = await self._working_days(decided_on)
            last_day = calendar.add_working_days(decided_on, rules.withdraw_within_working_days)
            withdraw_by = self._start_of(last_day) + timedelta(days=1)
            await self._act(rules.withdrawal)
        account_status = await self._record(outcome, withdraw_by=withdraw_by)
        decided = FraudClaimDecided(
            claim_id=run.claim.claim_id, outcome=outcome, decided_at=decided_at, withdraw_by=withdraw_by
        )
        # An account that closed meanwhile (paid off) has nothing left to resume or withdraw. Histories from before
        # the status was returned carry None: those accounts were told.
        if account_status in (None, "open"):
            try:
                await workflow.get_external_workflow_handle(run.account_workflow_id).signal(
                    "fraud_claim_decided", decided
                )
            except ApplicationError as err:
                if err.type != "ExternalWorkflowExecutionNotFound":
                    raise  # it closed in between
        return decided

    async def _working_days(self, day: date) -> WorkingCalendar:
        """The account's calendar as the claim started, with the years announced since if it does not know the days
        ahead of `day` (a policy naming no calendar counts Monday to Friday)."""
        if self._run.policy.calendar is not None and (announced := await self._announced(self._calendar, day)):
            self._calendar = self._calendar.with_years(announced)
        return self._calendar

    async def _act(self, action: Action) -> None:
        run = self._run
        now = self._now()
        dpd = dpd_at(run.account, now)
        planned = AgendaStep(
            key=f"{action.id}:claim-{run.claim.claim_id}",
            step_id=action.id,
            channel=action.channel.value,
            dpd=dpd,
            stage=stage_id(run.policy, dpd),
            due_at=now,
            cause=f"fraud claim {run.claim.claim_id}",
        )
        info = workflow.info()
        order = step_order(
            run.policy,
            run.account,
            planned,
            ladder_life=run.ladder_life,
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            outstanding_minor=0,
            taken_at=now,
        )
        # The claim's own work (bookings, the declaration, the withdrawal) is not collection contact.
        await step_result(start_step(order, set()), order)

    async def _record(self, status: str, at: datetime | None = None, withdraw_by: datetime | None = None) -> str | None:
        """Records how far the claim got; returns the account's status."""
        self._status = status
        return await workflow.execute_activity_method(
            AccountActivities.record_fraud_claim,
            FraudClaimRecorded(
                ref=AccountRef(
                    account_id=self._run.account.account_id,
                    workflow_id=self._run.account_workflow_id,
                    ladder_life=self._run.ladder_life,
                ),
                claim=self._run.claim,
                status=status,
                at=at or self._now(),
                withdraw_by=withdraw_by,
            ),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
        )

    # --- time ----------------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock.business(workflow.now())

    def _start_of(self, day) -> datetime:
        return local_datetime(day, time(0), self._run.account.time_zone)

    async def _wait_until(self, condition, until: datetime | None) -> bool:
        """Waits for `condition` until the business moment `until` (None: for ever); True if it came."""
        timeout = None
        if until is not None:
            seconds = self._clock.real_seconds(max((until - self._now()).total_seconds(), 0))
            timeout = timedelta(milliseconds=math.ceil(seconds * 1000))
        try:
            await workflow.wait_condition(lambda: bool(condition()), timeout=timeout)
        except TimeoutError:
            return False
        return True
