"""Promises to pay (domain §5) and repayment plans (§6 strategy 4, §11): dated instalments the debtor commits to.

A promise is a commitment of one instalment; a plan has several (an extension is a plan of one, further out).
While a commitment is open the ladder does not escalate; each instalment gets a reminder some working days before
and confirmations on its day, and counts as missed when the grace after it ends without the money.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, BaseModel, Field

from dunning.account import MAX_MINOR, AccountDocument, EventId, Payload, local_date, local_datetime
from dunning.actions import Action, Strategy
from dunning.change import Change
from dunning.ladder import AgendaStep, PlannedStep, dpd_on, stage_id
from dunning.ledger import LedgerEntry
from dunning.money import to_minor
from dunning.outcomes import reactions
from dunning.policy import Policy
from dunning.policy_rules import CommitmentRules

if TYPE_CHECKING:
    from dunning.collection import Collection

PromiseChannel = Literal["call", "sms", "email", "field_visit", "web", "branch"]
Verdict = Literal["open", "kept", "kept_in_part", "broken"]


class PromiseMade(Payload):
    """The debtor promised to pay `amount_minor` on `promised_date` (by `promised_hour`, if they named one)."""

    news: Literal["promise_made"] = Field(default="promise_made", exclude=True)  # its inbox tag
    promise_id: EventId
    amount_minor: int = Field(le=MAX_MINOR)
    promised_date: date
    promised_hour: time | None = None
    channel: PromiseChannel
    taken_by: str = Field(min_length=1, max_length=128)  # the collector, or the dialer / IVR that took it
    made_at: AwareDatetime


class Instalment(Payload):
    amount_minor: int = Field(ge=0, le=MAX_MINOR)  # zero is refused by the account, with its reason
    due_date: date


HardshipCause = Literal["job_loss", "income_drop", "business_failure", "illness", "family", "other"]


class PlanProposed(Payload):
    """A repayment plan (or, with one later instalment, an extension) agreed with a debtor who cannot pay now."""

    news: Literal["plan_proposed"] = Field(default="plan_proposed", exclude=True)  # its inbox tag
    plan_id: EventId
    instalments: list[Instalment] = Field(min_length=1)
    cause: HardshipCause
    agreed_by: str = Field(min_length=1, max_length=128)
    agreed_at: AwareDatetime


class PromiseFacts(Payload):
    """What a reminder quotes: the amount still to pay of the instalment, and its day."""

    amount_minor: int
    due_date: date


class Commitment(BaseModel):
    """An open promise or plan, and the money received toward it since it was made."""

    kind: Literal["promise", "plan"]
    commitment_id: str
    instalments: list[Instalment]
    promised_hour: time | None = None
    made_at: datetime  # when the account took it on
    paid_minor: int = 0

    @property
    def total_minor(self) -> int:
        return sum(i.amount_minor for i in self.instalments)


def promise_problem(
    policy: Policy, account: AccountDocument, promise: PromiseMade, outstanding_minor: int, now: datetime
) -> str:
    """Why this promise cannot be accepted ('' if it can), judged when the account takes it (`now`)."""
    rules = policy.promises
    if rules is None:
        return f"policy {policy.ref} takes no promises to pay"
    if promise.amount_minor <= 0:
        return f"promised amount must be more than zero, got {promise.amount_minor}"
    if promise.amount_minor > outstanding_minor:
        return f"promised amount {promise.amount_minor} is more than the {outstanding_minor} owed"
    made = local_date(now, account.time_zone)
    if promise.promised_date < made or (
        promise.promised_hour is not None
        and local_datetime(promise.promised_date, promise.promised_hour, account.time_zone) <= now
    ):
        return f"promised date {promise.promised_date} is already past ({made})"
    if (promise.promised_date - made).days > rules.max_days_out:
        return (
            f"promised date {promise.promised_date} is more than {rules.max_days_out} days after the promise "
            f"({made}); agree a plan instead"
        )
    return ""


def plan_problem(
    policy: Policy, account: AccountDocument, plan: PlanProposed, outstanding_minor: int, now: datetime
) -> str:
    """Why this plan cannot be agreed ('' if it can): it must clear the balance, in order, within the limits
    counted from `now`, when the account takes it."""
    rules = policy.plans
    if rules is None:
        return f"policy {policy.ref} offers no repayment plans"
    dates = [i.due_date for i in plan.instalments]
    total = sum(i.amount_minor for i in plan.instalments)
    agreed = local_date(now, account.time_zone)
    if any(i.amount_minor <= 0 for i in plan.instalments):
        return "every instalment must be more than zero"
    if total != outstanding_minor:
        return f"instalments add up to {total} but the account owes {outstanding_minor}"
    if any(later <= earlier for earlier, later in zip(dates, dates[1:])):
        return "instalment dates must be in ascending order, one instalment a day at most"
    if len(dates) > rules.max_instalments:
        return f"{len(dates)} instalments, more than the {rules.max_instalments} the policy allows"
    if dates[0] < agreed:
        return f"first instalment {dates[0]} is before the day the plan was agreed ({agreed})"
    if (dates[0] - agreed).days > rules.first_within_days:
        return f"first instalment {dates[0]} is more than {rules.first_within_days} days after agreement"
    if (dates[-1] - agreed).days > rules.last_within_days:
        return f"last instalment {dates[-1]} is more than {rules.last_within_days} days after agreement"
    return ""


def promise_commitment(promise: PromiseMade, now: datetime) -> Commitment:
    return Commitment(
        kind="promise",
        commitment_id=promise.promise_id,
        promised_hour=promise.promised_hour,
        instalments=[Instalment(amount_minor=promise.amount_minor, due_date=promise.promised_date)],
        made_at=now,
    )


def plan_commitment(plan: PlanProposed, now: datetime) -> Commitment:
    return Commitment(kind="plan", commitment_id=plan.plan_id, instalments=plan.instalments, made_at=now)


def rules_for(policy: Policy, commitment: Commitment) -> CommitmentRules:
    rules = policy.promises if commitment.kind == "promise" else policy.plans
    assert rules is not None, "a commitment is only opened under a policy that has rules for it"
    return rules


def missed_at(policy: Policy, account: AccountDocument, commitment: Commitment, index: int) -> datetime:
    """When the grace after instalment `index` has run out: the policy's send time on the day after its last working
    day (so what follows, such as resuming the ladder, happens at a decent hour)."""
    rules = rules_for(policy, commitment)
    due = commitment.instalments[index].due_date
    last_day = policy.working_days.add_working_days(due, rules.grace_working_days) if rules.grace_working_days else due
    return local_datetime(last_day + timedelta(days=1), policy.send_time, account.time_zone)


def next_check(policy: Policy, account: AccountDocument, commitment: Commitment) -> datetime:
    """When the first instalment not yet covered by the money runs out of grace."""
    return missed_at(policy, account, commitment, covered(commitment))


def review(policy: Policy, account: AccountDocument, commitment: Commitment, now: datetime) -> Verdict:
    """Kept when the money covers every instalment; when one's grace ends short, a plan is broken, and a promise
    is broken, or kept in part if some of the money came."""
    paid = covered(commitment)
    if paid == len(commitment.instalments):
        return "kept"
    if missed_at(policy, account, commitment, paid) > now:
        return "open"
    if commitment.kind == "promise" and commitment.paid_minor > 0:
        return "kept_in_part"
    return "broken"


def covered(commitment: Commitment) -> int:
    """How many instalments, in order, the money received so far covers."""
    due = 0
    for index, instalment in enumerate(commitment.instalments):
        due += instalment.amount_minor
        if commitment.paid_minor < due:
            return index
    return len(commitment.instalments)


def timeline(policy: Policy, account: AccountDocument, commitment: Commitment) -> list[AgendaStep]:
    """The reminders and confirmations of every instalment, those still ahead of when it was made."""
    rules = rules_for(policy, commitment)
    planned: list[AgendaStep] = []
    for number, instalment in enumerate(commitment.instalments, start=1):
        moments: list[tuple[Action, datetime]] = []
        if rules.reminder:
            day = policy.working_days.add_working_days(instalment.due_date, -rules.reminder_working_days_before)
            moments.append((rules.reminder, local_datetime(day, policy.send_time, account.time_zone)))
        if rules.confirmation:
            moments += [(rules.confirmation, at) for at in _confirmations(rules, account, commitment, instalment)]
        for index, (action, at) in enumerate(moments):
            if at <= commitment.made_at:
                continue
            dpd = dpd_on(account.due_date, local_date(at, account.time_zone))
            planned.append(
                AgendaStep(
                    key=f"{action.id}:{commitment.commitment_id}#{number}.{index}",
                    step_id=action.id,
                    channel=action.channel.value,
                    dpd=dpd,
                    stage=stage_id(policy, dpd),
                    due_at=at,
                    cause=f"{commitment.kind} {commitment.commitment_id}",
                    instalment=number,
                )
            )
    return sorted(planned, key=lambda p: p.due_at)


def _confirmations(
    rules: CommitmentRules, account: AccountDocument, commitment: Commitment, instalment: Instalment
) -> list[datetime]:
    """On the day: at the policy's times, or some minutes before the hour the debtor named."""
    if commitment.promised_hour is not None and rules.confirm_minutes_before_hour:
        hour = local_datetime(instalment.due_date, commitment.promised_hour, account.time_zone)
        return [hour - timedelta(minutes=rules.confirm_minutes_before_hour)]
    return [local_datetime(instalment.due_date, at, account.time_zone) for at in rules.confirm_at]


