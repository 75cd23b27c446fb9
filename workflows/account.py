"""AccountWorkflow: one delinquent account walking its policy's ladder on durable timers."""

from __future__ import annotations

import asyncio
import math
from datetime import date, datetime, timedelta

from temporalio import workflow
from temporalio.common import RawValue
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.accounts import AccountActivities
    from activities.treatments import AccountArriving, TreatmentActivities
    from dunning import commitments, ladder
    from dunning.account import AccountDocument, BalanceChanged, Clock, PaymentReceived, PaymentReversed, local_date
    from dunning.approvals import ApprovalDecision
    from dunning.case import Case
    from dunning.commitments import Commitment, PlanProposed, PromiseMade
    from dunning.concessions import Concession, ConcessionDecided, ConcessionGranted, ConcessionNews, ConcessionReversed
    from dunning.contact import CeaseContact
    from dunning.disputes import DisputeOpened, DisputeResolved
    from dunning.fraud import FraudClaimDecided, FraudClaimed
    from dunning.inbox import News
    from dunning.ledger import Ledger
    from dunning.letters import LetterDelivery
    from dunning.orders import (
        AccountRef,
        ContactDeferred,
        StepResult,
        action_key,
        step_order,
    )
    from dunning.outcomes import ContactOutcome, ContactUpdated
    from dunning.placements import AgencyReport, RecallRequest
    from dunning.policy import Policy
    from dunning.state import AccountRun, AccountState, ActionRecord
    from dunning.statements import StatementConfirmed
    from dunning.treatment import Treatment
    from dunning.verification import DebtorEventReported, DocumentsVerified
    from dunning.view import AccountView
    from dunning.visits import VisitReport
    from workflows.calendars import AsksForWorkingDays
    from workflows.settling import SettlesNews, concession_key
    from workflows.signals import read
    from workflows.steps import STEP_RETRY, STEP_TIMEOUT, start_step, step_result
    from workflows.summary import Summary


