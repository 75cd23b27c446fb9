"""A case: the front the account workflow and the tests call, one account under collection with its pinned policy
and carried state. It answers what happens next and what ops see; the rules that apply news live with their
concern (ledger, disputes, verification, commitments, outcomes, letters, visits, fraud, placements, approvals) and
are reached through it.

Pure and deterministic: the account workflow hands each piece of news to a method here with the business time,
then records the `Change` it answers.
"""

from __future__ import annotations

from datetime import datetime

from dunning import (
    approvals,
    bureau,
    commitments,
    concessions,
    contact,
    disputes,
    follow_ups,
    fraud,
    guard,
    ladder,
    ledger,
    letters,
    outcomes,
    placements,
    segments,
    statements,
    verification,
    visits,
)
from dunning.calendar import WorkingCalendar
from dunning.collection import Collection, Skipped
from dunning.compliance import Check
from dunning.pacing import FollowUpPlan
from dunning.view import AccountView, account_view


class Case(Collection):
    # --- what happens next ---------------------------------------------------------------------------------

    def open_at(self, now: datetime) -> Skipped:
        """Steps already past when the account arrives: missed steps worth taking stay pending (the main loop takes
        them at once, after any news that came with the account); the rest are skipped. The first month's statement
        comes onto the agenda, where the policy sends them."""
        segments.open_in_segment(self, now)
        _, skip = ladder.triage_missed(self.policy, self.account, self.plan, now)
        self.state.done_steps += [p.key for p in skip]
        self.owe_validation_notice(now)
        statements.schedule_month(self, now)
        return skip

    def next_step(self) -> ladder.PlannedStep | None:
        """The earliest of the reactions and reminders, and of the ladder's next step unless a promise or plan
        holds the ladder back; a step the contact guard moved is due when it lets it go."""
        notice = self.policy.validation_notice
        owed = [p for p in self.state.agenda if notice and p.step_id == notice.id]
        if owed:
            return owed[0]  # before anything else, even steps already overdue when the account arrived
        candidates: list[ladder.PlannedStep] = list(self.state.agenda)
        if self.state.commitment is None:
            done = set(self.state.done_steps)
            # Every pending rung, so one the guard moved does not hold up the next (the plan is in due order).
            candidates += [p for p in self.plan if p.key not in done]
        return min((self._when_allowed(p) for p in candidates), key=lambda p: p.due_at, default=None)

    def _when_allowed(self, planned: ladder.PlannedStep) -> ladder.PlannedStep:
        until = self.state.deferred.get(planned.key)
        return planned.model_copy(update={"due_at": until}) if until and until > planned.due_at else planned

    def wake_at(self, step: ladder.PlannedStep | None, now: datetime) -> datetime | None:
        """The next step, the end of a promise's grace, a placement's recall date, the moment the furnishing gate
        opens for a waiting credit-bureau report, or the next stage, whichever comes first."""
        moments = [step.due_at] if step else []
        if opens := bureau.gate_opens_at(self, now):
            moments.append(opens)
        if self.state.commitment is not None:
            moments.append(commitments.next_check(self.policy, self.account, self.state.commitment))
        if self.state.placement is not None:
            moments.append(self.state.placement.recall_at)
        stage_change = ladder.next_stage_change(self.policy, self.account, now)
        if stage_change:
            moments.append(stage_change)
        return min(moments) if moments else None

    def step_taken(
        self,
        planned: ladder.PlannedStep,
        check: Check | None,
        now: datetime,
        follow_ups: FollowUpPlan | None = None,
        queue_cases: int | None = None,
        action_key: str = "",
    ) -> None:
        """A step that was taken (`check` only if it went out): a contact counts for the caps; a letter that went
        counts for the furnishing gate, unless it waits for an approver; a ladder call task brings its follow-up plan
        and tells us how full its collector queue is; a validation notice that could not go holds collection until
        it can."""
        self.state.agenda = [p for p in self.state.agenda if p.key != planned.key]
        self.state.deferred.pop(planned.key, None)
        if check is not None:
            self.contact_made(guard.contact_of(planned, check))
        if check is not None and action_key and planned.channel == "letter":
            if not ladder.step_definition(self.policy, planned).requires_approval:
                bureau.letter_posted(self, letters.letter_ref(action_key), check.evaluated_at)
        if follow_ups is not None:
            self.state.follow_ups = follow_ups
        if check is not None and (period_ends := self.validation_period_ends(planned, check.evaluated_at)):
            self.state.validation_notice_sent_at = check.evaluated_at
            self.state.validation_period_ends = period_ends
        if self.validation_notice_stuck():
            self.pause(now)
        if queue_cases is not None:
            self.state.queue_cases = queue_cases

    def learn_working_days(self, announced: WorkingCalendar) -> list[int]:
        """The years `announced` covers that the pinned calendar did not know: the policy's calendar gains their days
        and the ladder is planned again (a rule set that keeps contact to working days may move a step)."""
        calendar = self.policy.calendar
        if calendar is None:
            return []
        learned = calendar.with_years(announced)
        years = sorted(set(learned.covers) - set(calendar.covers))
        if years:
            self.policy = self.policy.model_copy(update={"calendar": learned})
            self.plan = self.planned()
        return years

    # --- each concern's rules, reached through the case ----------------------------------------------------

    contact_check = guard.contact_check
    defer = guard.defer
    visit_decision = visits.visit_decision
    follow_up_plan = follow_ups.follow_up_plan
    refresh_follow_ups = follow_ups.refresh_follow_ups
    follow_ups_written = follow_ups.follow_ups_written
    accrue_late_fee = ledger.accrue_late_fee
    apply_payment = ledger.apply_payment
    apply_reversal = ledger.apply_reversal
    apply_balance_change = ledger.apply_balance_change
    apply_cease = contact.apply_cease
    apply_dispute = disputes.apply_dispute
    apply_verification = verification.apply_verification
    expire_verifications = verification.expire_verifications
    documents_due = verification.documents_due
    apply_outcome = outcomes.apply_outcome
    apply_contact_update = outcomes.apply_contact_update
    apply_letter_delivery = letters.apply_letter_delivery
    apply_visit_report = visits.apply_visit_report
    take_commitment = commitments.take_commitment
    plan_refusal = commitments.plan_refusal
    review_commitment = commitments.review_commitment
    close_commitment = commitments.close_commitment
    end_commitment = commitments.end_commitment
    apply_concession = concessions.apply_concession
    concession_problem = concessions.concession_problem
    apply_claim = fraud.apply_claim
    request_approval = approvals.request_approval
    approval_problem = approvals.approval_problem
    apply_approval = approvals.apply_approval
    start_placement = placements.start_placement
    recall_due = placements.recall_due
    end_placement = placements.end_placement
    apply_agency_event = placements.apply_agency_event
    reassess = segments.reassess
    file_bureau_report = bureau.file_report
    release_bureau_report = bureau.release_due
    withdraw_bureau_reports = bureau.withdraw_reports
    statement_step_taken = statements.statement_step_taken
    statement_facts = statements.statement_facts
    apply_statement_confirmation = statements.apply_confirmation

    # --- what ops see --------------------------------------------------------------------------------------

    def view(self, now: datetime) -> AccountView:
        return account_view(
            self.account, self.policy, self.state, now, self.next_step, self.book.invalid(), self.treatment
        )
