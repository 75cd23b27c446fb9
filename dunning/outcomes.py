"""Contact outcomes (domain §6's outcome tree), the strategies they call for, and the contact book whose points
turn invalid after the failures of §3."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, cast, get_args

from pydantic import AwareDatetime, BaseModel, Field

from dunning.account import PHONE_KINDS, AccountDocument, ContactPoint, EventId, Payload, local_date, local_datetime
from dunning.actions import Strategy
from dunning.approvals import APPROVAL
from dunning.change import Change
from dunning.channels import Channel
from dunning.ladder import AgendaStep, dpd_at, dpd_on, stage_id
from dunning.policy import Policy
from dunning.policy_rules import PointFailure
from dunning.statements import STATEMENT
from dunning.verification import DebtorEvent, DebtorEventReported

if TYPE_CHECKING:
    from dunning.collection import Collection

OutcomeCode = Literal[
    "reached",
    "promised",
    "unable_to_pay",
    "unwilling_to_pay",
    "bankruptcy",
    "death",  # reached
    "no_answer",
    "busy",
    "message_left",  # with family or friends, to pass on (domain §4)
    "not_found",  # not reached, for now
    "line_dead",
    "wrong_number",
    "no_such_person",
    "resigned",
    "moved",
    "address_invalid",  # the point failed
    "invalid_number",
    "invalid_email",  # the carrier or mail server says it cannot receive at all: invalid at once
    "says_paid",
    "callback_requested",  # the debtor's written replies
]
POINT_FAILURES: tuple[str, ...] = get_args(PointFailure)
INVALID_AT_ONCE = ("invalid_number", "invalid_email")  # not a matter of counting: no policy may keep such a point

# The outcome tree: what each answer calls for. A reached debtor who promised is followed by the promise itself;
# a failed point is tried elsewhere first, and lost contact once no debtor phone is left.
STRATEGY_OF: dict[str, Strategy | None] = {
    "reached": None,
    "promised": None,
    "unable_to_pay": Strategy.unable_to_pay,
    "unwilling_to_pay": Strategy.unwilling_to_pay,
    "bankruptcy": Strategy.death_or_bankruptcy,
    "death": Strategy.death_or_bankruptcy,
    **{code: Strategy.no_answer for code in ("no_answer", "busy", "not_found", *INVALID_AT_ONCE, *POINT_FAILURES)},
    "says_paid": Strategy.claims_paid,
    "callback_requested": Strategy.callback,
    "message_left": Strategy.message_left,
}
UNANSWERED = ("no_answer", "busy")  # calls that rang out: in a row, they bring a field visit where the policy says
DEBTOR_EVENT_OF: dict[str, DebtorEvent] = {"bankruptcy": "bankrupt", "death": "deceased"}
LOST = "lost"  # the cause of the reactions to lost contact
# Outcomes of a call in which the debtor was spoken to (Reg F's "telephone conversation").
CONVERSATIONS = ("reached", "promised", "unable_to_pay", "unwilling_to_pay")


class ContactOutcome(Payload):
    """How one contact attempt ended, from a collector, the dialer or a field visit."""

    news: Literal["contact_outcome"] = Field(default="contact_outcome", exclude=True)  # its inbox tag
    outcome_id: EventId
    code: OutcomeCode
    source: Literal["collector", "dialer", "field_visit", "sms", "email", "letter"]
    contact_point: str | None = None  # the number dialled or the address visited, as on file
    reported_by: str = Field(min_length=1, max_length=128)
    note: str = Field(default="", max_length=2000)
    occurred_at: AwareDatetime


class ContactUpdated(Payload):
    """A new contact point found (by the debtor, tracing or a visit), or a correction of one on file."""

    news: Literal["contact_updated"] = Field(default="contact_updated", exclude=True)  # its inbox tag
    update_id: EventId
    point: ContactPoint
    replaces: str | None = None  # the value it corrects; that point is dropped
    source: str = Field(min_length=1, max_length=128)
    updated_at: AwareDatetime


class PointRecord(BaseModel):
    point: ContactPoint
    failures: dict[str, int] = {}
    invalid_since: datetime | None = None
    invalid_because: str = ""


class ContactBook(BaseModel):
    """The account's contact points with their failure counts; invalid points are never used again."""

    records: list[PointRecord]

    @classmethod
    def of(cls, account: AccountDocument) -> ContactBook:
        return cls(records=[PointRecord(point=p) for p in account.contact_points])

    def usable(self) -> list[ContactPoint]:
        return [r.point for r in self.records if r.invalid_since is None]

    def find(self, value: str) -> PointRecord | None:
        return next((r for r in self.records if r.point.value == value), None)

    def invalid(self) -> list[PointRecord]:
        return [r for r in self.records if r.invalid_since is not None]

    def debtor_phones_lost(self) -> bool:
        """Every phone of the debtor is invalid (lost contact, strategy 7); an account with none is not 'lost'."""
        phones = [r for r in self.records if r.point.owner == "debtor" and r.point.kind in PHONE_KINDS]
        return bool(phones) and all(r.invalid_since is not None for r in phones)

    def record_failure(self, policy: Policy, value: str, code: str, at: datetime) -> bool:
        """Counts a failure of the point; True when this made it invalid."""
        record = self.find(value)
        limit = (
            1
            if code in INVALID_AT_ONCE
            else policy.contact_points.invalid_after.get(cast(PointFailure, code))
            if policy.contact_points
            else None
        )
        if record is None or record.invalid_since is not None:
            return False
        record.failures[code] = record.failures.get(code, 0) + 1
        if limit is not None and record.failures[code] >= limit:
            record.invalid_since = at
            record.invalid_because = f"{code} {record.failures[code]} times"
            return True
        return False

    def get(self, value: str) -> PointRecord:
        """The record of a point known to be on file."""
        record = self.find(value)
        assert record is not None, "the point is on file"
        return record

    def update(self, update: ContactUpdated) -> Change[None]:
        """Adds or corrects a point; a point given again is valid again, with its counts cleared. Applied, its
        reason says what it did (added, corrected, revalidated)."""
        if update.replaces is not None:
            old = self.find(update.replaces)
            if old is None:
                return Change("refused", "the point it corrects is not on file")
            self.records.remove(old)
        existing = self.find(update.point.value)
        if existing is not None:
            self.records.remove(existing)
        self.records.append(PointRecord(point=update.point))
        return Change("applied", "corrected" if update.replaces is not None else "revalidated" if existing else "added")