def promise_facts(commitment: Commitment, number: int) -> PromiseFacts:
    """What a reminder of instalment `number` (from 1) quotes: what is still to pay of it, and its day."""
    instalment = commitment.instalments[number - 1]
    due_through = sum(i.amount_minor for i in commitment.instalments[:number])
    return PromiseFacts(
        amount_minor=min(instalment.amount_minor, max(due_through - commitment.paid_minor, 0)),
        due_date=instalment.due_date,
    )


@dataclass
class CommitmentOutcome:
    """Where a promise or plan stands now, for its record."""

    commitment: Commitment
    status: Literal["open", "rejected", "kept", "kept_in_part", "broken", "replaced", "closed"]
    event: PromiseMade | PlanProposed | None = None
    reason: str = ""
    skipped: list[PlannedStep] = field(default_factory=list)
    fee: LedgerEntry | None = None  # the failed-debit fee a broken promise cost, where the policy posts one


def take_commitment(
    case: Collection, event: PromiseMade | PlanProposed, now: datetime
) -> Change[list[CommitmentOutcome]]:
    """A valid promise or plan holds the ladder back until it is kept or broken; a new promise replaces an open
    promise, a plan replaces either. Its detail is what to record, in order."""
    state = case.state
    if isinstance(event, PlanProposed):
        problem, commitment = plan_refusal(case, event, now), plan_commitment(event, now)
    else:
        problem, commitment = promise_refusal(case, event, now), promise_commitment(event, now)
    if problem == "duplicate":
        return Change("duplicate")
    if isinstance(event, PromiseMade) and event.channel == "call":
        case.spoke_with_debtor(event.made_at, now)  # a promise asked for on the phone, kept or refused
    if problem:
        state.record_rejection(f"{commitment.kind} {commitment.commitment_id}: {problem}")
        state.commitment_ids.append(commitment.commitment_id)
        return Change("refused", problem, detail=[CommitmentOutcome(commitment, "rejected", event, reason=problem)])
    outcomes = [end_commitment(case, "replaced", now)] if state.commitment is not None else []
    state.commitment = commitment
    state.agenda = [p for p in state.agenda if p.instalment is None]
    state.agenda += timeline(case.policy, case.account, commitment)
    return Change("applied", detail=outcomes + [CommitmentOutcome(commitment, "open", event)])


