"""Policies: a ladder of stages and steps by dpd, read from a data file and validated when loaded.

A policy is pinned into each account's workflow input when the account opens, so editing a file changes only the
accounts opened after the edit.
"""

from __future__ import annotations

import hashlib
import re
from datetime import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from dunning.account import problems
from dunning.actions import Action, Reaction, Stage, Step, Strategy
from dunning.calendar import WEEKDAYS_ONLY, CalendarError, WorkingCalendar, load_calendar_file
from dunning.channels import Channel
from dunning.compliance import ContactRules, RulesError, load_rules
from dunning.datafile import Strict
from dunning.pacing import FollowUpRules
from dunning.policy_rules import (
    Agency,
    ApprovalRules,
    ConcessionRules,
    ContactPointRules,
    FieldVisitRules,
    FraudRules,
    InvoiceRules,
    LateFee,
    PlanRules,
    PromiseRules,
    StatementRules,
    VerificationRules,
)

POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"
POLICY_NAME = re.compile(r"^[a-z0-9_]+$")


class Variant(Strict):
    """A segment's own knobs on the ladder (domain §11): rungs it leaves out, and rungs it adds."""

    omit: list[str] = []
    steps: list[Step] = []


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
    # Who may waive fees, discount a settlement, reduce or put off a plan, how much, and who approves more; a policy
    # without it (as pinned by accounts opened before concessions existed) grants none.
    concessions: ConcessionRules | None = None
    # How payments are spread over an account's invoices; a policy without it (as pinned by accounts opened before
    # invoices existed) pays the oldest first, the named invoice before it.
    invoices: InvoiceRules | None = None
    # Days to wait for death or bankruptcy documents; a policy without it (as pinned by accounts opened before it
    # existed) waits for them indefinitely.
    verification: VerificationRules | None = None
    # Working days for promise reminders, grace periods and the fraud flow; a policy without one (as pinned by
    # accounts opened before calendars existed) counts Monday to Friday. Loaded from its file it knows no year yet:
    # the worker adds the announced days when it pins the policy (infra/public_holidays.py).
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
    # The B2B statement cycle (domain §9); a policy without it (as pinned by accounts opened before it existed) sends
    # no monthly statement.
    statements: StatementRules | None = None
    # The validation notice a rule set may require before any other communication (12 CFR 1006.34).
    validation_notice: Action | None = None
    # Per segment: the ladder's variant in force while the account is in that segment (segments without one keep the
    # ladder as it is).
    variants: dict[str, Variant] = {}
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
        ladder_ids = {step.id for step in self.steps}
        for segment, variant in self.variants.items():
            unknown = [step_id for step_id in variant.omit if step_id not in ladder_ids]
            if unknown:
                raise ValueError(f"variants.{segment}.omit: no ladder step {', '.join(unknown)}")
        for step in self.steps + [step for variant in self.variants.values() for step in variant.steps]:
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
        rules = self.contact_rules
        if (rules and rules.validation_notice) and (
            self.validation_notice is None or self.validation_notice.channel not in (Channel.letter, Channel.email)
        ):
            raise ValueError(
                f"rule set {rules.name!r} requires a validation notice before any other "
                "communication: add a validation_notice letter or e-mail to the policy"
            )
        stages = {stage.id: stage for stage in self.stages}
        for stage_id in self.follow_up.stages if self.follow_up else []:
            stage = stages.get(stage_id)
            if stage is None or stage.to_dpd is None or Channel.call not in stage.channels:
                raise ValueError(f"follow_up: stage {stage_id!r} must be a stage of this policy that calls and ends")
        statement = self.statements.statement.channel if self.statements else None
        for stage_id in self.statements.stages if self.statements else []:
            if stage_id not in stages or statement not in stages[stage_id].channels:
                raise ValueError(f"statements: stage {stage_id!r} must be a stage of this policy that sends statements")
        return self

    def stage_at(self, dpd: int) -> Stage | None:
        return next((stage for stage in self.stages if stage.covers(dpd)), None)

    def actions(self) -> list[Action]:
        """Every action the policy can take: ladder steps, strategy reactions, reminders and the fraud flow's."""
        actions: list[Action] = list(self.steps) + ([self.validation_notice] if self.validation_notice else [])
        actions += [step for variant in self.variants.values() for step in variant.steps]
        for reactions in self.strategies.values():
            actions += reactions
        for rules in (self.promises, self.plans):
            if rules:
                actions += [a for a in (rules.reminder, rules.confirmation) if a]
        if self.approvals:
            actions += [self.approvals.reminder, self.approvals.escalation]
        if self.statements:
            actions += self.statements.actions()
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

    def steps_for(self, segment: str | None) -> list[Step]:
        """The ladder's rungs in the segment's variant (the ladder itself when it has none)."""
        variant = self.variants.get(segment or "")
        if variant is None:
            return self.steps
        return [step for step in self.steps if step.id not in variant.omit] + variant.steps

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
    data = _read(path, raw)
    if "extends" in data:  # a challenger: its base's keys; mappings it names merge by key, other keys are replaced
        base_path = path.parent / f"{data.pop('extends')}.yaml"
        if not base_path.is_file():
            raise PolicyError(f"{path}: extends: no policy file {base_path}")
        base_raw = base_path.read_bytes()
        base = _read(base_path, base_raw)
        if "extends" in base:
            raise PolicyError(f"{path}: extends: {base_path.stem} extends another policy itself; extend its base")
        merged = {
            k: {**base[k], **v} if isinstance(v, dict) and isinstance(base.get(k), dict) else v for k, v in data.items()
        }
        data, raw = {**base, **merged}, base_raw + raw
    key = (path.stem, hashlib.sha256(raw).hexdigest())
    if key not in _parsed:
        _parsed[key] = _validate(path, data, digest=key[1])
    return _parsed[key]


# Policy files by content: each account opening reads the files, but YAML is parsed once per version.
_documents: dict[str, dict[str, Any]] = {}


def _read(path: Path, raw: bytes) -> dict[str, Any]:
    """The file's top-level mapping (a copy: callers replace its keys)."""
    digest = hashlib.sha256(raw).hexdigest()
    if digest not in _documents:
        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as err:
            raise PolicyError(f"{path}: not valid YAML: {err}") from None
        if not isinstance(data, dict):
            raise PolicyError(f"{path}: expected a mapping at the top level")
        _documents[digest] = data
    return dict(_documents[digest])


def _validate(path: Path, data: dict[str, Any], digest: str) -> Policy:
    if data.get("name") != path.stem:
        raise PolicyError(f"{path}: field 'name' is {data.get('name')!r} but the file is named {path.stem!r}")
    data["digest"] = digest
    if isinstance(data.get("calendar"), str):
        try:
            data["calendar"] = load_calendar_file(data["calendar"]).unresolved().model_dump(by_alias=True)
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
        raise PolicyError(f"{path}: {problems(err, '(top level)')}") from None
