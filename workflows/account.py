"""AccountWorkflow: one delinquent account walking its policy's ladder on durable timers."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.accounts import AccountActivities
    from dunning import commitments, ladder
    from dunning.account import AccountDocument, Clock, PaymentReceived, PaymentReversed, problems
    from dunning.commitments import Commitment, PlanProposed, PromiseMade
    from dunning.contact import CeaseContact
    from dunning.disputes import (
        DisputeOpened, DisputeResolved, first_collector_queue, pauses_collection, reassigned_queue,
        resolution_problem,
    )
    from dunning.fraud import FraudClaimDecided, FraudClaimed, FraudClaimRun, claim_problem, claim_workflow_id
    from dunning.ledger import Ledger, reopens
    from dunning.money import format_amount, to_major
    from dunning.orders import (
        AccountClosed, AccountOpened, CollectionResumed, CommitmentRecorded, ContactRecorded, DisputeRecorded,
        PaymentRecorded, ReversalRecorded, StepResult, VerificationRecorded, step_order,
    )
    from dunning.outcomes import (
        DEBTOR_EVENT_OF, STRATEGY_OF, ContactBook, ContactOutcome, ContactUpdated, outcome_problem, reactions,
    )
    from dunning.policy import Strategy
    from dunning.verification import (
        DebtorEventReported, DocumentsVerified, Verification, closing_status, open_verification,
    )
    from dunning.state import AccountRun, AccountState, AccountView, ActionRecord
    from workflows import search_attributes as sa
    from workflows.fraud_claim import FraudClaimWorkflow
    from workflows.steps import STEP_RETRY, STEP_TIMEOUT, start_step, step_result


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
        self._state.contact_book = self._state.contact_book or ContactBook.of(run.account)
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
            if self._state.status != "open":
                await self._close_commitment()
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
            if await self._review_commitment():
                continue
            step = self._next_step()
            if step is not None and step.due_at <= self._now():
                await self._take(step)
                continue
            self._publish(step)
            await self._sleep_until_signal_or(self._wake_at(step))

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
    def fraud_claimed(self, claim: RawValue) -> None:
        self._receive(claim, FraudClaimed, self._state.pending_claims)

    @workflow.signal
    def fraud_claim_decided(self, decision: RawValue) -> None:
        """Sent by the claim's own workflow when the creditor decides (or the claim lapses)."""
        self._receive(decision, FraudClaimDecided, self._state.pending_claims)

    def _receive(self, raw: RawValue, model: type[BaseModel], pending: list) -> None:
        try:
            pending.append(workflow.payload_converter().from_payload(raw.payload, model))
        except (ValueError, TypeError) as err:  # a ValidationError, or a payload in another encoding
            reason = problems(err) if isinstance(err, ValidationError) else f"not a {model.__name__} in JSON"
            self._state.record_rejection(f"{model.__name__} refused, it could not be read: {reason}")

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

    @agree_plan.validator
    def _check_plan(self, plan: PlanProposed) -> None:
        problem = self._plan_refusal(plan)
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
        now = self._now()
        dpd = ladder.dpd_at(self._account, now)
        collecting = self._state.status == "open" and self._state.paused_since is None
        step = self._next_step() if collecting else None
        book = self._contact_book
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
            waiting_for_their_event=[f"resolution of dispute {r.dispute_id}" for r in self._state.early_resolutions]
            + [f"documents for report {d.report_id}" for d in self._state.early_documents],
            ceased_channels=self._state.ceased_channels,
            collector_queue=self._state.collector_queue,
            open_disputes=self._state.open_disputes,
            verifications=self._state.verifications,
            commitment=self._state.commitment,
            broken_promises=self._state.broken_promises,
            upcoming=sorted(self._state.agenda, key=lambda p: p.due_at),
            invalid_points=book.invalid(),
            lost_contact=self._state.lost_contact_since is not None,
            fraud_claims=self._state.fraud_claims,
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
        extra = planned if isinstance(planned, ladder.AgendaStep) else None
        commitment = self._state.commitment
        order = step_order(
            self._policy, self._account, planned,
            ladder_life=info.first_execution_run_id, workflow_id=info.workflow_id, run_id=info.run_id,
            outstanding_minor=self._state.ledger.outstanding_minor, taken_at=self._now(),
            collector_queue=self._state.collector_queue, usable_points=self._contact_book.usable(),
            tried_last=extra.tried_last if extra else None,
            promise=commitments.promise_facts(commitment, extra.instalment)
            if extra and extra.instalment and commitment else None,
        )
        # Reactions are placed by what happened, not by the ladder: the stage decides whether they may go out.
        running = start_step(order, set(self._state.ceased_channels), ladder.stage_forbids(self._policy, planned))
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
        if extra:
            self._state.agenda.remove(extra)
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
        await self._settle_fraud_claims()
        await self._settle_disputes()
        await self._settle_verifications()
        await self._settle_contacts()
        await self._settle_commitments()
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

    async def _settle_contacts(self) -> None:
        """Outcomes change what happens next (the strategies of the outcome tree) and wear out contact points;
        updates add or correct points. Resends change nothing."""
        while self._state.pending_contacts:
            event = self._state.pending_contacts[0]
            if isinstance(event, ContactOutcome):
                recorded = self._apply_outcome(event)
            else:
                recorded = self._apply_contact_update(event)
            await workflow.execute_activity_method(
                AccountActivities.record_contact, recorded, start_to_close_timeout=STEP_TIMEOUT,
                retry_policy=STEP_RETRY,
            )
            self._state.pending_contacts.pop(0)

    def _apply_outcome(self, outcome: ContactOutcome) -> ContactRecorded:
        state, book = self._state, self._contact_book
        event_id = outcome.outcome_id
        verdict, strategy, changed = "applied", STRATEGY_OF[outcome.code], []
        if event_id in state.outcome_ids:
            verdict, strategy = "duplicate", None
        elif problem := outcome_problem(book, outcome):
            state.record_rejection(f"outcome {event_id}: {problem}")
            verdict, strategy = f"rejected: {problem}", None
        else:
            state.outcome_ids.append(event_id)
            if outcome.contact_point and book.record_failure(self._policy, outcome.contact_point, outcome.code,
                                                             self._now()):
                changed.append(book.find(outcome.contact_point))
            if outcome.code in DEBTOR_EVENT_OF:
                state.pending_verifications.append(DebtorEventReported(
                    report_id=event_id, event=DEBTOR_EVENT_OF[outcome.code], reported_at=outcome.occurred_at,
                    details=outcome.note or f"{outcome.code} reported by the {outcome.source}",
                ))
            elif strategy is not None and state.commitment is None:
                # A new answer replaces the reactions to the last one; a promise being kept needs none.
                state.agenda = [p for p in state.agenda if p.instalment is not None]
                tried = outcome.contact_point if outcome.code in ("no_answer", "busy") else None
                state.agenda += reactions(self._policy, self._account, strategy, self._now(),
                                          f"outcome {event_id}", tried)
            if book.debtor_phones_lost() and state.lost_contact_since is None:
                state.lost_contact_since = self._now()
                strategy = Strategy.lost_contact
                state.agenda += reactions(self._policy, self._account, strategy, self._now(), f"lost {event_id}")
        return ContactRecorded(account_id=self._account.account_id, workflow_id=workflow.info().workflow_id,
                               event=outcome, verdict=verdict, strategy=strategy.value if strategy else None,
                               changed_points=changed)

    def _apply_contact_update(self, update: ContactUpdated) -> ContactRecorded:
        state, book = self._state, self._contact_book
        verdict = "duplicate" if update.update_id in state.outcome_ids else book.update(update)
        if verdict.startswith("rejected"):
            state.record_rejection(f"contact update {update.update_id}: {verdict.removeprefix('rejected: ')}")
        elif verdict != "duplicate":
            state.outcome_ids.append(update.update_id)
            if not book.debtor_phones_lost():
                state.lost_contact_since = None
        changed = [book.find(update.point.value)] if verdict in ("added", "corrected", "revalidated") else []
        return ContactRecorded(account_id=self._account.account_id, workflow_id=workflow.info().workflow_id,
                               event=update, verdict=verdict, changed_points=changed,
                               removed_point=update.replaces if verdict == "corrected" else None)

    async def _settle_commitments(self) -> None:
        """Promises and plans: a valid one holds the ladder back until it is kept or broken; a new promise
        replaces an open promise, a plan replaces either."""
        while self._state.pending_commitments:
            event = self._state.pending_commitments[0]
            state = self._state
            if isinstance(event, PlanProposed):
                problem = self._plan_refusal(event)
                commitment = commitments.plan_commitment(event, self._now())
                self._plan_answers[event.plan_id] = problem
            else:
                problem = self._promise_refusal(event)
                commitment = commitments.promise_commitment(event, self._now())
            if problem.startswith("duplicate"):
                pass
            elif problem:
                state.record_rejection(f"{commitment.kind} {commitment.commitment_id}: {problem}")
                state.commitment_ids.append(commitment.commitment_id)
                await self._record_commitment(commitment, event, "rejected", reason=problem)
            else:
                if state.commitment is not None:
                    await self._end_commitment("replaced")
                state.commitment = commitment
                state.agenda = [p for p in state.agenda if p.instalment is None]
                state.agenda += commitments.timeline(self._policy, self._account, commitment)
                await self._record_commitment(commitment, event, "open")
            state.pending_commitments.pop(0)

    def _promise_refusal(self, promise: PromiseMade) -> str:
        state = self._state
        if promise.promise_id in state.commitment_ids or (
                state.commitment and state.commitment.commitment_id == promise.promise_id):
            return "duplicate"
        if state.commitment is not None and state.commitment.kind == "plan":
            return f"plan {state.commitment.commitment_id} is running; its instalments are the promise"
        return commitments.promise_problem(self._policy, self._account, promise, state.ledger.outstanding_minor,
                                           self._now())

    def _plan_refusal(self, plan: PlanProposed) -> str:
        state = self._state
        if plan.plan_id in state.commitment_ids or (state.commitment and state.commitment.commitment_id == plan.plan_id):
            return f"plan {plan.plan_id} was already taken or refused"
        if state.status != "open":
            return f"the account is {state.status}"
        if state.paused_since is not None:
            return "collection is on hold (a dispute, a death or bankruptcy report, or a fraud claim)"
        return commitments.plan_problem(self._policy, self._account, plan, state.ledger.outstanding_minor,
                                        self._now())

    async def _review_commitment(self) -> bool:
        """Ends the open promise or plan once it is kept, or its grace ran out; True if it ended."""
        commitment = self._state.commitment
        if commitment is None:
            return False
        verdict = commitments.review(self._policy, self._account, commitment, self._now())
        if verdict == "open":
            return False
        await self._end_commitment(verdict)
        return True

    async def _close_commitment(self) -> None:
        """The account closed with a promise or plan open: kept if the money covered it."""
        commitment = self._state.commitment
        if commitment is not None:
            kept = commitments.review(self._policy, self._account, commitment, self._now()) == "kept"
            await self._end_commitment("kept" if kept else "closed")

    async def _end_commitment(self, verdict: str) -> None:
        """Closes the open commitment as `verdict`. Broken (or kept only in part), it counts against the debtor
        and the broken-promise treatment (strategy 2) starts; either way the ladder resumes at today's dpd."""
        state, commitment = self._state, self._state.commitment
        if commitment is None:
            return
        state.commitment = None
        state.commitment_ids.append(commitment.commitment_id)
        state.agenda = [p for p in state.agenda if p.instalment is None]
        skipped = self._skip_missed_steps() if state.status == "open" and verdict != "replaced" else []
        if verdict == "broken":
            state.broken_promises += 1
        if verdict in ("broken", "kept_in_part") and state.status == "open":
            state.agenda += reactions(self._policy, self._account, Strategy.broken_promise, self._now(),
                                      f"{commitment.kind} {commitment.commitment_id}")
        await self._record_commitment(commitment, None, verdict, skipped=skipped)

    async def _record_commitment(self, commitment: Commitment, event: PromiseMade | PlanProposed | None,
                                 status: str, reason: str = "", skipped: list[ladder.PlannedStep] = ()) -> None:
        broken = status == "broken"
        await workflow.execute_activity_method(
            AccountActivities.record_commitment,
            CommitmentRecorded(
                account_id=self._account.account_id, workflow_id=workflow.info().workflow_id,
                commitment_id=commitment.commitment_id, kind=commitment.kind, status=status, reason=reason,
                instalments=commitment.instalments, paid_minor=commitment.paid_minor,
                taken_by=(event.taken_by if isinstance(event, PromiseMade) else event.agreed_by) if event else "",
                channel=event.channel if isinstance(event, PromiseMade) else "",
                made_at=commitment.made_at, decided_at=None if status == "open" else self._now(),
                broken_promises=self._state.broken_promises, negative_record=broken, failed_debit_fee=broken,
                ladder_life=workflow.info().first_execution_run_id, skipped=list(skipped),
            ),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
        )

    async def _settle_fraud_claims(self) -> None:
        """A claim stops contact at once and runs as its own workflow; its decision withdraws the account or
        resumes collection."""
        while self._state.pending_claims:
            event = self._state.pending_claims[0]
            state = self._state
            open_claims = {c.claim_id: c for c in state.fraud_claims}
            if event.claim_id in state.decided_claims:
                pass  # a resend
            elif isinstance(event, FraudClaimed):
                if event.claim_id in open_claims:
                    pass
                elif problem := claim_problem(self._policy):
                    state.record_rejection(f"fraud claim {event.claim_id}: {problem}")
                    state.decided_claims.append(event.claim_id)
                else:
                    state.fraud_claims.append(event)
                    self._pause()
                    await self._start_claim(event)
            elif event.claim_id not in open_claims:
                state.record_rejection(f"decision for fraud claim {event.claim_id}, but no such claim is open")
            else:
                state.fraud_claims.remove(open_claims[event.claim_id])
                state.decided_claims.append(event.claim_id)
                if event.outcome == "confirmed":
                    self._close_as("withdrawn")
                skipped = self._resume_if_nothing_pauses()
                if skipped:
                    await workflow.execute_activity_method(
                        AccountActivities.record_resumption,
                        CollectionResumed(account_id=self._account.account_id,
                                          workflow_id=workflow.info().workflow_id,
                                          ladder_life=workflow.info().first_execution_run_id, skipped=skipped,
                                          reason=f"fell due while fraud claim {event.claim_id} was open"),
                        start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY,
                    )
            state.pending_claims.pop(0)

    async def _start_claim(self, claim: FraudClaimed) -> None:
        info = workflow.info()
        # The claim outlives this run (continue-as-new) and tells the account its decision by signal.
        await workflow.start_child_workflow(
            FraudClaimWorkflow.run,
            FraudClaimRun(claim=claim, account=self._account, policy=self._policy, account_workflow_id=info.workflow_id,
                          ladder_life=info.first_execution_run_id, clock=self._clock.demo),
            id=claim_workflow_id(self._account.account_id, claim.claim_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
        )

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
            if outcome.verdict == "applied" and self._state.commitment is not None:
                self._state.commitment.paid_minor += outcome.amount_minor
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
            if all(r.dispute_id != event.dispute_id for r in state.early_resolutions):
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
        self._state.agenda = [p for p in self._state.agenda if p.instalment is not None]  # reactions end here

    def _pauses_collection(self) -> bool:
        state = self._state
        return (bool(state.verifications or state.fraud_claims)
                or any(pauses_collection(d) for d in state.open_disputes))

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
                    early = next((d for d in state.early_documents if d.report_id == event.report_id), None)
                    if early is not None:  # settled (and recorded) right after this report
                        state.early_documents.remove(early)
                        state.pending_verifications.insert(1, early)
            elif (verification := open_by_id.get(event.report_id)) is None:
                if all(d.report_id != event.report_id for d in state.early_documents):
                    state.early_documents.append(event)  # overtook its report: waits for it
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
            commitment = self._state.commitment
            if outcome.verdict == "reversed" and commitment is not None:
                commitment.paid_minor = max(commitment.paid_minor - outcome.restored_minor, 0)
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
        latest of each channel is still taken. Reactions and reminders that fell due meanwhile are stale."""
        pending = [p for p in self._plan if p.key not in set(self._state.done_steps)]
        _, skip = ladder.triage_missed(self._policy, self._account, pending, self._now())
        stale = [p for p in self._state.agenda if p.due_at < self._now()]
        self._state.agenda = [p for p in self._state.agenda if p not in stale]
        self._state.done_steps += [p.key for p in skip]
        return skip + stale

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

    def _next_step(self) -> ladder.PlannedStep | None:
        """The earliest of the reactions and reminders, and of the ladder's next step unless a promise or plan
        holds the ladder back."""
        candidates = list(self._state.agenda)
        if self._state.commitment is None:
            candidates += [p for p in [ladder.next_step(self._plan, set(self._state.done_steps))] if p]
        return min(candidates, key=lambda p: p.due_at, default=None)

    @property
    def _contact_book(self) -> ContactBook:
        assert self._state.contact_book is not None
        return self._state.contact_book

    def _wake_at(self, step: ladder.PlannedStep | None) -> datetime | None:
        moments = [step.due_at] if step else []
        if self._state.commitment is not None:
            moments.append(commitments.next_check(self._policy, self._account, self._state.commitment))
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
                    or state.pending_disputes or state.pending_verifications or state.pending_contacts
                    or state.pending_commitments or state.pending_claims)

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