def promise_refusal(case: Collection, promise: PromiseMade, now: datetime) -> str:
    state = case.state
    if promise.promise_id in state.commitment_ids or (
        state.commitment and state.commitment.commitment_id == promise.promise_id
    ):
        return "duplicate"
    if problem := _not_collecting(case):
        return problem
    if state.commitment is not None and state.commitment.kind == "plan":
        return f"plan {state.commitment.commitment_id} is running; its instalments are the promise"
    return promise_problem(case.policy, case.account, promise, state.ledger.outstanding_minor, now)


def plan_refusal(case: Collection, plan: PlanProposed, now: datetime) -> str:
    state = case.state
    if plan.plan_id in state.commitment_ids or (state.commitment and state.commitment.commitment_id == plan.plan_id):
        return f"plan {plan.plan_id} was already taken or refused"
    if problem := _not_collecting(case):
        return problem
    return plan_problem(case.policy, case.account, plan, state.ledger.outstanding_minor, now)


def _not_collecting(case: Collection) -> str:
    """Why no promise or plan can be taken now ('' if one can)."""
    if case.state.status != "open":
        return f"the account is {case.state.status}"
    if case.state.paused_since is not None:
        return "collection is on hold (a dispute, a death or bankruptcy report, or a fraud claim)"
    return ""