def outcome_problem(book: ContactBook, outcome: ContactOutcome) -> str:
    """Why this outcome cannot be recorded ('' if it can)."""
    if outcome.code in (*POINT_FAILURES, *INVALID_AT_ONCE) and outcome.contact_point is None:
        return f"outcome {outcome.code} needs the contact point it is about"
    if outcome.contact_point is not None and book.find(outcome.contact_point) is None:
        return f"outcome {outcome.outcome_id} names a contact point that is not on file"
    return ""


def reactions(
    policy: Policy,
    account: AccountDocument,
    strategy: Strategy,
    now: datetime,
    cause: str,
    tried_last: str | None = None,
) -> list[AgendaStep]:
    """The policy's reactions for a strategy, placed from `now`: on their day at their time (the send time by
    default), or at once when that time has passed today."""
    planned = []
    for reaction in policy.strategies.get(strategy, []):
        day = local_date(now, account.time_zone) + timedelta(days=reaction.after_days)
        at = max(local_datetime(day, reaction.at or policy.send_time, account.time_zone), now)
        dpd = dpd_on(account.due_date, local_date(at, account.time_zone))
        planned.append(
            AgendaStep(
                key=f"{reaction.id}:{cause.replace(' ', '-')}",
                step_id=reaction.id,
                channel=reaction.channel.value,
                dpd=dpd,
                stage=stage_id(policy, dpd),
                due_at=at,
                cause=cause,
                tried_last=tried_last,
            )
        )
    return planned


@dataclass
class ContactEffect:
    """What an outcome or update did: the strategy whose reactions come next, and the points it changed."""

    strategy: Strategy | None = None
    changed_points: list[PointRecord] = field(default_factory=list)
    removed_point: str | None = None
    third_party_breach: str = ""  # a call on a contact person's phone the rule set did not allow then: why
    withheld: dict[str, str] = field(default_factory=dict)  # contact persons' phones to take off open call tasks


