"""What a policy's ladder is built from: stages, and the actions it takes on a channel (ladder steps on a
schedule, reactions to what happened, reminders)."""

from __future__ import annotations

from datetime import time
from enum import Enum
from typing import Literal

from pydantic import Field, model_validator

from dunning.channels import APPROVABLE, Channel, ThirdParties
from dunning.datafile import Strict


class CallCadence(Strict):
    attempts_per_day: int = Field(ge=1)
    min_numbers: int = Field(ge=1)


class Stage(Strict):
    id: str = Field(pattern=r"^[a-z0-9_+\-]+$")
    from_dpd: int
    to_dpd: int | None = None  # None: open-ended, the last stage
    tone: str
    phone_order: list[str] = []
    third_parties: ThirdParties = ThirdParties.none
    channels: list[Channel]
    call_cadence: CallCadence | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Stage:
        if self.to_dpd is not None and self.to_dpd < self.from_dpd:
            raise ValueError(f"to_dpd ({self.to_dpd}) is before from_dpd ({self.from_dpd})")
        if Channel.call in self.channels and self.call_cadence is None:
            raise ValueError("a stage that allows calls needs a call_cadence")
        return self

    def covers(self, dpd: int) -> bool:
        return self.from_dpd <= dpd and (self.to_dpd is None or dpd <= self.to_dpd)


class Schedule(Strict):
    """When a step fires: on listed dpds, or every N days over a range of dpds."""

    at: list[int] = []
    start: int | None = None
    end: int | None = None
    every: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_form(self) -> Schedule:
        ranged = (self.start, self.end, self.every)
        if self.at and any(v is not None for v in ranged):
            raise ValueError("use either 'at' or 'start'/'end'/'every', not both")
        if not self.at and None in ranged:
            raise ValueError("give 'at' (a list of dpds) or all of 'start', 'end' and 'every'")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"'end' ({self.end}) is before 'start' ({self.start})")
        return self

    def dpds(self) -> list[int]:
        if self.at:
            return sorted(set(self.at))
        assert self.start is not None and self.end is not None and self.every is not None
        return list(range(self.start, self.end + 1, self.every))


class Action(Strict):
    """Something the account does on one channel: what a ladder step, a strategy's reaction or a promise
    reminder each carry out."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    channel: Channel
    template: str | None = None  # sms, email, letter
    letter_kind: str | None = None
    delivery: Literal["ordinary", "registered", "signed_receipt"] | None = None
    visit_purpose: Literal["pressure", "tracing", "no_answer", "on_site"] | None = None
    attach_letter: str | None = None  # e-mail: a letter template sent along as its PDF (a statement of account)
    task: str | None = None  # internal: who or what (supervisor, manager, customer_lock, write_off_review)
    requires_approval: bool = False
    # Still sent after the debtor asked us to stop: only a notice that a specific remedy will be invoked
    # (15 USC 1692c(c)(3)), such as a lawyer's letter.
    allowed_after_cease: bool = False
    # A lawyer's letter or a step towards a suit: never taken on a time-barred debt (12 CFR 1006.26(b)).
    threatens_suit: bool = False
    # An escalation taken only "without progress" (seeds/001): skipped when the account paid, promised or spoke with
    # us within this many days.
    without_progress_days: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _channel_fields(self) -> Action:
        needs = {
            Channel.sms: ["template"],
            Channel.email: ["template"],
            Channel.letter: ["template", "letter_kind", "delivery"],
            Channel.field_visit: ["visit_purpose"],
            Channel.internal: ["task"],
        }.get(self.channel, [])
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.channel.value} step needs {', '.join(missing)}")
        if self.attach_letter and self.channel is not Channel.email:
            raise ValueError(f"only an e-mail carries an attached letter, not a {self.channel.value} step")
        if self.requires_approval and self.channel not in APPROVABLE:
            raise ValueError(
                f"a {self.channel.value} step cannot wait for approval; only "
                f"{', '.join(sorted(c.value for c in APPROVABLE))} steps can"
            )
        return self


class Step(Action):
    """A rung of the ladder, taken on the dpds of its schedule."""

    schedule: Schedule
    # Taken at onboarding when it is the latest step of its channel that was already due (else recorded as skipped).
    catch_up: bool = True


class Reaction(Action):
    """A step taken in answer to what happened (an outcome, a broken promise): `after_days` later, at `at` local
    time (default: the policy's send time, or at once if that has passed)."""

    after_days: int = Field(default=0, ge=0)
    at: time | None = None


class Strategy(str, Enum):
    """The treatments of the outcome tree (domain §6); strategy 1 is the preparation before any contact."""

    broken_promise = "broken_promise"  # 2
    death_or_bankruptcy = "death_or_bankruptcy"  # 3
    unable_to_pay = "unable_to_pay"  # 4
    unwilling_to_pay = "unwilling_to_pay"  # 5
    no_answer = "no_answer"  # 6
    lost_contact = "lost_contact"  # 7: lost mid-way, after the debtor had been reached
    # Domain §4's cadences: a message left with family or friends, pressed again 2-7 days on (3-7 after a second);
    # a no-answer repeated until a visit; and 7 split: a debtor who could never be reached at all.
    message_left = "message_left"
    second_message_left = "second_message_left"
    repeated_no_answer = "repeated_no_answer"
    never_reached = "never_reached"
    # The debtor's written answers (a text reply): says it is paid, or asks to be called.
    claims_paid = "claims_paid"
    callback = "callback"
