"""Policies: a ladder of stages and steps by dpd, read from a data file and validated when loaded.

A policy is pinned into each account's workflow input when the account opens, so editing a file changes only the
accounts opened after the edit.
"""

from __future__ import annotations

import hashlib
import re
from datetime import time
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from dunning.calendar import WEEKDAYS_ONLY, CalendarError, WorkingCalendar, load_calendar
from dunning.channels import APPROVABLE, Channel, ThirdParties
from dunning.compliance import ContactRules, RulesError, load_rules
from dunning.datafile import Strict
from dunning.pacing import FollowUpRules

POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"
POLICY_NAME = re.compile(r"^[a-z0-9_]+$")


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


# What a placement file can carry, one column each, in the order an agency's `file_columns` names them.
PLACEMENT_FIELDS = (
    "placement_ref",
    "account_id",
    "creditor",
    "debtor_name",
    "mobile",
    "home_phone",
    "work_phone",
    "email",
    "address",
    "currency",
    "placed_amount",
    "due_date",
    "dpd",
    "placed_on",
    "recall_on",
    "commission_rate",
)


class Agency(Strict):
    id: str
    commission_rate: Decimal = Field(gt=0, lt=1)
    recall_after_days: int = Field(ge=1)
    file_columns: list[str] = list(PLACEMENT_FIELDS)  # the agency's placement file format (CSV)

    @field_validator("file_columns")
    @classmethod
    def _known_columns(cls, columns: list[str]) -> list[str]:
        if unknown := [c for c in columns if c not in PLACEMENT_FIELDS]:
            raise ValueError(f"unknown placement file columns {unknown}; known: {', '.join(PLACEMENT_FIELDS)}")
        return columns


class Action(Strict):
    """Something the account does on one channel: what a ladder step, a strategy's reaction or a promise
    reminder each carry out."""

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    channel: Channel
    template: str | None = None  # sms, email, letter
    letter_kind: str | None = None
    delivery: Literal["ordinary", "registered", "signed_receipt"] | None = None
    visit_purpose: Literal["pressure", "tracing"] | None = None
    attach_letter: str | None = None  # e-mail: a letter template sent along as its PDF (a statement of account)
    task: str | None = None  # internal: who or what (supervisor, manager, customer_lock, write_off_review)
    requires_approval: bool = False
    # Still sent after the debtor asked us to stop: only a notice that a specific remedy will be invoked
    # (15 USC 1692c(c)(3)), such as a lawyer's letter.
    allowed_after_cease: bool = False

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
    lost_contact = "lost_contact"  # 7
    # The debtor's written answers (a text reply): says it is paid, or asks to be called.
    claims_paid = "claims_paid"
    callback = "callback"


class CommitmentRules(Strict):
    """How a promise, or each instalment of a plan, is followed: a reminder some working days before, confirmations
    on the day, and a grace in working days before it counts as broken."""

    grace_working_days: int = Field(ge=0)
    reminder_working_days_before: int = Field(ge=1)
    reminder: Action | None = None
    confirmation: Action | None = None
    confirm_at: list[time] = []  # local times on the day
    confirm_minutes_before_hour: int | None = Field(default=None, ge=1)  # instead, when a promise names its hour


class PromiseRules(CommitmentRules):
    max_days_out: int = Field(ge=0)


class PlanRules(CommitmentRules):
    max_instalments: int = Field(ge=1)
    first_within_days: int = Field(ge=0)
    last_within_days: int = Field(ge=1)


class FraudRules(Strict):
    """The false-application flow (domain §7)."""

    signing_within_days: int = Field(ge=1)  # the debtor signs the declaration, or the claim lapses
    decision_reminder_working_days: int = Field(ge=1)
    decision_escalation_working_days: int = Field(ge=1)
    withdraw_within_working_days: int = Field(ge=0)
    signing: Action  # the booking of the declaration signing
    to_creditor: Action  # the declaration sent to the creditor
    decision_reminder: Action
    decision_escalation: Action
    withdrawal: Action


class VerificationRules(Strict):
    documents_within_days: int = Field(ge=1)


# Contact-attempt outcomes that count against one contact point (domain §3): enough of them make it invalid.
PointFailure = Literal["line_dead", "wrong_number", "no_such_person", "resigned", "moved", "address_invalid"]


class ContactPointRules(Strict):
    invalid_after: dict[PointFailure, int]

    @field_validator("invalid_after")
    @classmethod
    def _positive(cls, counts: dict[str, int]) -> dict[str, int]:
        bad = sorted(code for code, count in counts.items() if count < 1)
        if bad:
            raise ValueError(f"counts must be at least 1: {', '.join(bad)}")
        return counts