@workflow.defn
class AccountWorkflow(SettlesNews, AsksForWorkingDays):
    @workflow.init
    def __init__(self, run: AccountRun) -> None:
        self._account = run.account
        info = workflow.info()
        self._ref = AccountRef(
            account_id=run.account.account_id, workflow_id=info.workflow_id, ladder_life=info.first_execution_run_id
        )
        self._clock = Clock(run.clock)
        self._state = run.state or AccountState(
            ledger=Ledger.opening(run.account.amount_due_minor, run.account.invoices), opened_at=self._now()
        )
        self._plan_answers: dict[str, str] = {}  # plan id -> '' (agreed) or why it was refused
        self._calendar_asked_on: date | None = None
        self._concession_refusals: dict[str, str] = {}
        if run.policy is not None:
            self._pin(run.policy, run.treatment)

    @workflow.run
    async def run(self, run: AccountRun) -> AccountRun:
        """Returns what a later run needs to pick the account up again (e.g. a payment after it closed)."""
        if run.policy is None:
            await self._choose_treatment()
        if run.state is None:
            await self._open()
        while True:
            if self._state.status == "open":
                await self._learn_announced_days()
                await self._settle_news()
            await self._plan_follow_ups()
            if self._state.status != "open":
                await self._record_commitment(self._case.close_commitment(self._now()))
                await self._end_placement(
                    "settled" if self._state.status in ("cured", "settled") else "recalled",  # paid off, or not
                    f"the account closed as {self._state.status}",
                )
                await self._withdraw_bureau_reports(f"the account closed as {self._state.status} first")
                await self._close()
                await self._settle_news()  # money that came while closing, or after: a reversal reopens
                if self._state.status != "open" and await self._kept_closed(run):
                    return self._carried(run)
                continue
            if self._history_is_long(run):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._carried(run))
            # Fees accrue as days pass, so the balance ops see is today's, not the one of the last payment.
            self._case.accrue_late_fee(self._now())
            if self._state.paused_since is not None:
                await self._wait_while_paused()
                continue
            if ended := self._case.review_commitment(self._now()):
                await self._record_commitment(ended)
                continue
            if released := self._case.release_bureau_report(self._now()):
                await self._release_bureau_report(released)
                continue
            if self._case.recall_due(self._now()):
                await self._end_placement("recalled", "the recall date came")
                continue
            if change := self._case.reassess(self._now()):
                await self._record_segment_change(change)
                continue
            step = self._case.next_step()
            if step is not None and step.due_at <= self._now():
                await self._take(step)
                continue
            self._summary.publish(self._state, step, self._now())
            await self._sleep_until_signal_or(self._case.wake_at(step, self._now()))

    # Signals arrive raw and are read here, so a payload that does not fit is recorded as refused, not dropped.

    @workflow.signal
    def payment_received(self, payment: RawValue) -> None:
        self._receive(payment, PaymentReceived)

    @workflow.signal
    def payment_reversed(self, reversal: RawValue) -> None:
        self._receive(reversal, PaymentReversed)

    @workflow.signal
    def balance_changed(self, change: RawValue) -> None:
        """Billing's charge, interest, credit note or write-down."""
        self._receive(change, BalanceChanged)

    @workflow.signal
    def dispute_opened(self, dispute: RawValue) -> None:
        self._receive(dispute, DisputeOpened)

    @workflow.signal
    def dispute_resolved(self, resolution: RawValue) -> None:
        self._receive(resolution, DisputeResolved)

    @workflow.signal
    def debtor_event_reported(self, report: RawValue) -> None:
        self._receive(report, DebtorEventReported)

    @workflow.signal
    def documents_verified(self, verification: RawValue) -> None:
        self._receive(verification, DocumentsVerified)

    @workflow.signal
    def cease_contact(self, request: RawValue) -> None:
        self._receive(request, CeaseContact)

    @workflow.signal
    def promise_made(self, promise: RawValue) -> None:
        self._receive(promise, PromiseMade)

    @workflow.signal
    def contact_outcome(self, outcome: RawValue) -> None:
        self._receive(outcome, ContactOutcome)

    @workflow.signal
    def contact_updated(self, update: RawValue) -> None:
        self._receive(update, ContactUpdated)

    @workflow.signal
    def letter_delivery(self, delivery: RawValue) -> None:
        self._receive(delivery, LetterDelivery)

    @workflow.signal
    def visit_reported(self, report: RawValue) -> None:
        self._receive(report, VisitReport)

    @workflow.signal
    def agency_reported(self, report: RawValue) -> None:
        self._receive(report, AgencyReport)

    @workflow.signal
    def recall_placement(self, request: RawValue) -> None:
        self._receive(request, RecallRequest)

    @workflow.signal
    def statement_confirmed(self, confirmation: RawValue) -> None:
        """The customer confirmed a month's statement (B2B)."""
        self._receive(confirmation, StatementConfirmed)

    @workflow.signal
    def fraud_claimed(self, claim: RawValue) -> None:
        self._receive(claim, FraudClaimed)

    @workflow.signal
    def fraud_claim_decided(self, decision: RawValue) -> None:
        """Sent by the claim's own workflow when the creditor decides (or the claim lapses)."""
        self._receive(decision, FraudClaimDecided)

    @workflow.signal
    def calendar_announced(self) -> None:
        """Sent by `collections deploys announce-calendars` to the runs in flight: ask the worker for the days ahead."""
        self._told()

    def _receive(self, raw: RawValue, model: type[News]) -> None:
        news = read(raw, model)
        if isinstance(news, str):
            self._state.record_rejection(news)
            self._metrics().news_refused(model.model_fields["news"].default)
        else:
            self._state.inbox.append(news)

    @workflow.update
    async def agree_plan(self, plan: PlanProposed) -> Commitment:
        """A repayment plan agreed with the debtor: answered once the account has taken it on."""
        self._state.inbox.append(plan)
        await workflow.wait_condition(lambda: plan.plan_id in self._plan_answers)
        refusal = self._plan_answers[plan.plan_id]
        if refusal:
            raise ApplicationError(refusal, type="PlanRefused", non_retryable=True)
        assert self._state.commitment is not None
        return self._state.commitment

    @workflow.update
    async def decide_approval(self, decision: ApprovalDecision) -> str:
        """An approver approves or rejects a step waiting for approval; answered once it is recorded."""
        self._state.inbox.append(decision)
        await workflow.wait_condition(
            lambda: decision.approval_ref in self._state.decided_approvals and decision not in self._state.inbox
        )  # and recorded
        return "approved" if decision.approved else "rejected"

    @decide_approval.validator
    def _check_approval(self, decision: ApprovalDecision) -> None:
        if any(isinstance(d, ApprovalDecision) and d.approval_ref == decision.approval_ref for d in self._state.inbox):
            problem = f"approval {decision.approval_ref} is being decided"
        else:
            problem = self._case.approval_problem(decision)
        if problem:
            self._metrics().news_refused(decision.news)
            raise ValueError(problem)

    @agree_plan.validator
    def _check_plan(self, plan: PlanProposed) -> None:
        problem = self._case.plan_refusal(plan, self._now())
        if problem:
            self._metrics().news_refused(plan.news)
            raise ValueError(problem)

    @workflow.update
    async def grant_concession(self, grant: ConcessionGranted) -> Concession:
        """An operator gives the debtor something (fees waived, a settlement discount, a plan reduced or put off):
        answered once taken, applied within their role's limit or waiting for an approver above it."""
        return await self._concession(grant)

    @workflow.update
    async def decide_concession(self, decision: ConcessionDecided) -> Concession:
        """An approver approves (it applies now) or rejects a concession above its granter's limit."""
        return await self._concession(decision)

    @workflow.update
    async def reverse_concession(self, reversal: ConcessionReversed) -> Concession:
        """A concession taken back, exactly as it was given (or withdrawn while it waits)."""
        return await self._concession(reversal)

    @grant_concession.validator
    def _check_grant(self, grant: ConcessionGranted) -> None:
        self._check_concession(grant)

    @decide_concession.validator
    def _check_concession_decision(self, decision: ConcessionDecided) -> None:
        self._check_concession(decision)

    @reverse_concession.validator
    def _check_concession_reversal(self, reversal: ConcessionReversed) -> None:
        self._check_concession(reversal)

    def _check_concession(self, news: ConcessionNews) -> None:
        if not hasattr(self, "_case"):
            raise ApplicationError("the account is opening; ask again in a moment", type="ConcessionRefused")
        if any(getattr(n, "concession_id", None) == news.concession_id for n in self._state.inbox):
            problem = f"concession {news.concession_id} is being settled; ask again in a moment"
        else:
            problem = self._case.concession_problem(news, self._now())
        if problem:
            self._metrics().news_refused(news.news)
            raise ApplicationError(problem, type="ConcessionRefused", non_retryable=True)

    async def _concession(self, news: ConcessionNews) -> Concession:
        self._state.inbox.append(news)
        await workflow.wait_condition(lambda: all(n is not news for n in self._state.inbox))
        if refusal := self._concession_refusals.pop(concession_key(news), ""):
            raise ApplicationError(refusal, type="ConcessionRefused", non_retryable=True)
        return self._state.concessions[news.concession_id]

    @workflow.signal
    def account_document_received(self, document: AccountDocument) -> None:
        """Billing (re)sent the account: the first send started us; a changed resend is refused, not applied."""
        if document != self._account:
            self._state.record_rejection(
                "account document resent with changes; an open account keeps the document it opened with"
            )
            self._metrics().news_refused("account_document_received")

    @workflow.query
    def state(self) -> AccountView:
        if not hasattr(self, "_case"):  # the worker is still choosing the new account's treatment
            raise ApplicationError("the account is opening; ask again in a moment")
        return self._case.view(self._now())

    async def _choose_treatment(self) -> None:
        """A new account's segment, arm and policy, chosen by the worker from the data files and pinned from now."""
        chosen = await workflow.execute_local_activity_method(
            TreatmentActivities.choose_treatment,
            AccountArriving(account=self._account, dpd_on_arrival=ladder.dpd_at(self._account, self._state.opened_at)),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=STEP_RETRY,
        )
        self._pin(chosen.policy, chosen.treatment)

    def _pin(self, policy: Policy, treatment: Treatment | None) -> None:
        self._policy, self._treatment = policy, treatment
        self._case = Case(
            self._account,
            policy,
            self._state,
            treatment_replaces_catch_up=workflow.patched("treatment-replaces-catch-up"),
            treatment=treatment,
        )
        self._summary = Summary(self._case, policy, treatment)

    async def _learn_announced_days(self) -> None:
        """When the calendar does not know the days ahead, asks the worker (once a day at most) for the years
        announced since it was pinned; the policy's calendar gains them and the ladder is planned again."""
        today = local_date(self._now(), self._account.time_zone)
        if self._policy.calendar is None or self._calendar_asked_on == today:
            return
        announced = await self._announced(self._policy.calendar, today)
        self._calendar_asked_on = today
        if announced is not None and (years := self._case.learn_working_days(announced)):
            self._policy = self._case.policy
            workflow.logger.info("calendar %s now knows %s", announced.name, years)

    # --- the steps of the process -------------------------------------------------------------------------

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
                    ref=self._ref,
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
            self._case.account,  # due on the oldest unpaid invoice's day: its dpd and statement
            planned,
            ladder_life=info.first_execution_run_id,
            workflow_id=info.workflow_id,
            run_id=info.run_id,
            outstanding_minor=self._state.ledger.outstanding_minor,
            taken_at=self._now(),
            paid_minor=self._state.ledger.paid_minor,
            late_fee_minor=self._state.ledger.late_fee_minor,
            charged_minor=self._state.ledger.charged_minor,
            credited_minor=self._state.ledger.credited_minor,
            waived_minor=self._state.ledger.waived_minor,
            invoices=self._state.ledger.invoices,
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
            third_party_refusals=self._case.third_party_refusals(self._now(), planned.dpd),
            time_barred_disclosure=self._case.time_barred_disclosure(self._now()),
            statement=self._case.statement_facts(planned),
        )
        # Reactions are placed by what happened, not by the ladder: the stage decides whether they may go out.
        blocked = check.rule if check is not None and check.verdict == "blocked" else ""
        forbidden = (
            blocked
            or (visit.refusal if visit else "")
            or ladder.stage_forbids(self._policy, planned)
            or self._case.suit_refusal(planned, self._now())
            or self._case.progress_refusal(planned, self._now())
        )
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
            planned, check if done else None, self._now(), follow_ups if done else None, result.queue_cases, key
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
        if statement := self._case.statement_step_taken(planned, result.status, self._now()):
            await self._record_statement(*statement)
        # What the vendor said of the contact point (opted out, no such number) is news, as a signal's would be.
        if result.cease is not None:
            self._state.inbox.append(result.cease)
        if result.point_outcome is not None:
            self._state.inbox.append(result.point_outcome)

    async def _wait_while_paused(self) -> None:
        """Nothing goes out; wake for news, or when a report's documents are due."""
        expired = self._case.expire_verifications(self._now())
        for change in expired:
            await self._record_verification(change)
        if expired:
            return
        self._summary.publish(self._state, None, self._now())
        await self._sleep_until_signal_or(self._case.documents_due())

    # --- time ----------------------------------------------------------------------------------------------

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
        return bool(self._state.inbox)

    def _history_is_long(self, run: AccountRun) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested() or info.get_current_history_length() >= run.continue_as_new_after_events
        )

    async def _kept_closed(self, run: AccountRun) -> bool:
        """Keeps what the closed run returns in PostgreSQL, for news that comes after Temporal has dropped its
        history; news that came meanwhile is settled and kept too. False: a reversal reopened the account."""
        if not workflow.patched("closed-run-kept"):  # runs that closed before closed runs were kept
            return True
        while True:
            await self._record(AccountActivities.keep_closed_run, self._carried(run))
            if not self._state.inbox:
                return True
            await self._settle_news()
            if self._state.status == "open":
                return False

    def _carried(self, run: AccountRun) -> AccountRun:
        """What the next run starts from: the state, and the policy and treatment pinned at opening."""
        state = self._state.model_copy(update={"runs": self._state.runs + 1})
        return run.model_copy(update={"state": state, "policy": self._policy, "treatment": self._treatment})