def apply_outcome(case: Collection, outcome: ContactOutcome, now: datetime) -> Change[ContactEffect]:
    """The outcome tree picks the strategy whose reactions come next; failures wear out the contact point. A
    death or bankruptcy comes with its report as news."""
    state, book = case.state, case.book
    event_id = outcome.outcome_id
    if event_id in state.outcome_ids:
        return Change("duplicate")
    if problem := outcome_problem(book, outcome):
        state.record_rejection(f"outcome {event_id}: {problem}")
        return Change("refused", problem)
    effect = ContactEffect(STRATEGY_OF[outcome.code])
    change = Change("applied", detail=effect)
    state.outcome_ids.append(event_id)
    called = book.find(outcome.contact_point) if outcome.contact_point else None
    third_party = called is not None and called.point.owner != "debtor" and outcome.source in ("collector", "dialer")
    if third_party and called is not None:
        effect.third_party_breach = case.called_third_party(called.point.value, outcome.code, outcome.occurred_at)
    elif outcome.code in CONVERSATIONS and outcome.source != "field_visit":
        case.spoke_with_debtor(outcome.occurred_at, now)
    if third_party or outcome.code in CONVERSATIONS:
        effect.withheld = case.third_party_refusals(now)  # the debtor reached, or a person called: calls change
    if outcome.contact_point and book.record_failure(case.policy, outcome.contact_point, outcome.code, now):
        effect.changed_points.append(book.get(outcome.contact_point))
    effect.strategy = _cadence(case, outcome, effect.strategy, now)
    if outcome.code in DEBTOR_EVENT_OF:
        report = DebtorEventReported(
            report_id=event_id,
            event=DEBTOR_EVENT_OF[outcome.code],
            reported_at=outcome.occurred_at,
            details=outcome.note or f"{outcome.code} reported by the {outcome.source}",
        )
        change.news.append(report)
    elif effect.strategy is not None and state.commitment is None:
        # A new answer replaces the reactions to the last one (tracing goes on while the account is lost, and
        # approvals and statements are chased as before); a promise being kept needs none.
        kept = (LOST, APPROVAL, STATEMENT)
        state.agenda = [p for p in state.agenda if p.instalment is not None or p.cause.startswith(kept)]
        tried = outcome.contact_point if outcome.code in UNANSWERED else None
        state.agenda += reactions(case.policy, case.account, effect.strategy, now, f"outcome {event_id}", tried)
    if book.debtor_phones_lost() and state.lost_contact_since is None:
        state.lost_contact_since = now
        # A debtor never reached at all is not one lost mid-way (strategy 7): each has its own next steps.
        never = state.last_conversation_at is None and Strategy.never_reached in case.policy.strategies
        effect.strategy = Strategy.never_reached if never else Strategy.lost_contact
        state.agenda += reactions(case.policy, case.account, effect.strategy, now, f"{LOST} {event_id}")
    return change


def apply_contact_update(case: Collection, update: ContactUpdated, now: datetime) -> Change[ContactEffect]:
    """A point found or corrected; a validation notice that found no address may go now."""
    state, book = case.state, case.book
    if update.update_id in state.outcome_ids:
        return Change("duplicate")
    done = book.update(update)
    if done.verdict == "refused":
        state.record_rejection(f"contact update {update.update_id}: {done.reason}")
        return Change("refused", done.reason)
    state.outcome_ids.append(update.update_id)
    if not book.debtor_phones_lost():
        state.lost_contact_since = None
    skipped = []
    if case.validation_notice_stuck():
        case.owe_validation_notice(now)
        skipped = case.resume_if_nothing_pauses(now)
    effect = ContactEffect(
        changed_points=[book.get(update.point.value)],
        removed_point=update.replaces,
    )
    return Change("applied", done.reason, detail=effect, skipped=skipped)


def _cadence(case: Collection, outcome: ContactOutcome, strategy: Strategy | None, now: datetime) -> Strategy | None:
    """Domain §4's cadences, where the policy has their reactions: a second message left is pressed later than the
    first, and unanswered calls in a row up to the policy's number bring a visit where the stage uses visits (and
    start the count again; elsewhere the calls go on); a conversation ends the run of unanswered calls. Policies
    without those reactions keep the plain strategy."""
    state, strategies = case.state, case.policy.strategies
    if outcome.code in CONVERSATIONS:
        state.unanswered_calls = 0
    if outcome.code == "message_left":
        state.messages_left += 1
        if state.messages_left > 1 and Strategy.second_message_left in strategies:
            return Strategy.second_message_left
    visits = case.policy.field_visits
    threshold = visits.after_unanswered_calls if visits else None
    if outcome.code in UNANSWERED and outcome.source in ("collector", "dialer"):
        state.unanswered_calls += 1
        stage = case.policy.stage_at(dpd_at(case.account, now))
        visits_now = stage is not None and Channel.field_visit in stage.channels
        if (
            threshold
            and state.unanswered_calls >= threshold
            and visits_now
            and Strategy.repeated_no_answer in strategies
        ):
            state.unanswered_calls = 0
            return Strategy.repeated_no_answer
    return strategy