class ApprovalRules(Strict):
    """Steps marked `requires_approval` wait for a named approver's decision (domain §9: the owner's approval); an
    approver who does not answer is reminded, then the request escalates."""

    approvers: list[str] = Field(min_length=1)  # who may decide, as the creditor names them (user ids or roles)
    remind_after_working_days: int = Field(ge=1)
    escalate_after_working_days: int = Field(ge=1)
    reminder: Action
    escalation: Action

    @model_validator(mode="after")
    def _escalate_after_reminding(self) -> ApprovalRules:
        if self.escalate_after_working_days <= self.remind_after_working_days:
            raise ValueError("escalate_after_working_days must come after remind_after_working_days")
        return self


class FieldVisitRules(Strict):
    """When a visit may be ordered, and how the order goes out (domain §8)."""

    # A pressure visit only when this long after a contact with the debtor no money came.
    pressure_after_contact_hours: int = Field(ge=0)
    complete_within_days: int = Field(ge=1)  # the order's deadline
    queue: str = Field(min_length=1)  # the field team whose agents take the order


class LateFee(Strict):
    rate_per_day: Decimal = Field(gt=0, lt=1)
    waivable: bool = True


class Policy(Strict):
    name: str = Field(pattern=POLICY_NAME.pattern)
    version: int = Field(ge=1)
    title: str
    sources: list[str] = []
    send_time: time  # local time at which a day's steps are placed
    stages: list[Stage]
    steps: list[Step]
    agencies: list[Agency] = []
    # Collector teams that work call tasks; a complaint against one moves the account to the next. The default
    # keeps policies pinned by accounts opened before the field existed readable (and replayable).
    collector_queues: list[str] = Field(default=["collectors"], min_length=1)
    late_fee: LateFee | None = None
    # Days to wait for death or bankruptcy documents; a policy without it (as pinned by accounts opened before it
    # existed) waits for them indefinitely.
    verification: VerificationRules | None = None
    # Working days for promise reminders, grace periods and the fraud flow; a policy without one (as pinned by
    # accounts opened before calendars existed) counts Monday to Friday.
    calendar: WorkingCalendar | None = None
    # The answers the debtor gives: each section is optional, and a policy without it refuses that answer.
    promises: PromiseRules | None = None
    plans: PlanRules | None = None
    strategies: dict[Strategy, list[Reaction]] = {}
    contact_points: ContactPointRules | None = None
    fraud: FraudRules | None = None
    # The contact rule set every outgoing contact must pass (rules/*.yaml); a policy without one (as pinned by
    # accounts opened before rule sets existed) keeps only the ladder's own times.
    contact_rules: ContactRules | None = None
    # How often collectors follow a case up between the ladder's call tasks (domain §4); a policy without it (as
    # pinned by accounts opened before pacing existed) leaves each call task to its own day.
    follow_up: FollowUpRules | None = None
    # Who decides the steps that need approval, and how long they may take (a policy without it, as pinned by
    # accounts opened before it existed, files those steps as awaiting approval and leaves them to ops).
    approvals: ApprovalRules | None = None
    # When field visits may be ordered (domain §8); a policy without it (as pinned by accounts opened before it
    # existed) orders each visit its ladder names.
    field_visits: FieldVisitRules | None = None
    # The validation notice a rule set may require before any other communication (12 CFR 1006.34).
    validation_notice: Action | None = None
    digest: str = ""  # sha256 of the file it was read from, so a pinned copy can be traced to its source

    @field_validator("stages")
    @classmethod
    def _stages_contiguous(cls, stages: list[Stage]) -> list[Stage]:
        if not stages:
            raise ValueError("a policy needs at least one stage")
        for before, after in zip(stages, stages[1:]):
            if before.to_dpd is None:
                raise ValueError(f"stage {before.id!r} is open-ended but stage {after.id!r} follows it")
            if after.from_dpd != before.to_dpd + 1:
                raise ValueError(
                    f"stage {after.id!r} starts at dpd {after.from_dpd}; it must start at {before.to_dpd + 1}, "
                    f"right after stage {before.id!r}"
                )
        if stages[-1].to_dpd is not None:
            raise ValueError(f"the last stage {stages[-1].id!r} must be open-ended (no to_dpd)")
        return stages

    @model_validator(mode="after")
    def _steps_fit_stages(self) -> Policy:
        ids = [action.id for action in self.actions()]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(
                f"step ids must be unique across steps, reactions and reminders; repeated: {', '.join(duplicated)}"
            )
        for step in self.steps:
            for dpd in step.schedule.dpds():
                stage = self.stage_at(dpd)
                if stage is None:
                    raise ValueError(f"step {step.id!r} fires at dpd {dpd}, before the first stage")
                if step.channel not in stage.channels:
                    raise ValueError(
                        f"step {step.id!r} uses channel {step.channel.value!r} at dpd {dpd}, "
                        f"which stage {stage.id!r} does not allow"
                    )
            if step.channel is Channel.agency and not self.agencies:
                raise ValueError(f"step {step.id!r} places with an agency but the policy lists no agencies")
        notice = self.contact_rules.validation_notice if self.contact_rules else None
        if notice and (
            self.validation_notice is None or self.validation_notice.channel not in (Channel.letter, Channel.email)
        ):
            raise ValueError(
                f"rule set {self.contact_rules.name!r} requires a validation notice before any other "
                "communication: add a validation_notice letter or e-mail to the policy"
            )
        stages = {stage.id: stage for stage in self.stages}
        for stage_id in self.follow_up.stages if self.follow_up else []:
            stage = stages.get(stage_id)
            if stage is None or stage.to_dpd is None or Channel.call not in stage.channels:
                raise ValueError(f"follow_up: stage {stage_id!r} must be a stage of this policy that calls and ends")
        return self

    def stage_at(self, dpd: int) -> Stage | None:
        return next((stage for stage in self.stages if stage.covers(dpd)), None)

    def actions(self) -> list[Action]:
        """Every action the policy can take: ladder steps, strategy reactions, reminders and the fraud flow's."""
        actions: list[Action] = list(self.steps) + ([self.validation_notice] if self.validation_notice else [])
        for reactions in self.strategies.values():
            actions += reactions
        for rules in (self.promises, self.plans):
            if rules:
                actions += [a for a in (rules.reminder, rules.confirmation) if a]
        if self.approvals:
            actions += [self.approvals.reminder, self.approvals.escalation]
        if self.fraud:
            fraud = self.fraud
            actions += [
                fraud.signing,
                fraud.to_creditor,
                fraud.decision_reminder,
                fraud.decision_escalation,
                fraud.withdrawal,
            ]
        return actions

    def action(self, action_id: str) -> Action:
        return next(action for action in self.actions() if action.id == action_id)

    @property
    def working_days(self) -> WorkingCalendar:
        return self.calendar or WEEKDAYS_ONLY

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"


