"""Contact outcomes (domain §6's outcome tree), the strategies they call for, and the contact book whose points
turn invalid after the failures of §3."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, get_args

from pydantic import AwareDatetime, BaseModel, Field

from dunning.account import PHONE_KINDS, AccountDocument, ContactPoint, EventId, Payload, local_date, local_datetime
from dunning.actions import Strategy
from dunning.ladder import AgendaStep, dpd_on, stage_id
from dunning.policy import Policy
from dunning.policy_rules import PointFailure

OutcomeCode = Literal[
    "reached",
    "promised",
    "unable_to_pay",
    "unwilling_to_pay",
    "bankruptcy",
    "death",  # reached
    "no_answer",
    "busy",
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
}
DEBTOR_EVENT_OF = {"bankruptcy": "bankrupt", "death": "deceased"}
# Outcomes of a call in which the debtor was spoken to (Reg F's "telephone conversation").
CONVERSATIONS = ("reached", "promised", "unable_to_pay", "unwilling_to_pay")


class ContactOutcome(Payload):
    """How one contact attempt ended, from a collector, the dialer or a field visit."""

    outcome_id: EventId
    code: OutcomeCode
    source: Literal["collector", "dialer", "field_visit", "sms", "email", "letter"]
    contact_point: str | None = None  # the number dialled or the address visited, as on file
    reported_by: str = Field(min_length=1, max_length=128)
    note: str = Field(default="", max_length=2000)
    occurred_at: AwareDatetime


class ContactUpdated(Payload):
    """A new contact point found (by the debtor, tracing or a visit), or a correction of one on file."""

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
            else policy.contact_points.invalid_after.get(code)
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

    def update(self, update: ContactUpdated) -> str:
        """Adds or corrects a point; a point given again is valid again, with its counts cleared. Returns what
        changed, or a rejection that starts with 'rejected:'."""
        if update.replaces is not None:
            old = self.find(update.replaces)
            if old is None:
                return "rejected: the point it corrects is not on file"
            self.records.remove(old)
        existing = self.find(update.point.value)
        if existing is not None:
            self.records.remove(existing)
        self.records.append(PointRecord(point=update.point))
        return "corrected" if update.replaces is not None else "revalidated" if existing else "added"


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