def review_commitment(case: Collection, now: datetime) -> CommitmentOutcome | None:
    """Ends the open promise or plan once it is kept, or its grace ran out."""
    commitment = case.state.commitment
    if commitment is None:
        return None
    verdict = review(case.policy, case.account, commitment, now)
    return None if verdict == "open" else end_commitment(case, verdict, now)


def close_commitment(case: Collection, now: datetime) -> CommitmentOutcome | None:
    """The account closed with a promise or plan open: kept if the money covered it."""
    commitment = case.state.commitment
    if commitment is None:
        return None
    kept = review(case.policy, case.account, commitment, now) == "kept"
    return end_commitment(case, "kept" if kept else "closed", now)


def end_commitment(
    case: Collection, verdict: Literal["kept", "kept_in_part", "broken", "replaced", "closed"], now: datetime
) -> CommitmentOutcome:
    """Closes the open commitment as `verdict`. Broken (or kept only in part), it counts against the debtor
    and the broken-promise treatment (strategy 2) starts; either way the ladder resumes at today's dpd."""
    state, commitment = case.state, case.state.commitment
    assert commitment is not None
    state.commitment = None
    state.commitment_ids.append(commitment.commitment_id)
    state.agenda = [p for p in state.agenda if p.instalment is None]
    treatment = (
        reactions(
            case.policy, case.account, Strategy.broken_promise, now, f"{commitment.kind} {commitment.commitment_id}"
        )
        if verdict in ("broken", "kept_in_part")
        else []
    )
    # The treatment's text or call stands in for the ladder's catch-up on its channel: one contact, not two.
    channels = frozenset(p.channel for p in treatment if p.due_at <= now and case.treatment_replaces_catch_up)
    skipped = case.skip_missed_steps(now, channels) if state.status == "open" and verdict != "replaced" else []
    fee = failed_debit_fee(case, commitment, now) if verdict == "broken" else None
    if verdict == "broken":
        state.broken_promises += 1
    if state.status == "open":
        state.agenda += treatment
    return CommitmentOutcome(commitment, verdict, skipped=skipped, fee=fee)


def failed_debit_fee(case: Collection, commitment: Commitment, now: datetime) -> LedgerEntry | None:
    """A broken promise's failed-debit fee (domain §5), owed with the fees when the policy names one in the account's
    currency (None: it names none, or this is a plan)."""
    rules = case.policy.promises
    amount = rules.failed_debit_fee.get(case.account.currency) if rules and commitment.kind == "promise" else None
    if amount is None:
        return None
    fee = to_minor(amount, case.account.currency)
    return case.state.ledger.post_fee(commitment.commitment_id, "failed_debit_fee", fee, now)
