"""A case: one account under collection, its pinned policy and carried state, and every rule that changes it.

Pure and deterministic: the account workflow hands each piece of news to a method here with the business time,
then records what it decided. Tests call the same methods directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from dunning import approvals, commitments, compliance, ladder, pacing, placements, visits
from dunning.account import AccountDocument, PaymentReceived, PaymentReversed, local_date, local_datetime
from dunning.approvals import ApprovalRequest
from dunning.commitments import Commitment, PlanProposed, PromiseMade
from dunning.compliance import Check, ContactMade
from dunning.contact import CONTACT_CHANNELS, CeaseContact
from dunning.disputes import (
    DisputeOpened,
    DisputeResolved,
    first_collector_queue,
    pauses_collection,
    reassigned_queue,
    resolution_problem,
)
from dunning.fraud import FraudClaimDecided, FraudClaimed, claim_problem
from dunning.ledger import PaymentOutcome, ReversalOutcome, reopens
from dunning.letters import LetterDelivery
from dunning.outcomes import (
    CONVERSATIONS,
    DEBTOR_EVENT_OF,
    STRATEGY_OF,
    ContactBook,
    ContactOutcome,
    ContactUpdated,
    PointRecord,
    outcome_problem,
    reactions,
)
from dunning.pacing import FollowUp, FollowUpPlan
from dunning.placements import AgencyReport, Placement, RecallRequest
from dunning.policy import Agency, Channel, Policy, Strategy
from dunning.state import AccountState
from dunning.verification import DebtorEventReported, DocumentsVerified, Verification, closing_status, open_verification
from dunning.view import AccountView, account_view

Skipped = list[ladder.PlannedStep]

APPROVAL = "approval "  # the cause of an approval's reminder and escalation
LOST = "lost"  # the cause of the reactions to lost contact


def _contact_of(planned: ladder.PlannedStep, check: Check) -> ContactMade:
    return ContactMade(channel=Channel(planned.channel), at=check.evaluated_at, attempts=check.attempts)


@dataclass
class VerificationChange:
    verification: Verification
    status: str  # awaiting_documents, confirmed, not_confirmed, expired
    decided_at: datetime | None = None
    skipped: Skipped = field(default_factory=list)


@dataclass
class ContactChange:
    verdict: str  # applied, duplicate, rejected: <why>; for updates what they did (added, corrected, revalidated)
    strategy: Strategy | None = None
    changed_points: list[PointRecord] = field(default_factory=list)
    removed_point: str | None = None
    skipped: Skipped = field(default_factory=list)  # steps that fell due while a validation notice was held up


@dataclass
class CommitmentChange:
    commitment: Commitment
    status: str  # open, rejected, kept, kept_in_part, broken, replaced, closed
    event: PromiseMade | PlanProposed | None = None
    reason: str = ""
    skipped: Skipped = field(default_factory=list)


@dataclass
class ClaimChange:
    start: FraudClaimed | None = None  # a new claim whose workflow must be started
    decided: FraudClaimDecided | None = None
    skipped: Skipped = field(default_factory=list)


class Case:
    def __init__(
        self, account: AccountDocument, policy: Policy, state: AccountState, treatment_replaces_catch_up: bool = True
    ) -> None:
        self.account = account
        self.policy = policy
        self.state = state
        # Runs started before this rule keep the old one (the workflow passes its patch marker).
        self.treatment_replaces_catch_up = treatment_replaces_catch_up
        self.plan = ladder.plan(policy, account)
        # States carried from before collector queues and contact books existed get theirs now.
        state.collector_queue = state.collector_queue or first_collector_queue(policy, account.account_id)
        state.contact_book = state.contact_book or ContactBook.of(account)

    @property
    def book(self) -> ContactBook:
        assert self.state.contact_book is not None
        return self.state.contact_book

    # --- what happens next ---------------------------------------------------------------------------------

    def open_at(self, now: datetime) -> Skipped:
        """Steps already past when the account arrives: missed steps worth taking stay pending (the main loop takes
        them at once, after any news that came with the account); the rest are skipped."""
        _, skip = ladder.triage_missed(self.policy, self.account, self.plan, now)
        self.state.done_steps += [p.key for p in skip]
        self._owe_validation_notice(now)
        return skip

    def next_step(self) -> ladder.PlannedStep | None:
        """The earliest of the reactions and reminders, and of the ladder's next step unless a promise or plan
        holds the ladder back; a step the contact guard moved is due when it lets it go."""
        notice = self.policy.validation_notice
        owed = [p for p in self.state.agenda if notice and p.step_id == notice.id]
        if owed:
            return owed[0]  # before anything else, even steps already overdue when the account arrived
        candidates = list(self.state.agenda)
        if self.state.commitment is None:
            done = set(self.state.done_steps)
            # Every pending rung, so one the guard moved does not hold up the next (the plan is in due order).
            candidates += [p for p in self.plan if p.key not in done]
        return min((self._when_allowed(p) for p in candidates), key=lambda p: p.due_at, default=None)

    def _when_allowed(self, planned: ladder.PlannedStep) -> ladder.PlannedStep:
        until = self.state.deferred.get(planned.key)
        return planned.model_copy(update={"due_at": until}) if until and until > planned.due_at else planned

    def wake_at(self, step: ladder.PlannedStep | None, now: datetime) -> datetime | None:
        """The next step, the end of a promise's grace, a placement's recall date, or the next stage, whichever
        comes first."""
        moments = [step.due_at] if step else []
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
    ) -> None:
        """A step that was taken (`check` only if it went out): a contact counts for the caps; a ladder call task
        brings its follow-up plan and tells us how full its collector queue is; a validation notice that could not
        go holds collection until it can."""
        self.state.agenda = [p for p in self.state.agenda if p.key != planned.key]
        self.state.deferred.pop(planned.key, None)
        if check is not None:
            self._contact_made(_contact_of(planned, check))
        if follow_ups is not None:
            self.state.follow_ups = follow_ups
        if check is not None and (period_ends := self.validation_period_ends(planned, check.evaluated_at)):
            self.state.validation_notice_sent_at = check.evaluated_at
            self.state.validation_period_ends = period_ends
        if self._validation_notice_stuck():
            self.pause(now)
        if queue_cases is not None:
            self.state.queue_cases = queue_cases

    # --- the contact guard ---------------------------------------------------------------------------------

    def contact_check(self, planned: ladder.PlannedStep, now: datetime) -> Check | None:
        """The guard's answer for a step that reaches the debtor, under the policy's rule set (None: no rule set,
        or no contact)."""
        rules, channel = self.policy.contact_rules, Channel(planned.channel)
        if rules is None or channel not in CONTACT_CHANNELS:
            return None
        notice = self.policy.validation_notice
        if self._validation_notice_owed() and not (notice and planned.step_id == notice.id):
            return Check(
                rule_set=rules.name,
                verdict="blocked",
                evaluated_at=now,
                at=now,
                rule="validation_notice: not sent yet (12 CFR 1006.34)",
                local_time=compliance.local_stamp(now, self.account.time_zone),
            )
        # A ladder call task is a day of attempts at the stage's cadence; a reaction or confirmation is one call.
        stage = self.policy.stage_at(planned.dpd)
        ladder_call = channel is Channel.call and not isinstance(planned, ladder.AgendaStep)
        cadence = stage.call_cadence if stage and ladder_call else None
        return compliance.check(
            rules,
            self.account,
            channel,
            now,
            self.state.contacts_made,
            self.state.last_conversation_at,
            cadence.attempts_per_day if cadence else 1,
        )

    def _validation_notice_owed(self) -> bool:
        rules = self.policy.contact_rules
        return bool(rules and rules.validation_notice and self.state.validation_notice_sent_at is None)

    def _validation_notice_stuck(self) -> bool:
        """Owed but no longer on the agenda: it could not go (no address, a bad order)."""
        notice = self.policy.validation_notice
        return (
            notice is not None
            and self._validation_notice_owed()
            and all(p.step_id != notice.id for p in self.state.agenda)
        )

    def validation_period_ends(self, planned: ladder.PlannedStep, sent: datetime) -> date | None:
        """For the validation notice: the last day of the period it opens if sent at `sent` (receipt assumed the
        rule set's working days later, 12 CFR 1006.34(b)(5)); None for any other step."""
        notice, rules = self.policy.validation_notice, self.policy.contact_rules
        if not (notice and planned.step_id == notice.id and rules and rules.validation_notice):
            return None
        received = self.policy.working_days.add_working_days(
            local_date(sent, self.account.time_zone), rules.validation_notice.receipt_after_working_days
        )
        return received + timedelta(days=rules.validation_notice.period_days)

    def _owe_validation_notice(self, now: datetime) -> None:
        """Puts the validation notice first, when the rule set requires one and it has not gone (once at a time:
        a notice that could not go, for want of an address, is put again when one arrives)."""
        notice = self.policy.validation_notice
        if (
            notice is None
            or not self._validation_notice_owed()
            or any(p.step_id == notice.id for p in self.state.agenda)
        ):
            return
        dpd = ladder.dpd_at(self.account, now)
        self.state.agenda.append(
            ladder.AgendaStep(
                key=f"{notice.id}:{now:%Y%m%dT%H%M%S}",
                step_id=notice.id,
                channel=notice.channel.value,
                dpd=dpd,
                stage=ladder.stage_id(self.policy, dpd),
                due_at=now,
                cause="validation notice (12 CFR 1006.34)",
            )
        )

    def defer(self, planned: ladder.PlannedStep, until: datetime) -> None:
        self.state.deferred[planned.key] = until

    def _contact_made(self, contact: ContactMade) -> None:
        """Keeps the contacts the caps can still count."""
        rules = self.policy.contact_rules
        assert rules is not None, "contacts are counted only under a rule set"
        keep = timedelta(days=max([cap.days for cap in rules.caps], default=0))
        self.state.contacts_made = [c for c in self.state.contacts_made if c.at > contact.at - keep] + [contact]

    # --- workload pacing ----------------------------------------------------------------------------------

    def follow_up_plan(
        self, planned: ladder.PlannedStep, check: Check | None, now: datetime, task_key: str
    ) -> FollowUpPlan | None:
        """The follow-up days a ladder call task brings if it is filed now (None: the policy does not follow its
        stage up). They run until the stage ends, when the next stage's task takes over."""
        rules = self.policy.follow_up
        stage = self.policy.stage_at(planned.dpd)
        if (
            rules is None
            or stage is None
            or stage.id not in rules.stages
            or planned.channel != Channel.call.value
            or isinstance(planned, ladder.AgendaStep)
        ):
            return None
        assert stage.to_dpd is not None, "follow-up stages end (checked when the policy loads)"
        today = local_date(now, self.account.time_zone)
        plan = FollowUpPlan(
            task_key=task_key,
            anchor=today,
            replace_from=today,  # the task is today's work
            until=self.account.due_date + timedelta(days=stage.to_dpd + 1),
            queue_cases=self.state.queue_cases,
            written=True,
        )
        filed = [_contact_of(planned, check)] if check else []
        return plan.model_copy(update={"days": self._follow_up_days(plan, today, filed)})

    def refresh_follow_ups(self, now: datetime) -> FollowUpPlan | None:
        """Counts the follow-up days that have begun (they are fixed), and plans the later ones from what is known
        now: a conversation makes the case valid (daily), a contact made since may leave a day no room; a promise,
        a pause, a cease on calls or the end of collection stops follow-ups, and a cool-down after a conversation
        stops today's, which had begun. Returns the plan when the collector queue must be told of a change."""
        plan, state = self.state.follow_ups, self.state
        if plan is None:
            return None
        today = local_date(now, self.account.time_zone)
        come = [day for day in plan.days if day.day <= today]
        for day in come if self.policy.contact_rules else []:
            self._contact_made(ContactMade(channel=Channel.call, at=day.at, attempts=day.attempts))
        live = max([day.day for day in come], default=plan.live_day)  # the day being worked, if it is today
        collecting = (
            state.status == "open"
            and state.paused_since is None
            and state.commitment is None
            and Channel.call not in state.ceased_channels
        )
        rules = self.policy.contact_rules
        resume = compliance.calls_resume(rules, self.account, state.last_conversation_at) if rules else None
        if not collecting:
            update = {"days": [], "replace_from": today, "stopped": True}
        elif resume is not None and resume > now:  # a conversation today or lately: today's calls stop as well
            update = {"days": self._follow_up_days(plan, today), "replace_from": today, "stopped": True}
        else:
            update = {
                "days": self._follow_up_days(plan, today),
                "replace_from": today + timedelta(days=1),
                "stopped": False,
            }
        stops_today = update["stopped"] and live == today
        changed = update["days"] != plan.days[len(come) :] or update["stopped"] != plan.stopped or stops_today
        self.state.follow_ups = plan.model_copy(
            update={**update, "live_day": None if update["stopped"] else live, "written": plan.written and not changed}
        )
        return None if self.state.follow_ups.written else self.state.follow_ups

    def follow_ups_written(self) -> None:
        assert self.state.follow_ups is not None
        self.state.follow_ups = self.state.follow_ups.model_copy(update={"written": True})

    def _follow_up_days(
        self, plan: FollowUpPlan, today: date, filed: list[ContactMade] | None = None
    ) -> list[FollowUp]:
        """The cadence's days after `today`, each placed at the start of the best call window and kept only if the
        guard lets that day's attempts go on that day (a day with no room gives way to the next)."""
        rules, contact_rules, zone = self.policy.follow_up, self.policy.contact_rules, self.account.time_zone
        assert rules is not None
        spoken = self.state.last_conversation_at
        valid_until = local_date(spoken, zone) + timedelta(days=rules.valid_for_days) if spoken else None
        stage = self.policy.stage_at(ladder.dpd_on(self.account.due_date, plan.anchor))
        assert stage is not None and stage.call_cadence is not None
        windows = contact_rules.best_windows(Channel.call) if contact_rules else []
        start = windows[0].start if windows else self.policy.send_time
        paydays = contact_rules.preferred.paydays if contact_rules else []
        # A day with a call of its own (a reaction, a promise confirmation) has that call as its follow-up.
        called = {local_date(p.due_at, zone) for p in self.state.agenda if p.channel == Channel.call.value}
        history, days = self.state.contacts_made + (filed or []), []
        for day in pacing.cadence(rules, plan.anchor, plan.until, valid_until, plan.queue_cases, paydays):
            at, attempts = local_datetime(day, start, zone), stage.call_cadence.attempts_per_day
            if day <= today or day in called:
                continue
            if contact_rules is not None:
                check = compliance.check(contact_rules, self.account, Channel.call, at, history, spoken, attempts)
                if local_date(check.at, zone) != day:
                    continue
                at, attempts = check.at, check.attempts
                history = history + [ContactMade(channel=Channel.call, at=at, attempts=attempts)]
            days.append(FollowUp(day=day, at=at, attempts=attempts))
        return days

    # --- pausing, resuming, closing ------------------------------------------------------------------------

    def close_as(self, status: str, now: datetime) -> None:
        self.state.status = status
        self.state.closed_at = now
        self.state.paused_since = None
        self.state.agenda = [p for p in self.state.agenda if p.instalment is not None]  # reactions end here

    def pauses_collection(self) -> bool:
        state = self.state
        return (
            bool(state.verifications or state.fraud_claims)
            or self._validation_notice_stuck()
            or any(pauses_collection(d) for d in state.open_disputes)
        )

    def pause(self, now: datetime) -> None:
        if self.state.paused_since is None:
            self.state.paused_since = now

    def resume_if_nothing_pauses(self, now: datetime) -> Skipped:
        if self.state.paused_since is None or self.pauses_collection() or self.state.status != "open":
            return []
        self.state.paused_since = None
        return self.skip_missed_steps(now)

    def skip_missed_steps(self, now: datetime, covered: frozenset[str] = frozenset()) -> Skipped:
        """After a pause, the ladder resumes where the dpd now is: of the steps that fell due meanwhile only the
        latest of each channel is still taken, unless a reaction on that channel goes out now (`covered`).
        Reactions and reminders that fell due meanwhile are stale."""
        pending = [p for p in self.plan if p.key not in set(self.state.done_steps)]
        take, skip = ladder.triage_missed(self.policy, self.account, pending, now)
        skip += [p for p in take if p.channel in covered]
        stale = [p for p in self.state.agenda if p.due_at < now]
        self.state.agenda = [p for p in self.state.agenda if p not in stale]
        self.state.done_steps += [p.key for p in skip]
        return skip + stale

    def reopen(self, now: datetime) -> Skipped:
        """Money taken back from a closed account: the ladder resumes where the dpd now is, like a late arrival
        (steps that fell due while it was closed are skipped, but the latest of each channel)."""
        self.state.status = "open"
        self.state.closed_at = None
        # Money we still hold from after the cure goes against what is owed again.
        self.state.ledger.use_overpayment()
        return self.skip_missed_steps(now)

    # --- money ---------------------------------------------------------------------------------------------

    def accrue_late_fee(self, now: datetime) -> None:
        self.state.ledger.accrue_late_fee(self.policy, ladder.dpd_at(self.account, now))

    def apply_payment(self, payment: PaymentReceived, now: datetime) -> PaymentOutcome:
        state, ledger = self.state, self.state.ledger
        if state.status == "open":
            # Fees stop on the day the money was paid, even if billing reports it later.
            ledger.accrue_late_fee(self.policy, ladder.dpd_at(self.account, min(payment.paid_at, now)))
        outcome = ledger.apply(payment, self.account.currency)
        if outcome.verdict == "rejected":
            state.record_rejection(f"payment {payment.payment_id}: {outcome.reason}")
        if outcome.verdict == "applied":
            state.last_paid_at = max(payment.paid_at, state.last_paid_at or payment.paid_at)
        if outcome.verdict == "applied" and state.commitment is not None:
            state.commitment.paid_minor += outcome.amount_minor
        if outcome.verdict == "applied" and state.status == "open" and ledger.outstanding_minor == 0:
            self.close_as("cured", now)
        return outcome

    def apply_reversal(self, reversal: PaymentReversed, now: datetime) -> tuple[ReversalOutcome, Skipped]:
        state = self.state
        outcome = state.ledger.reverse(reversal)
        if outcome.verdict == "rejected":
            state.record_rejection(f"reversal of payment {reversal.payment_id}: {outcome.reason}")
        if outcome.verdict == "reversed" and state.commitment is not None:
            state.commitment.paid_minor = max(state.commitment.paid_minor - outcome.restored_minor, 0)
        skipped = self.reopen(now) if reopens(state.status, outcome, state.ledger) else []
        return outcome, skipped

    # --- disputes and complaints ---------------------------------------------------------------------------

    def apply_dispute(self, event: DisputeOpened | DisputeResolved, now: datetime) -> tuple[str, Skipped]:
        """Returns the verdict, and the steps skipped if collection resumes. Resends change nothing; a
        resolution that overtakes its dispute waits for it."""
        state = self.state
        if event.dispute_id in state.decided_disputes:
            return "duplicate", []
        known = {d.dispute_id: d for d in state.open_disputes}
        if isinstance(event, DisputeOpened):
            if event.dispute_id in known:
                return "duplicate", []
            state.open_disputes.append(event)
            if event.subject == "collector":
                queue = reassigned_queue(self.policy, state.collector_queue)
                if queue is None:
                    state.record_rejection(f"complaint {event.dispute_id}: the policy has no other collector queue")
                else:
                    state.collector_queue = queue
            if pauses_collection(event):
                self.pause(now)
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
            self.close_as("cancelled", now)
        return "applied", self.resume_if_nothing_pauses(now)

    # --- death and bankruptcy ------------------------------------------------------------------------------

    def apply_verification(
        self, event: DebtorEventReported | DocumentsVerified, now: datetime
    ) -> VerificationChange | None:
        """A report stops contact until its documents come; documents close the account or resume collection.
        Documents that overtake their report wait for it; resends change nothing (None: nothing to record)."""
        state = self.state
        open_by_id = {v.report.report_id: v for v in state.verifications + state.expired_verifications}
        if event.report_id in state.decided_reports:
            return None
        if isinstance(event, DebtorEventReported):
            if event.report_id in open_by_id:
                return None
            verification = open_verification(self.policy, event, now)
            state.verifications.append(verification)
            self.pause(now)
            early = next((d for d in state.early_documents if d.report_id == event.report_id), None)
            if early is not None:  # settled (and recorded) right after this report
                state.early_documents.remove(early)
                state.pending_verifications.insert(1, early)
            return VerificationChange(verification, "awaiting_documents")
        verification = open_by_id.get(event.report_id)
        if verification is None:
            if all(d.report_id != event.report_id for d in state.early_documents):
                state.early_documents.append(event)
            return None
        # Documents that come after the deadline still count: a confirmed death closes the account.
        for pending in (state.verifications, state.expired_verifications):
            if verification in pending:
                pending.remove(verification)
        state.decided_reports.append(event.report_id)
        if event.confirmed:
            self.close_as(closing_status(verification.report.event), now)
        status = "confirmed" if event.confirmed else "not_confirmed"
        return VerificationChange(verification, status, event.verified_at, self.resume_if_nothing_pauses(now))

    def expire_verifications(self, now: datetime) -> list[VerificationChange]:
        """Reports whose documents did not come by their deadline stop pausing collection."""
        changes = []
        for verification in [v for v in self.state.verifications if v.review_by and v.review_by <= now]:
            self.state.verifications.remove(verification)
            self.state.expired_verifications.append(verification)
            changes.append(VerificationChange(verification, "expired", now, self.resume_if_nothing_pauses(now)))
        return changes

    def documents_due(self) -> datetime | None:
        return min((v.review_by for v in self.state.verifications if v.review_by), default=None)

    # --- contact -------------------------------------------------------------------------------------------

    def apply_cease(self, request: CeaseContact) -> bool:
        """False (and a recorded rejection) if the request names no channel that reaches the debtor."""
        if not request.ceased():
            self.state.record_rejection(f"cease request {request.request_id} names no channel that reaches the debtor")
            return False
        ceased = set(self.state.ceased_channels) | request.ceased()
        self.state.ceased_channels = sorted(ceased, key=lambda channel: channel.value)
        return True

    def apply_outcome(self, outcome: ContactOutcome, now: datetime) -> ContactChange:
        """The outcome tree picks the strategy whose reactions come next; failures wear out the contact point."""
        state, book = self.state, self.book
        event_id = outcome.outcome_id
        if event_id in state.outcome_ids:
            return ContactChange("duplicate")
        if problem := outcome_problem(book, outcome):
            state.record_rejection(f"outcome {event_id}: {problem}")
            return ContactChange(f"rejected: {problem}")
        change = ContactChange("applied", STRATEGY_OF[outcome.code])
        state.outcome_ids.append(event_id)
        if outcome.code in CONVERSATIONS and outcome.source != "field_visit":
            self._spoke_with_debtor(outcome.occurred_at, now)
        if outcome.contact_point and book.record_failure(self.policy, outcome.contact_point, outcome.code, now):
            change.changed_points.append(book.find(outcome.contact_point))
        if outcome.code in DEBTOR_EVENT_OF:
            state.pending_verifications.append(
                DebtorEventReported(
                    report_id=event_id,
                    event=DEBTOR_EVENT_OF[outcome.code],
                    reported_at=outcome.occurred_at,
                    details=outcome.note or f"{outcome.code} reported by the {outcome.source}",
                )
            )
        elif change.strategy is not None and state.commitment is None:
            # A new answer replaces the reactions to the last one (tracing goes on while the account is lost); a
            # promise being kept needs none.
            state.agenda = [p for p in state.agenda if p.instalment is not None or p.cause.startswith((LOST, APPROVAL))]
            tried = outcome.contact_point if outcome.code in ("no_answer", "busy") else None
            state.agenda += reactions(self.policy, self.account, change.strategy, now, f"outcome {event_id}", tried)
        if book.debtor_phones_lost() and state.lost_contact_since is None:
            state.lost_contact_since = now
            change.strategy = Strategy.lost_contact
            state.agenda += reactions(self.policy, self.account, change.strategy, now, f"{LOST} {event_id}")
        return change

    def apply_letter_delivery(self, delivery: LetterDelivery, now: datetime) -> ContactChange:
        """The mail vendor's evidence; a letter returned because the address is wrong wears the address out as a
        failed visit would, so later letters and visits go elsewhere or not at all."""
        failure = delivery.address_failure()
        if failure is not None:
            return self.apply_outcome(
                ContactOutcome(
                    outcome_id=delivery.event_id,
                    code=failure,
                    source="letter",
                    contact_point=delivery.address,
                    reported_by="mail vendor",
                    note=delivery.evidence,
                    occurred_at=delivery.occurred_at,
                ),
                now,
            )
        if delivery.event_id in self.state.outcome_ids:
            return ContactChange("duplicate")
        self.state.outcome_ids.append(delivery.event_id)
        return ContactChange("applied")

    # --- approvals -------------------------------------------------------------------------------------------

    def request_approval(self, planned: ladder.PlannedStep, action_key: str, now: datetime) -> ApprovalRequest | None:
        """A step filed as awaiting approval starts waiting for its decision, chased by a reminder and then an
        escalation on the policy's working days (None: it needs none, or the policy leaves approvals to ops)."""
        rules = self.policy.approvals
        if rules is None or not ladder.step_definition(self.policy, planned).requires_approval:
            return None
        ref, zone = approvals.approval_ref(action_key), self.account.time_zone
        chasers = []
        for action, days in (
            (rules.reminder, rules.remind_after_working_days),
            (rules.escalation, rules.escalate_after_working_days),
        ):
            day = self.policy.working_days.add_working_days(local_date(now, zone), days)
            dpd = ladder.dpd_on(self.account.due_date, day)
            chaser = ladder.AgendaStep(
                key=f"{action.id}:{planned.key}",
                step_id=action.id,
                channel=action.channel.value,
                dpd=dpd,
                stage=ladder.stage_id(self.policy, dpd),
                due_at=local_datetime(day, self.policy.send_time, zone),
                cause=f"{APPROVAL}{ref}",
            )
            self.state.agenda.append(chaser)
            chasers.append(chaser.key)
        request = approvals.ApprovalRequest(
            approval_ref=ref,
            action_key=action_key,
            step_key=planned.key,
            step_id=planned.step_id,
            channel=planned.channel,
            requested_at=now,
            chasers=chasers,
        )
        self.state.approvals.append(request)
        return request

    def approval_problem(self, decision: approvals.ApprovalDecision) -> str:
        rules = self.policy.approvals
        if rules is None:
            return "this account's policy takes no approval decisions"
        return approvals.decision_problem(rules.approvers, self.state.approvals, self.state.decided_approvals, decision)

    def apply_approval(self, decision: approvals.ApprovalDecision) -> approvals.ApprovalRequest | None:
        """The decision ends the wait and its chasers; one that cannot be taken is recorded as refused."""
        state = self.state
        if problem := self.approval_problem(decision):
            state.record_rejection(f"approval decision: {problem}")
            return None
        request = next(r for r in state.approvals if r.approval_ref == decision.approval_ref)
        state.approvals.remove(request)
        state.decided_approvals.append(request.approval_ref)
        state.agenda = [p for p in state.agenda if p.key not in request.chasers]
        return request

    # --- placements with outside agencies ------------------------------------------------------------------

    def start_placement(self, action_key: str, agency: Agency, now: datetime) -> Placement:
        self.state.placement = placements.place(agency, action_key, self.state.ledger.outstanding_minor, now)
        return self.state.placement

    def recall_due(self, now: datetime) -> bool:
        return self.state.placement is not None and now >= self.state.placement.recall_at

    def end_placement(self) -> Placement | None:
        ended, self.state.placement = self.state.placement, None
        return ended

    def apply_agency_event(self, event: AgencyReport | RecallRequest, now: datetime) -> str:
        """What the event did ('' if nothing: a resend); an agency's payment goes to the ledger as any payment."""
        state, placement = self.state, self.state.placement
        event_id = event.report_id if isinstance(event, AgencyReport) else event.request_id
        if event_id in state.agency_event_ids:
            return ""
        state.agency_event_ids.append(event_id)
        if isinstance(event, RecallRequest):
            if placement is None:
                state.record_rejection(f"recall {event_id}: the account is not placed")
                return "rejected: the account is not placed"
            return "recalled"
        if placement is None or placement.placement_ref != event.placement_ref:
            state.record_rejection(f"agency report {event_id}: placement {event.placement_ref} is not current")
            return f"rejected: placement {event.placement_ref} is not current"
        if event.kind == "payment":
            placement.recovered_minor += event.amount_minor
            state.pending_payments.append(
                PaymentReceived(
                    payment_id=f"agency-{event_id}",
                    amount_minor=event.amount_minor,
                    currency=self.account.currency,
                    paid_at=event.occurred_at,
                )
            )
        return "recalled" if event.kind == "returned" else "recorded"

    def visit_decision(self, planned: ladder.PlannedStep, now: datetime) -> visits.VisitDecision | None:
        """Whether a field visit may be ordered now (None: not a visit, or a policy that orders every visit)."""
        rules = self.policy.field_visits
        if rules is None or planned.channel != Channel.field_visit.value:
            return None
        purpose = ladder.step_definition(self.policy, planned).visit_purpose
        return visits.decide(rules, purpose, self.book, self.state.last_conversation_at, self.state.last_paid_at, now)

    def apply_visit_report(self, report: visits.VisitReport, now: datetime) -> ContactChange:
        """A visit's finding is an outcome of the tree; a promise made at the door is taken as any other."""
        change = self.apply_outcome(
            ContactOutcome(
                outcome_id=report.report_id,
                code=visits.OUTCOME_OF[report.finding],
                source="field_visit",
                contact_point=report.address,
                reported_by=report.agent,
                note=report.notes,
                occurred_at=report.visited_at,
            ),
            now,
        )
        if change.verdict == "applied" and report.finding == "promised":
            self.state.pending_commitments.append(
                PromiseMade(
                    promise_id=report.report_id,
                    amount_minor=report.promised_minor,
                    promised_date=report.promised_date,
                    channel="field_visit",
                    taken_by=report.agent,
                    made_at=report.visited_at,
                )
            )
        return change

    def _spoke_with_debtor(self, when: datetime, now: datetime) -> None:
        """A telephone conversation about the debt: it starts any cool-down and makes the case valid."""
        spoken = min(when, now)
        self.state.last_conversation_at = max(spoken, self.state.last_conversation_at or spoken)

    def apply_contact_update(self, update: ContactUpdated, now: datetime) -> ContactChange:
        state, book = self.state, self.book
        verdict = "duplicate" if update.update_id in state.outcome_ids else book.update(update)
        if verdict.startswith("rejected"):
            state.record_rejection(f"contact update {update.update_id}: {verdict.removeprefix('rejected: ')}")
        elif verdict != "duplicate":
            state.outcome_ids.append(update.update_id)
            if not book.debtor_phones_lost():
                state.lost_contact_since = None
        changed = [book.find(update.point.value)] if verdict in ("added", "corrected", "revalidated") else []
        skipped = []
        if changed and self._validation_notice_stuck():  # a notice that found no address may go now
            self._owe_validation_notice(now)
            skipped = self.resume_if_nothing_pauses(now)
        return ContactChange(
            verdict,
            changed_points=changed,
            skipped=skipped,
            removed_point=update.replaces if verdict == "corrected" else None,
        )

    # --- promises and plans --------------------------------------------------------------------------------

    def take_commitment(self, event: PromiseMade | PlanProposed, now: datetime) -> list[CommitmentChange]:
        """A valid promise or plan holds the ladder back until it is kept or broken; a new promise replaces an
        open promise, a plan replaces either. Returns what to record, in order (nothing for a resend)."""
        state = self.state
        if isinstance(event, PlanProposed):
            problem, commitment = self.plan_refusal(event, now), commitments.plan_commitment(event, now)
        else:
            problem, commitment = self.promise_refusal(event, now), commitments.promise_commitment(event, now)
        if problem == "duplicate":
            return []
        if isinstance(event, PromiseMade) and event.channel == "call":
            self._spoke_with_debtor(event.made_at, now)  # a promise asked for on the phone, kept or refused
        if problem:
            state.record_rejection(f"{commitment.kind} {commitment.commitment_id}: {problem}")
            state.commitment_ids.append(commitment.commitment_id)
            return [CommitmentChange(commitment, "rejected", event, reason=problem)]
        changes = [self.end_commitment("replaced", now)] if state.commitment is not None else []
        state.commitment = commitment
        state.agenda = [p for p in state.agenda if p.instalment is None]
        state.agenda += commitments.timeline(self.policy, self.account, commitment)
        return changes + [CommitmentChange(commitment, "open", event)]

    def promise_refusal(self, promise: PromiseMade, now: datetime) -> str:
        state = self.state
        if promise.promise_id in state.commitment_ids or (
            state.commitment and state.commitment.commitment_id == promise.promise_id
        ):
            return "duplicate"
        if problem := self._not_collecting():
            return problem
        if state.commitment is not None and state.commitment.kind == "plan":
            return f"plan {state.commitment.commitment_id} is running; its instalments are the promise"
        return commitments.promise_problem(self.policy, self.account, promise, state.ledger.outstanding_minor, now)

    def plan_refusal(self, plan: PlanProposed, now: datetime) -> str:
        state = self.state
        if plan.plan_id in state.commitment_ids or (
            state.commitment and state.commitment.commitment_id == plan.plan_id
        ):
            return f"plan {plan.plan_id} was already taken or refused"
        if problem := self._not_collecting():
            return problem
        return commitments.plan_problem(self.policy, self.account, plan, state.ledger.outstanding_minor, now)

    def _not_collecting(self) -> str:
        """Why no promise or plan can be taken now ('' if one can)."""
        if self.state.status != "open":
            return f"the account is {self.state.status}"
        if self.state.paused_since is not None:
            return "collection is on hold (a dispute, a death or bankruptcy report, or a fraud claim)"
        return ""

    def review_commitment(self, now: datetime) -> CommitmentChange | None:
        """Ends the open promise or plan once it is kept, or its grace ran out."""
        commitment = self.state.commitment
        if commitment is None:
            return None
        verdict = commitments.review(self.policy, self.account, commitment, now)
        return None if verdict == "open" else self.end_commitment(verdict, now)

    def close_commitment(self, now: datetime) -> CommitmentChange | None:
        """The account closed with a promise or plan open: kept if the money covered it."""
        commitment = self.state.commitment
        if commitment is None:
            return None
        kept = commitments.review(self.policy, self.account, commitment, now) == "kept"
        return self.end_commitment("kept" if kept else "closed", now)

    def end_commitment(self, verdict: str, now: datetime) -> CommitmentChange:
        """Closes the open commitment as `verdict`. Broken (or kept only in part), it counts against the debtor
        and the broken-promise treatment (strategy 2) starts; either way the ladder resumes at today's dpd."""
        state, commitment = self.state, self.state.commitment
        assert commitment is not None
        state.commitment = None
        state.commitment_ids.append(commitment.commitment_id)
        state.agenda = [p for p in state.agenda if p.instalment is None]
        treatment = (
            reactions(
                self.policy, self.account, Strategy.broken_promise, now, f"{commitment.kind} {commitment.commitment_id}"
            )
            if verdict in ("broken", "kept_in_part")
            else []
        )
        # The treatment's text or call stands in for the ladder's catch-up on its channel: one contact, not two.
        covered = frozenset(p.channel for p in treatment if p.due_at <= now and self.treatment_replaces_catch_up)
        skipped = self.skip_missed_steps(now, covered) if state.status == "open" and verdict != "replaced" else []
        if verdict == "broken":
            state.broken_promises += 1
        if state.status == "open":
            state.agenda += treatment
        return CommitmentChange(commitment, verdict, skipped=skipped)

    # --- false-application claims --------------------------------------------------------------------------

    def apply_claim(self, event: FraudClaimed | FraudClaimDecided, now: datetime) -> ClaimChange | None:
        """A claim stops contact at once; its decision withdraws the account or resumes collection."""
        state = self.state
        open_claims = {c.claim_id: c for c in state.fraud_claims}
        if event.claim_id in state.decided_claims:
            return None  # a resend
        if isinstance(event, FraudClaimed):
            if event.claim_id in open_claims:
                return None
            if problem := claim_problem(self.policy):
                state.record_rejection(f"fraud claim {event.claim_id}: {problem}")
                state.decided_claims.append(event.claim_id)
                return None
            state.fraud_claims.append(event)
            self.pause(now)
            return ClaimChange(start=event)
        if event.claim_id not in open_claims:
            state.record_rejection(f"decision for fraud claim {event.claim_id}, but no such claim is open")
            return None
        state.fraud_claims.remove(open_claims[event.claim_id])
        state.decided_claims.append(event.claim_id)
        if event.outcome == "confirmed":
            self.close_as("withdrawn", now)
        return ClaimChange(decided=event, skipped=self.resume_if_nothing_pauses(now))

    # --- what ops see --------------------------------------------------------------------------------------

    def view(self, now: datetime) -> AccountView:
        return account_view(self.account, self.policy, self.state, now, self.next_step, self.book.invalid())
