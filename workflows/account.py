"""AccountWorkflow: one delinquent account walking its policy's ladder on durable timers."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.accounts import AccountActivities
    from activities.channels import ChannelActivities
    from dunning import ladder
    from dunning.account import AccountDocument, Clock, PaymentReceived, PaymentReversed
    from dunning.contact import CeaseContact, blocked_by_cease
    from dunning.disputes import (
        DisputeOpened, DisputeResolved, first_collector_queue, pauses_collection, reassigned_queue,
        resolution_problem,
    )
    from dunning.ledger import Ledger, reopens
    from dunning.money import format_amount, to_major
    from dunning.orders import (
        AccountClosed, AccountOpened, DisputeRecorded, PaymentRecorded, ReversalRecorded, StepResult,
        VerificationRecorded, step_order,
    )
    from dunning.policy import Channel
    from dunning.verification import (
        DebtorEventReported, DocumentsVerified, Verification, closing_status, open_verification,
    )
    from dunning.state import AccountRun, AccountState, AccountView, ActionRecord
    from workflows import search_attributes as sa

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


@workflow.defn
class AccountWorkflow:
    @workflow.init
    def __init__(self, run: AccountRun) -> None:
        self._account = run.account
        self._policy = run.policy
        self._clock = Clock(run.clock)
        self._plan = ladder.plan(run.policy, run.account)
        self._state = run.state or AccountState(
            ledger=Ledger(principal_minor=run.account.amount_due_minor), opened_at=self._now()
        )
        # States carried from before collector queues existed get one now.
        self._state.collector_queue = self._state.collector_queue or first_collector_queue(
            run.policy, run.account.account_id
        )
        self._published: dict[str, object] = {}

    @workflow.run
    async def run(self, run: AccountRun) -> AccountRun:
        """Returns what a later run needs to pick the account up again (e.g. a payment after it closed)."""
        if run.state is None:
            await self._open()
        while True:
            if self._state.status == "open":
                await self._settle_signals()
            if self._state.status != "open":
                await self._close()
                await self._settle_signals()  # money that came while closing, or after: a reversal reopens
                if self._state.status != "open":
                    return run.model_copy(update={"state": self._carry_over()})
                continue
            if self._history_is_long(run):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(run.model_copy(update={"state": self._carry_over()}))
            # Fees accrue as days pass, so the balance ops see is today's, not the one of the last payment.
            self._state.ledger.accrue_late_fee(self._policy, ladder.dpd_at(self._account, self._now()))
            if self._state.paused_since is not None:
                await self._wait_while_paused()
                continue
            step = ladder.next_step(self._plan, set(self._state.done_steps))
            if step is not None and step.due_at <= self._now():
                await self._take(step)
                continue
            self._publish(step)
            await self._sleep_until_signal_or(self._wake_at(step))

    @workflow.signal
    def payment_received(self, payment: PaymentReceived) -> None:
        self._state.pending_payments.append(payment)

    @workflow.signal
    def payment_reversed(self, reversal: PaymentReversed) -> None:
        self._state.pending_reversals.append(reversal)

    @workflow.signal
    def dispute_opened(self, dispute: DisputeOpened) -> None:
        self._state.pending_disputes.append(dispute)

    @workflow.signal
    def dispute_resolved(self, resolution: DisputeResolved) -> None:
        self._state.pending_disputes.append(resolution)

    @workflow.signal
    def debtor_event_reported(self, report: DebtorEventReported) -> None:
        self._state.pending_verifications.append(report)

    @workflow.signal
    def documents_verified(self, verification: DocumentsVerified) -> None:
        self._state.pending_verifications.append(verification)

    @workflow.signal
    def cease_contact(self, request: CeaseContact) -> None:
        self._state.pending_ceases.append(request)

    @workflow.signal
    def account_document_received(self, document: AccountDocument) -> None:
        """Billing (re)sent the account: the first send started us; a changed resend is refused, not applied."""
        if document != self._account:
            self._state.record_rejection(
                "account document resent with changes; an open account keeps the document it opened with"
            )

    @workflow.query
    def state(self) -> AccountView:
        now = self._now()
        dpd = ladder.dpd_at(self._account, now)
        collecting = self._state.status == "open" and self._state.paused_since is None
        step = ladder.next_step(self._plan, set(self._state.done_steps)) if collecting else None
        ledger = self._state.ledger
        return AccountView(
            account_id=self._account.account_id,
            status=self._state.status,
            policy=self._policy.ref,
            stage=ladder.stage_id(self._policy, dpd),
            dpd=dpd,
            currency=self._account.currency,
            outstanding_minor=ledger.outstanding_minor,
            outstanding=format_amount(ledger.outstanding_minor, self._account.currency),
            late_fee_minor=ledger.late_fee_minor,
            paid_minor=ledger.paid_minor,
            overpaid_minor=ledger.overpaid_minor,
            next_action=step.key if step else None,
            next_action_at=step.due_at if step else None,
            actions_taken=self._state.actions_taken,
            recent_actions=self._state.recent_actions,
            rejected_signals=self._state.rejected_signals,
            ceased_channels=self._state.ceased_channels,
            collector_queue=self._state.collector_queue,
            open_disputes=self._state.open_disputes,
            verifications=self._state.verifications,
            runs=self._state.runs,
        )

    # --- the steps of the process -------------------------------------------------------------------------

    async def _open(self) -> None:
        opened_at = self._state.opened_at
        # Missed steps worth taking stay pending: the main loop takes them at once, after any signal that came
        # with the account (a dispute or a cease request must not be overtaken by a catch-up letter).
        _, skip = ladder.triage_missed(self._policy, self._account, self._plan, opened_at)
        self._state.done_steps += [p.key for p in skip]
        await workflow.execute_activity_method(
            AccountActivities.open_account,
            AccountOpened(
                account=self._account,
                workflow_id=workflow.info().workflow_id,
                policy_ref=self._policy.ref,
                policy_digest=self._policy.digest,
                opened_at=opened_at,
                ladder_life=workflow.info().first_execution_run_id,
                collector_queue=self._state.collector_queue,
                skipped=skip,
            ),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
        )

    async def _take(self, planned: ladder.PlannedStep) -> None:
        info = workflow.info()
        order = step_order(
            self._policy, self._account, planned,
            ladder_life=info.first_execution_run_id, workflow_id=info.workflow_id, run_id=info.run_id,
            outstanding_minor=self._state.ledger.outstanding_minor, taken_at=self._now(),
            collector_queue=self._state.collector_queue,
        )
        if blocked_by_cease(order.step, set(self._state.ceased_channels)):
            activity, arguments = ChannelActivities.skip_step, [order, "the debtor asked us to stop this contact"]
        else:
            activity, arguments = STEP_ACTIVITIES[order.step.channel], [order]
        running = workflow.start_activity_method(
            activity, args=arguments, start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY
        )
        # A step retrying through an outage must not hold up news that may forbid it (a STOP, a dispute, the
        # money): give way, settle the news, and take or skip the step afresh. Steps are idempotent, so a retake
        # finds whatever the withdrawn attempt managed to do.
        await workflow.wait_condition(lambda: running.done() or self._has_news())
        if not running.done():
            running.cancel()
            try:
                await running
            except (asyncio.CancelledError, ActivityError):
                pass
            return
        try:
            result: StepResult = await running
        except ActivityError as err:
            detail = str(err.cause or err)
            result = await workflow.execute_activity_method(
                ChannelActivities.record_failure, args=[order, detail], start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=STEP_RETRY,
            )
        self._state.record_action(
            ActionRecord(
                key=planned.key,
                step_id=planned.step_id,
                channel=planned.channel,
                dpd=planned.dpd,
                stage=planned.stage,
                at=order.taken_at,
                status=result.status,
                detail=result.detail,
            )
        )

    # --- what billing and people told us ------------------------------------------------------------------

    async def _settle_signals(self) -> None:
        """Acts on what the handlers recorded; payments before reversals, so a reversal finds its payment."""
        await self._settle_cease_requests()
        await self._settle_disputes()
        await self._settle_verifications()
        await self._settle_payments()
        await self._settle_reversals()

    async def _settle_cease_requests(self) -> None:
        while self._state.pending_ceases:
            request = self._state.pending_ceases[0]
            if not request.ceased():
                self._state.record_rejection(f"cease request {request.request_id} names no channel that reaches "
                                             "the debtor")
                self._state.pending_ceases.pop(0)
                continue
            await workflow.execute_activity_method(
                AccountActivities.record_cease, args=[self._account.account_id, request],
                start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY,
            )
            ceased = set(self._state.ceased_channels) | request.ceased()
            self._state.ceased_channels = sorted(ceased, key=lambda channel: channel.value)
            self._state.pending_ceases.pop(0)

    async def _settle_payments(self) -> None:
        while self._state.pending_payments:
            payment = self._state.pending_payments[0]
            ledger = self._state.ledger
            if self._state.status == "open":
                # Fees stop on the day the money was paid, even if billing reports it later.
                paid_dpd = ladder.dpd_at(self._account, min(payment.paid_at, self._now()))
                ledger.accrue_late_fee(self._policy, paid_dpd)
            outcome = ledger.apply(payment, self._account.currency)
            if outcome.verdict == "rejected":
                self._state.record_rejection(f"payment {payment.payment_id}: {outcome.reason}")
            if outcome.verdict == "applied" and self._state.status == "open" and ledger.outstanding_minor == 0:
                self._close_as("cured")
            if outcome.verdict != "duplicate":
                await workflow.execute_activity_method(
                    AccountActivities.record_payment,
                    PaymentRecorded(
                        account_id=self._account.account_id,
                        workflow_id=workflow.info().workflow_id,
                        outcome=outcome,
                        paid_at=payment.paid_at,
                        currency=self._account.currency,
                        account_status=self._state.status,
                    ),
                    start_to_close_timeout=STEP_TIMEOUT,
                    retry_policy=STEP_RETRY,
                )
            self._state.pending_payments.pop(0)

    async def _settle_disputes(self) -> None:
        while self._state.pending_disputes:
            event = self._state.pending_disputes[0]
            verdict, skipped = self._apply_dispute(event)
            await workflow.execute_activity_method(
                AccountActivities.record_dispute,
                DisputeRecorded(account_id=self._account.account_id, workflow_id=workflow.info().workflow_id,
                                event=event, verdict=verdict, collector_queue=self._state.collector_queue,
                                account_status=self._state.status,
                                ladder_life=workflow.info().first_execution_run_id, skipped=skipped),
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=STEP_RETRY,
            )
            self._state.pending_disputes.pop(0)

    def _apply_dispute(self, event: DisputeOpened | DisputeResolved) -> tuple[str, list[ladder.PlannedStep]]:
        """Returns the verdict, and the steps skipped if collection resumes. Resends change nothing; a
        resolution that overtakes its dispute waits for it."""
        state = self._state
        if event.dispute_id in state.decided_disputes:
            return "duplicate", []
        known = {d.dispute_id: d for d in state.open_disputes}
        if isinstance(event, DisputeOpened):
            if event.dispute_id in known:
                return "duplicate", []
            state.open_disputes.append(event)
            if event.subject == "collector":
                queue = reassigned_queue(self._policy, state.collector_queue)
                if queue is None:
                    state.record_rejection(f"complaint {event.dispute_id}: the policy has no other collector queue")
                else:
                    state.collector_queue = queue
            if pauses_collection(event):
                self._pause()
            early = next((r for r in state.early_resolutions if r.dispute_id == event.dispute_id), None)
            if early is not None:  # settled (and recorded) right after this dispute
                state.early_resolutions.remove(early)
                state.pending_disputes.insert(1, early)
            return "applied", []
        opened = known.get(event.dispute_id)
        if opened is None:
            state.early_resolutions.append(event)
            return "held: its dispute has not arrived yet", []
        problem = resolution_problem(opened, event)
        if problem:
            state.record_rejection(f"dispute {event.dispute_id}: {problem}")
            return f"rejected: {problem}", []
        state.open_disputes.remove(opened)
        state.decided_disputes.append(event.dispute_id)
        if event.outcome == "debt_cancelled":
            self._close_as("cancelled")
        return "applied", self._resume_if_nothing_pauses()

    def _close_as(self, status: str) -> None:
        self._state.status = status
        self._state.closed_at = self._now()
        self._state.paused_since = None

    def _pauses_collection(self) -> bool:
        state = self._state
        return bool(state.verifications) or any(pauses_collection(d) for d in state.open_disputes)

    def _pause(self) -> None:
        if self._state.paused_since is None:
            self._state.paused_since = self._now()

    def _resume_if_nothing_pauses(self) -> list[ladder.PlannedStep]:
        if self._state.paused_since is None or self._pauses_collection() or self._state.status != "open":
            return []
        self._state.paused_since = None
        return self._skip_missed_steps()

    async def _settle_verifications(self) -> None:
        while self._state.pending_verifications:
            event = self._state.pending_verifications[0]
            state = self._state
            open_by_id = {v.report.report_id: v for v in state.verifications + state.expired_verifications}
            if event.report_id in state.decided_reports:
                pass  # a resend of something already decided
            elif isinstance(event, DebtorEventReported):
                if event.report_id not in open_by_id:
                    verification = open_verification(self._policy, event, self._now())
                    state.verifications.append(verification)
                    self._pause()
                    await self._record_verification(verification, "awaiting_documents", None, [])
            elif (verification := open_by_id.get(event.report_id)) is None:
                state.record_rejection(f"documents for report {event.report_id}, but no such report was made")
            else:
                # Documents that come after the deadline still count: a confirmed death closes the account.
                for pending in (state.verifications, state.expired_verifications):
                    if verification in pending:
                        pending.remove(verification)
                state.decided_reports.append(event.report_id)
                if event.confirmed:
                    self._close_as(closing_status(verification.report.event))
                status = "confirmed" if event.confirmed else "not_confirmed"
                await self._record_verification(verification, status, event.verified_at,
                                                self._resume_if_nothing_pauses())
            self._state.pending_verifications.pop(0)

    async def _wait_while_paused(self) -> None:
        """Nothing goes out; wake for news, or when a report's documents are due."""
        if await self._expire_verifications():
            return
        self._publish(None)
        deadlines = [v.review_by for v in self._state.verifications if v.review_by]
        await self._sleep_until_signal_or(min(deadlines, default=None))

    async def _expire_verifications(self) -> bool:
        """Reports whose documents did not come by their deadline stop pausing collection."""
        expired = [v for v in self._state.verifications if v.review_by and v.review_by <= self._now()]
        for verification in expired:
            self._state.verifications.remove(verification)
            self._state.expired_verifications.append(verification)
            await self._record_verification(verification, "expired", self._now(), self._resume_if_nothing_pauses())
        return bool(expired)

    async def _record_verification(self, verification: Verification, status: str, decided_at: datetime | None,
                                   skipped: list[ladder.PlannedStep]) -> None:
        await workflow.execute_activity_method(
            AccountActivities.record_verification,
            VerificationRecorded(
                account_id=self._account.account_id, workflow_id=workflow.info().workflow_id,
                report=verification.report, status=status, review_by=verification.review_by, decided_at=decided_at,
                account_status=self._state.status, ladder_life=workflow.info().first_execution_run_id,
                skipped=skipped,
            ),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
        )

    async def _settle_reversals(self) -> None:
        while self._state.pending_reversals:
            reversal = self._state.pending_reversals[0]
            outcome = self._state.ledger.reverse(reversal)
            skipped: list[ladder.PlannedStep] = []
            if outcome.verdict == "rejected":
                self._state.record_rejection(f"reversal of payment {reversal.payment_id}: {outcome.reason}")
            if reopens(self._state.status, outcome, self._state.ledger):
                skipped = self._reopen()
            await workflow.execute_activity_method(
                AccountActivities.record_reversal,
                ReversalRecorded(
                    account_id=self._account.account_id, outcome=outcome, reversed_at=reversal.reversed_at,
                    account_status=self._state.status, ladder_life=workflow.info().first_execution_run_id,
                    workflow_id=workflow.info().workflow_id, skipped=skipped,
                ),
                start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=STEP_RETRY,
            )
            self._state.pending_reversals.pop(0)

    def _reopen(self) -> list[ladder.PlannedStep]:
        """Money taken back from a closed account: the ladder resumes where the dpd now is, like a late arrival
        (steps that fell due while it was closed are skipped, but the latest of each channel)."""
        self._state.status = "open"
        self._state.closed_at = None
        # Money we still hold from after the cure goes against what is owed again.
        self._state.ledger.use_overpayment()
        return self._skip_missed_steps()

    def _skip_missed_steps(self) -> list[ladder.PlannedStep]:
        """After a pause, the ladder resumes where the dpd now is: of the steps that fell due meanwhile only the
        latest of each channel is still taken."""
        pending = [p for p in self._plan if p.key not in set(self._state.done_steps)]
        _, skip = ladder.triage_missed(self._policy, self._account, pending, self._now())
        self._state.done_steps += [p.key for p in skip]
        return skip

    async def _close(self) -> None:
        self._publish(None)
        await workflow.execute_activity_method(
            AccountActivities.close_account,
            AccountClosed(
                account_id=self._account.account_id,
                status=self._state.status,
                closed_at=self._state.closed_at or self._now(),
                outstanding_minor=self._state.ledger.outstanding_minor,
            ),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
        )

    # --- time ----------------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock.business(workflow.now())

    def _wake_at(self, step: ladder.PlannedStep | None) -> datetime | None:
        moments = [step.due_at] if step else []
        stage_change = ladder.next_stage_change(self._policy, self._account, self._now())
        if stage_change:
            moments.append(stage_change)
        return min(moments) if moments else None

    async def _sleep_until_signal_or(self, wake_at: datetime | None) -> None:
        """Sleeps on a durable timer until `wake_at` (business time), or until a signal needs handling."""
        timeout = None
        if wake_at is not None:
            business_seconds = (wake_at - self._now()).total_seconds()
            # Round up to the millisecond so a demo-clock timer never fires a hair before its business moment.
            timeout = timedelta(milliseconds=math.ceil(self._clock.real_seconds(business_seconds) * 1000))
        try:
            await workflow.wait_condition(self._has_news, timeout=timeout)
        except asyncio.TimeoutError:
            pass

    def _has_news(self) -> bool:
        state = self._state
        return bool(state.pending_payments or state.pending_reversals or state.pending_ceases
                    or state.pending_disputes or state.pending_verifications)

    def _history_is_long(self, run: AccountRun) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= run.continue_as_new_after_events

    def _carry_over(self) -> AccountState:
        return self._state.model_copy(update={"runs": self._state.runs + 1})

    # --- what ops see --------------------------------------------------------------------------------------

    def _publish(self, step: ladder.PlannedStep | None) -> None:
        """Keeps search attributes and the UI's one-line summary current, writing only what changed."""
        now = self._now()
        dpd = ladder.dpd_at(self._account, now)
        stage = ladder.stage_id(self._policy, dpd)
        outstanding = self._state.ledger.outstanding_minor
        values = {
            sa.ACCOUNT_STATUS: "on_hold" if self._state.paused_since is not None else self._state.status,
            sa.STAGE: stage,
            sa.DPD: dpd,
            # Rounded up, so `Outstanding > 5000` finds an account owing 5,000.01.
            sa.OUTSTANDING: math.ceil(to_major(outstanding, self._account.currency)),
            sa.CURRENCY: self._account.currency,
            sa.POLICY: self._policy.name,
            sa.POLICY_VERSION: self._policy.version,
            sa.SEGMENT: self._account.segment,
            sa.NEXT_ACTION: step.key if step else None,
            sa.NEXT_ACTION_AT: step.due_at if step else None,
            sa.DUE_DATE: datetime.combine(self._account.due_date, datetime.min.time(), tzinfo=now.tzinfo),
        }
        changed = [
            key.value_set(value) if value is not None else key.value_unset()
            for key, value in values.items()
            if self._published.get(key.name, "unset") != value
        ]
        if changed:
            workflow.upsert_search_attributes(changed)
            self._published.update({key.name: value for key, value in values.items()})
        next_part = f"next {step.key} at {step.due_at:%Y-%m-%d %H:%M %Z}" if step else "no further steps"
        workflow.set_current_details(
            f"{self._state.status} · stage {stage} · dpd {dpd} · owes {format_amount(outstanding, self._account.currency)}"
            f" · {next_part}"
        )
