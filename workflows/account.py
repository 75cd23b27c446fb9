"""AccountWorkflow: one delinquent account walking its policy's ladder on durable timers."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.accounts import AccountActivities
    from dunning import commitments, ladder
    from dunning.account import AccountDocument, Clock, PaymentReceived, PaymentReversed
    from dunning.approvals import ApprovalDecision
    from dunning.case import Case, CommitmentChange, VerificationChange
    from dunning.commitments import Commitment, PlanProposed, PromiseMade
    from dunning.contact import CeaseContact
    from dunning.disputes import DisputeOpened, DisputeResolved
    from dunning.fraud import FraudClaimDecided, FraudClaimed, FraudClaimRun, claim_workflow_id
    from dunning.ledger import Ledger
    from dunning.letters import LetterDelivery
    from dunning.money import format_amount, to_major
    from dunning.orders import (
        AccountClosed,
        AccountOpened,
        ApprovalRecorded,
        CollectionResumed,
        CommitmentRecorded,
        ContactDeferred,
        ContactRecorded,
        DisputeRecorded,
        FollowUpsPlanned,
        PaymentRecorded,
        PlacementRecorded,
        ReversalRecorded,
        StepOrder,
        StepResult,
        VerificationRecorded,
        action_key,
        step_order,
    )
    from dunning.outcomes import ContactOutcome, ContactUpdated
    from dunning.placements import AgencyReport, Placement, RecallRequest
    from dunning.state import AccountRun, AccountState, ActionRecord
    from dunning.verification import DebtorEventReported, DocumentsVerified
    from dunning.view import AccountView
    from dunning.visits import VisitReport
    from workflows import search_attributes as sa
    from workflows.fraud_claim import FraudClaimWorkflow
    from workflows.signals import read
    from workflows.steps import STEP_RETRY, STEP_TIMEOUT, start_step, step_result


@workflow.defn
class AccountWorkflow:
    @workflow.init
    def __init__(self, run: AccountRun) -> None:
        self._account = run.account
        self._policy = run.policy
        self._clock = Clock(run.clock)
        self._state = run.state or AccountState(
            ledger=Ledger(principal_minor=run.account.amount_due_minor), opened_at=self._now()
        )
        self._case = Case(
            run.account,
            run.policy,
            self._state,
            treatment_replaces_catch_up=workflow.patched("treatment-replaces-catch-up"),
        )
        self._published: dict[str, object] = {}
        self._plan_answers: dict[str, str] = {}  # plan id -> '' (agreed) or why it was refused

    @workflow.run
    async def run(self, run: AccountRun) -> AccountRun:
        """Returns what a later run needs to pick the account up again (e.g. a payment after it closed)."""
        if run.state is None:
            await self._open()
        while True:
            if self._state.status == "open":
                await self._settle_signals()
            await self._plan_follow_ups()
            if self._state.status != "open":
                await self._record_commitment(self._case.close_commitment(self._now()))
                await self._end_placement(
                    "settled" if self._state.status == "cured" else "recalled",
                    f"the account closed as {self._state.status}",
                )
                await self._close()
                await self._settle_signals()  # money that came while closing, or after: a reversal reopens
                if self._state.status != "open":
                    return run.model_copy(update={"state": self._carry_over()})
                continue
            if self._history_is_long(run):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(run.model_copy(update={"state": self._carry_over()}))
            # Fees accrue as days pass, so the balance ops see is today's, not the one of the last payment.
            self._case.accrue_late_fee(self._now())
            if self._state.paused_since is not None:
                await self._wait_while_paused()
                continue
            if ended := self._case.review_commitment(self._now()):
                await self._record_commitment(ended)
                continue
            if self._case.recall_due(self._now()):
                await self._end_placement("recalled", "the recall date came")
                continue
            step = self._case.next_step()
            if step is not None and step.due_at <= self._now():
                await self._take(step)
                continue
            self._publish(step)
            await self._sleep_until_signal_or(self._case.wake_at(step, self._now()))

    # Signals arrive raw and are read here, so a payload that does not fit is recorded as refused, not dropped.

    @workflow.signal
    def payment_received(self, payment: RawValue) -> None:
        self._receive(payment, PaymentReceived, self._state.pending_payments)

    @workflow.signal
    def payment_reversed(self, reversal: RawValue) -> None:
        self._receive(reversal, PaymentReversed, self._state.pending_reversals)

    @workflow.signal
    def dispute_opened(self, dispute: RawValue) -> None:
        self._receive(dispute, DisputeOpened, self._state.pending_disputes)

    @workflow.signal
    def dispute_resolved(self, resolution: RawValue) -> None:
        self._receive(resolution, DisputeResolved, self._state.pending_disputes)

    @workflow.signal
    def debtor_event_reported(self, report: RawValue) -> None:
        self._receive(report, DebtorEventReported, self._state.pending_verifications)

    @workflow.signal
    def documents_verified(self, verification: RawValue) -> None:
        self._receive(verification, DocumentsVerified, self._state.pending_verifications)

    @workflow.signal
    def cease_contact(self, request: RawValue) -> None:
        self._receive(request, CeaseContact, self._state.pending_ceases)

    @workflow.signal
    def promise_made(self, promise: RawValue) -> None:
        self._receive(promise, PromiseMade, self._state.pending_commitments)

    @workflow.signal
    def contact_outcome(self, outcome: RawValue) -> None:
        self._receive(outcome, ContactOutcome, self._state.pending_contacts)

    @workflow.signal
    def contact_updated(self, update: RawValue) -> None:
        self._receive(update, ContactUpdated, self._state.pending_contacts)

    @workflow.signal
    def letter_delivery(self, delivery: RawValue) -> None:
        self._receive(delivery, LetterDelivery, self._state.pending_contacts)

    @workflow.signal
    def visit_reported(self, report: RawValue) -> None:
        self._receive(report, VisitReport, self._state.pending_contacts)

    @workflow.signal
    def agency_reported(self, report: RawValue) -> None:
        self._receive(report, AgencyReport, self._state.pending_agency)

    @workflow.signal
    def recall_placement(self, request: RawValue) -> None:
        self._receive(request, RecallRequest, self._state.pending_agency)

    @workflow.signal
    def fraud_claimed(self, claim: RawValue) -> None:
        self._receive(claim, FraudClaimed, self._state.pending_claims)

    @workflow.signal
    def fraud_claim_decided(self, decision: RawValue) -> None:
        """Sent by the claim's own workflow when the creditor decides (or the claim lapses)."""
        self._receive(decision, FraudClaimDecided, self._state.pending_claims)

    def _receive(self, raw: RawValue, model: type[BaseModel], pending: list) -> None:
        payload = read(raw, model)
        if isinstance(payload, str):
            self._state.record_rejection(payload)
        else:
            pending.append(payload)

    @workflow.update
    async def agree_plan(self, plan: PlanProposed) -> Commitment:
        """A repayment plan agreed with the debtor: answered once the account has taken it on."""
        self._state.pending_commitments.append(plan)
        await workflow.wait_condition(lambda: plan.plan_id in self._plan_answers)
        refusal = self._plan_answers[plan.plan_id]
        if refusal:
            raise ApplicationError(refusal, type="PlanRefused", non_retryable=True)
        assert self._state.commitment is not None
        return self._state.commitment

    @workflow.update
    async def decide_approval(self, decision: ApprovalDecision) -> str:
        """An approver approves or rejects a step waiting for approval; answered once it is recorded."""
        self._state.pending_approvals.append(decision)
        await workflow.wait_condition(
            lambda: (
                decision.approval_ref in self._state.decided_approvals and decision not in self._state.pending_approvals
            )
        )  # and recorded
        return "approved" if decision.approved else "rejected"

    @decide_approval.validator
    def _check_approval(self, decision: ApprovalDecision) -> None:
        if any(d.approval_ref == decision.approval_ref for d in self._state.pending_approvals):
            raise ValueError(f"approval {decision.approval_ref} is being decided")
        if problem := self._case.approval_problem(decision):
            raise ValueError(problem)

    @agree_plan.validator
    def _check_plan(self, plan: PlanProposed) -> None:
        problem = self._case.plan_refusal(plan, self._now())
        if problem:
            raise ValueError(problem)

    @workflow.signal
    def account_document_received(self, document: AccountDocument) -> None:
        """Billing (re)sent the account: the first send started us; a changed resend is refused, not applied."""
        if document != self._account:
            self._state.record_rejection(
                "account document resent with changes; an open account keeps the document it opened with"
            )

    @workflow.query
    def state(self) -> AccountView:
        return self._case.view(self._now())

    # --- the steps of the process -------------------------------------------------------------------------

    async def _open(self) -> None:
        opened_at = self._state.opened_at
        skip = self._case.open_at(opened_at)
        await self._record(
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
        )

    async def _take(self, planned: ladder.PlannedStep) -> None:
        info = workflow.info()
        key = action_key(self._account.account_id, info.first_execution_run_id, planned.key)
        # Every contact passes the guard first; one it moves waits on its timer (nothing is dropped).
        check = self._case.contact_check(planned, self._now())
        visit = self._case.visit_decision(planned, self._now())
        if visit is not None and visit.wait_until is not None:
            self._case.defer(planned, visit.wait_until)  # a pressure visit waits out the day after a contact
            return
        if check is not None and check.verdict == "deferred":
            self._case.defer(planned, check.at)
            await self._record(
                AccountActivities.record_deferral,
                ContactDeferred(
                    account_id=self._account.account_id,
                    action_key=key,
                    planned=planned,
                    check=check,
                ),
            )
            return
        extra = planned if isinstance(planned, ladder.AgendaStep) else None
        commitment = self._state.commitment
        follow_ups = self._case.follow_up_plan(planned, check, self._now(), key)
        order = step_order(
            self._policy,
            self._account,
            planned,
            ladder_life=info.first_execution_run_id,
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            outstanding_minor=self._state.ledger.outstanding_minor,
            taken_at=self._now(),
            paid_minor=self._state.ledger.paid_minor,
            late_fee_minor=self._state.ledger.late_fee_minor,
            collector_queue=self._state.collector_queue,
            usable_points=self._case.book.usable(),
            tried_last=extra.tried_last if extra else None,
            promise=commitments.promise_facts(commitment, extra.instalment)
            if extra and extra.instalment and commitment
            else None,
            check=check,
            follow_ups=follow_ups,
            validation_period_ends=self._case.validation_period_ends(planned, self._now()),
            visit_reason=visit.reason if visit else "",
            invalid_addresses=[r.point.value for r in self._case.book.invalid() if r.point.kind == "address"],
        )
        # Reactions are placed by what happened, not by the ladder: the stage decides whether they may go out.
        blocked = check.rule if check is not None and check.verdict == "blocked" else ""
        forbidden = blocked or (visit.refusal if visit else "") or ladder.stage_forbids(self._policy, planned)
        running = start_step(order, set(self._state.ceased_channels), forbidden)
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
        result: StepResult = await step_result(running, order)
        done = result.status == "done"
        if done:
            await self._follow_through(planned, order)
        self._case.step_taken(
            planned, check if done else None, self._now(), follow_ups if done else None, result.queue_cases
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
        # What the vendor said of the contact point (opted out, no such number) is news, as a signal's would be.
        if result.cease is not None:
            self._state.pending_ceases.append(result.cease)
        if result.point_outcome is not None:
            self._state.pending_contacts.append(result.point_outcome)

    async def _follow_through(self, planned: ladder.PlannedStep, order: StepOrder) -> None:
        """What a step that went out starts: a placement with its agency, or the wait for an approver."""
        if order.agency and not order.step.requires_approval and workflow.patched("agency-placements"):
            await self._record_placement(
                "placed", self._case.start_placement(order.action_key, order.agency, self._now())
            )
        if request := self._case.request_approval(planned, order.action_key, self._now()):
            await self._record(
                AccountActivities.record_approval,
                ApprovalRecorded(
                    account_id=self._account.account_id,
                    request=request,
                    approvers=self._policy.approvals.approvers if self._policy.approvals else [],
                ),
            )

    async def _plan_follow_ups(self) -> None:
        """Tells the collector queue when the case's follow-up days change (workload pacing)."""
        plan = self._case.refresh_follow_ups(self._now())
        if plan is None:
            return
        rules = self._policy.contact_rules
        await self._record(
            AccountActivities.plan_follow_ups,
            FollowUpsPlanned(
                account_id=self._account.account_id,
                plan=plan,
                now=self._now(),
                rule_set=rules.name if rules else "",
            ),
        )
        self._case.follow_ups_written()

    async def _close(self) -> None:
        self._publish(None)
        await self._record(
            AccountActivities.close_account,
            AccountClosed(
                account_id=self._account.account_id,
                status=self._state.status,
                closed_at=self._state.closed_at or self._now(),
                outstanding_minor=self._state.ledger.outstanding_minor,
            ),
        )

    async def _wait_while_paused(self) -> None:
        """Nothing goes out; wake for news, or when a report's documents are due."""
        expired = self._case.expire_verifications(self._now())
        for change in expired:
            await self._record_verification(change)
        if expired:
            return
        self._publish(None)
        await self._sleep_until_signal_or(self._case.documents_due())

    # --- what billing and people told us: the case decides, the workflow records ---------------------------

    async def _settle_signals(self) -> None:
        """Acts on what the handlers recorded; payments before reversals, so a reversal finds its payment."""
        state, case = self._state, self._case
        while state.pending_ceases:
            request = state.pending_ceases[0]
            if case.apply_cease(request):
                await self._record(AccountActivities.record_cease, self._account.account_id, request)
            state.pending_ceases.pop(0)
        while state.pending_claims:
            await self._settle_claim(state.pending_claims[0])
            state.pending_claims.pop(0)
        while state.pending_approvals:
            decision = state.pending_approvals[0]
            if request := case.apply_approval(decision):
                await self._record(
                    AccountActivities.record_approval,
                    ApprovalRecorded(account_id=self._account.account_id, request=request, decision=decision),
                )
                agency = ladder.agency_for(self._policy, self._account.account_id)
                if decision.approved and request.channel == "agency" and agency:  # the placement begins now
                    await self._record_placement(
                        "placed", case.start_placement(request.action_key, agency, self._now())
                    )
            state.pending_approvals.pop(0)
        while state.pending_disputes:
            event = state.pending_disputes[0]
            verdict, skipped = case.apply_dispute(event, self._now())
            await self._record(
                AccountActivities.record_dispute,
                DisputeRecorded(
                    account_id=self._account.account_id,
                    workflow_id=workflow.info().workflow_id,
                    event=event,
                    verdict=verdict,
                    collector_queue=state.collector_queue,
                    account_status=state.status,
                    ladder_life=workflow.info().first_execution_run_id,
                    skipped=skipped,
                ),
            )
            state.pending_disputes.pop(0)
        while state.pending_verifications:
            if change := case.apply_verification(state.pending_verifications[0], self._now()):
                await self._record_verification(change)
            state.pending_verifications.pop(0)
        while state.pending_contacts:
            event = state.pending_contacts[0]
            if isinstance(event, ContactOutcome):
                contact = case.apply_outcome(event, self._now())
            elif isinstance(event, LetterDelivery):
                contact = case.apply_letter_delivery(event, self._now())
            elif isinstance(event, VisitReport):
                contact = case.apply_visit_report(event, self._now())
            else:
                contact = case.apply_contact_update(event, self._now())
            await self._record(
                AccountActivities.record_contact,
                ContactRecorded(
                    account_id=self._account.account_id,
                    workflow_id=workflow.info().workflow_id,
                    event=event,
                    verdict=contact.verdict,
                    strategy=contact.strategy.value if contact.strategy else None,
                    changed_points=contact.changed_points,
                    removed_point=contact.removed_point,
                    settled_at=self._now(),
                    ladder_life=workflow.info().first_execution_run_id,
                    skipped=contact.skipped,
                ),
            )
            state.pending_contacts.pop(0)
        while state.pending_commitments:
            event = state.pending_commitments[0]
            changes = case.take_commitment(event, self._now())
            if isinstance(event, PlanProposed):
                self._plan_answers[event.plan_id] = changes[-1].reason if changes else ""
            for change in changes:
                await self._record_commitment(change)
            state.pending_commitments.pop(0)
        while state.pending_agency:
            event = state.pending_agency[0]
            if verdict := case.apply_agency_event(event, self._now()):
                if isinstance(event, RecallRequest) and verdict == "recalled":
                    await self._end_placement("recalled", f"{event.reason} ({event.requested_by})")
                elif verdict == "recalled":
                    await self._end_placement("recalled", "returned by the agency", event)
                elif verdict == "recorded":
                    await self._record_placement("report", case.state.placement, report=event)
            state.pending_agency.pop(0)
        while state.pending_payments:
            payment = state.pending_payments[0]
            outcome = case.apply_payment(payment, self._now())
            if outcome.verdict != "duplicate":
                await self._record(
                    AccountActivities.record_payment,
                    PaymentRecorded(
                        account_id=self._account.account_id,
                        workflow_id=workflow.info().workflow_id,
                        outcome=outcome,
                        paid_at=payment.paid_at,
                        currency=self._account.currency,
                        account_status=state.status,
                    ),
                )
            state.pending_payments.pop(0)
        while state.pending_reversals:
            reversal = state.pending_reversals[0]
            outcome, skipped = case.apply_reversal(reversal, self._now())
            await self._record(
                AccountActivities.record_reversal,
                ReversalRecorded(
                    account_id=self._account.account_id,
                    outcome=outcome,
                    reversed_at=reversal.reversed_at,
                    account_status=state.status,
                    ladder_life=workflow.info().first_execution_run_id,
                    workflow_id=workflow.info().workflow_id,
                    skipped=skipped,
                ),
            )
            state.pending_reversals.pop(0)

    async def _settle_claim(self, event: FraudClaimed | FraudClaimDecided) -> None:
        change = self._case.apply_claim(event, self._now())
        if change is None:
            return
        info = workflow.info()
        if change.start:
            # The claim outlives this run (continue-as-new) and tells the account its decision by signal.
            await workflow.start_child_workflow(
                FraudClaimWorkflow.run,
                FraudClaimRun(
                    claim=change.start,
                    account=self._account,
                    policy=self._policy,
                    account_workflow_id=info.workflow_id,
                    ladder_life=info.first_execution_run_id,
                    clock=self._clock.demo,
                ),
                id=claim_workflow_id(self._account.account_id, change.start.claim_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        elif change.skipped:
            await self._record(
                AccountActivities.record_resumption,
                CollectionResumed(
                    account_id=self._account.account_id,
                    workflow_id=info.workflow_id,
                    ladder_life=info.first_execution_run_id,
                    skipped=change.skipped,
                    reason=f"fell due while fraud claim {event.claim_id} was open",
                ),
            )

    async def _record_verification(self, change: VerificationChange) -> None:
        verification = change.verification
        await self._record(
            AccountActivities.record_verification,
            VerificationRecorded(
                account_id=self._account.account_id,
                workflow_id=workflow.info().workflow_id,
                report=verification.report,
                status=change.status,
                review_by=verification.review_by,
                decided_at=change.decided_at,
                account_status=self._state.status,
                ladder_life=workflow.info().first_execution_run_id,
                skipped=change.skipped,
            ),
        )

    async def _record_commitment(self, change: CommitmentChange | None) -> None:
        if change is None:
            return
        commitment, event, broken = change.commitment, change.event, change.status == "broken"
        await self._record(
            AccountActivities.record_commitment,
            CommitmentRecorded(
                account_id=self._account.account_id,
                workflow_id=workflow.info().workflow_id,
                commitment_id=commitment.commitment_id,
                kind=commitment.kind,
                status=change.status,
                reason=change.reason,
                instalments=commitment.instalments,
                paid_minor=commitment.paid_minor,
                taken_by=(event.taken_by if isinstance(event, PromiseMade) else event.agreed_by) if event else "",
                channel=event.channel if isinstance(event, PromiseMade) else "",
                made_at=commitment.made_at,
                decided_at=None if change.status == "open" else self._now(),
                broken_promises=self._state.broken_promises,
                negative_record=broken,
                failed_debit_fee=broken,
                ladder_life=workflow.info().first_execution_run_id,
                skipped=change.skipped,
            ),
        )

    async def _record_placement(
        self, event: str, placement: Placement | None, reason: str = "", report: AgencyReport | None = None
    ) -> None:
        if placement is None:
            return
        agency = next((a for a in self._policy.agencies if a.id == placement.agency_id), None)
        await self._record(
            AccountActivities.record_placement,
            PlacementRecorded(
                account=self._account,
                placement=placement,
                event=event,
                report=report,
                reason=reason,
                contact_points=self._case.book.usable(),
                file_columns=agency.file_columns if agency else [],
                at=self._now(),
            ),
        )

    async def _end_placement(self, event: str, reason: str, report: AgencyReport | None = None) -> None:
        await self._record_placement(event, self._case.end_placement(), reason, report)

    async def _record(self, activity, *args) -> None:
        """Runs one of the account's record-keeping activities, retrying through outages."""
        await workflow.execute_activity_method(
            activity, args=list(args), start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY
        )

    # --- time ----------------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock.business(workflow.now())

    async def _sleep_until_signal_or(self, wake_at: datetime | None) -> None:
        """Sleeps on a durable timer until `wake_at` (business time), or until a signal needs handling."""
        timeout = None
        if wake_at is not None:
            business_seconds = (wake_at - self._now()).total_seconds()
            # Round up to the millisecond so a demo-clock timer never fires a hair before its business moment.
            timeout = timedelta(milliseconds=math.ceil(self._clock.real_seconds(business_seconds) * 1000))
        try:
            await workflow.wait_condition(self._has_news, timeout=timeout)
        except TimeoutError:
            pass

    def _has_news(self) -> bool:
        state = self._state
        return bool(
            state.pending_payments
            or state.pending_reversals
            or state.pending_ceases
            or state.pending_disputes
            or state.pending_verifications
            or state.pending_contacts
            or state.pending_commitments
            or state.pending_claims
            or state.pending_approvals
            or state.pending_agency
        )

    def _history_is_long(self, run: AccountRun) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested() or info.get_current_history_length() >= run.continue_as_new_after_events
        )

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
        owes = format_amount(outstanding, self._account.currency)
        workflow.set_current_details(f"{self._state.status} · stage {stage} · dpd {dpd} · owes {owes} · {next_part}")