class PolicyError(ValueError):
    """A policy that cannot be used, with the file, the field and the reason."""


def load_policy(name: str, directory: Path = POLICY_DIR) -> Policy:
    path = directory / f"{name}.yaml"
    if not POLICY_NAME.match(name) or not path.is_file():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.yaml"))) or "none"
        raise PolicyError(f"unknown policy {name!r} (no {path}); known policies: {known}")
    return parse_policy(path)


# Parsed policies by file content: opening a portfolio re-reads the file (so an edit counts at once) but parses
# and validates each version once, not once per account.
_parsed: dict[tuple[str, str], Policy] = {}


def parse_policy(path: Path) -> Policy:
    raw = path.read_bytes()
    key = (path.stem, hashlib.sha256(raw).hexdigest())
    if key not in _parsed:
        _parsed[key] = _validate(path, raw, digest=key[1])
    return _parsed[key]


def _validate(path: Path, raw: bytes, digest: str) -> Policy:
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise PolicyError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: expected a mapping at the top level")
    if data.get("name") != path.stem:
        raise PolicyError(f"{path}: field 'name' is {data.get('name')!r} but the file is named {path.stem!r}")
    data["digest"] = digest
    if isinstance(data.get("calendar"), str):
        try:
            data["calendar"] = load_calendar(data["calendar"]).model_dump(by_alias=True)
        except CalendarError as err:
            raise PolicyError(f"{path}: calendar: {err}") from None
    if isinstance(data.get("contact_rules"), str):
        try:
            data["contact_rules"] = load_rules(data["contact_rules"]).model_dump(by_alias=True)
        except RulesError as err:
            raise PolicyError(f"{path}: contact_rules: {err}") from None
    try:
        return Policy.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or '(top level)'}: {e['msg']}" for e in err.errors()
        )
        raise PolicyError(f"{path}: {problems}") from None
