"""The dunning ladder as pure functions: dpd, stage, the planned steps, and what to do next."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from dunning.account import AccountDocument, Payload, local_date, local_datetime
from dunning.actions import Action, Step
from dunning.channels import Channel
from dunning.compliance import ContactRules, place
from dunning.contact import CONTACT_CHANNELS
from dunning.policy import Policy
from dunning.policy_rules import Agency

NOT_DUE = "not_due"


class PlannedStep(Payload):
    key: str  # unique within an account's ladder: "<step id>@<dpd>"
    step_id: str
    channel: str
    dpd: int
    stage: str
    due_at: datetime  # business time


class AgendaStep(PlannedStep):
    """A step outside the ladder: a strategy's reaction to an outcome, or a reminder of a promise or plan."""

    cause: str  # what called for it: "promise P1", "outcome O7 no_answer"
    instalment: int | None = None  # for a commitment's reminders: which instalment (from 1)
    tried_last: str | None = None  # a number that just went unanswered: dialled last


def dpd_on(due_date: date, day: date) -> int:
    """Days past due: day 1 is the first day after the due date; zero or negative before it."""
    return (day - due_date).days


def dpd_at(account: AccountDocument, instant: datetime) -> int:
    return dpd_on(account.due_date, local_date(instant, account.time_zone))


def stage_id(policy: Policy, dpd: int) -> str:
    stage = policy.stage_at(dpd)
    return stage.id if stage else NOT_DUE


def step_time(policy: Policy, account: AccountDocument, dpd: int) -> datetime:
    return local_datetime(account.due_date + timedelta(days=dpd), policy.send_time, account.time_zone)


def plan(
    policy: Policy, account: AccountDocument, segment: str | None = None, quiet_stages: Sequence[str] = ()
) -> list[PlannedStep]:
    """Every step of the ladder (the segment's variant of it) with its time, in the order they fall due (file order
    breaks ties). A hold-out's quiet stages have no contact steps."""
    steps = policy.steps_for(segment)
    contact = {channel.value for channel in CONTACT_CHANNELS}
    planned = [
        PlannedStep(
            key=f"{step.id}@{dpd}",
            step_id=step.id,
            channel=step.channel.value,
            dpd=dpd,
            stage=stage_id(policy, dpd),
            due_at=step_time(policy, account, dpd),
        )
        for step in steps
        for dpd in step.schedule.dpds()
    ]
    planned = [p for p in planned if not (p.stage in quiet_stages and p.channel in contact)]
    if policy.contact_rules is not None:
        planned = _placed(policy, policy.contact_rules, account, planned)
    order = {step.id: index for index, step in enumerate(steps)}
    return sorted(planned, key=lambda p: (p.due_at, order[p.step_id]))


def _placed(
    policy: Policy, rules: ContactRules, account: AccountDocument, planned: list[PlannedStep]
) -> list[PlannedStep]:
    """Contact rungs moved by the rule set's placement hints. Rungs of one step that land on the same day are one
    contact: the latest stands for them (a weekend's daily e-mails become Monday's one)."""
    contact = {channel.value for channel in CONTACT_CHANNELS}
    moved = [
        p.model_copy(update={"due_at": place(rules, account, Channel(p.channel), p.due_at, policy.working_days)})
        if p.channel in contact
        else p
        for p in planned
    ]
    latest = {(p.step_id, local_date(p.due_at, account.time_zone)): p.dpd for p in moved}
    return [p for p in moved if latest[(p.step_id, local_date(p.due_at, account.time_zone))] == p.dpd]


def triage_missed(
    policy: Policy, account: AccountDocument, planned: list[PlannedStep], opened_at: datetime
) -> tuple[list[PlannedStep], list[PlannedStep]]:
    """Steps already due when the account opened. Of each channel the stage at opening still allows, the steps of
    its latest missed day are taken now if the policy says so; the rest are skipped (a debtor onboarded at 40 dpd
    gets the final letter, not all three, and an account placed with an agency gets no early-stage SMS)."""
    missed = [p for p in planned if p.due_at < opened_at]
    stage = policy.stage_at(dpd_at(account, opened_at))
    allowed = {channel.value for channel in stage.channels} if stage else set()
    latest_by_channel = {p.channel: p.due_at for p in missed}
    steps = {action.id: action for action in policy.actions() if isinstance(action, Step)}
    take = [
        p
        for p in missed
        if p.channel in allowed and p.due_at == latest_by_channel[p.channel] and steps[p.step_id].catch_up
    ]
    skip = [p for p in missed if p not in take]
    return take, skip


def next_step(planned: list[PlannedStep], done: set[str]) -> PlannedStep | None:
    return next((p for p in planned if p.key not in done), None)


def next_stage_dpd(policy: Policy, dpd: int) -> int | None:
    return min((s.from_dpd for s in policy.stages if s.from_dpd > dpd), default=None)


def next_stage_change(policy: Policy, account: AccountDocument, now: datetime) -> datetime | None:
    """When the account next enters a stage, placed at the policy's send time so it falls together with the
    stage's first steps instead of costing a wake-up of its own."""
    upcoming = next_stage_dpd(policy, dpd_at(account, now))
    return step_time(policy, account, upcoming) if upcoming is not None else None


def stage_forbids(policy: Policy, planned: PlannedStep) -> str:
    """Why the stage of the step's day does not allow its channel ('' if it does). Ladder steps are checked when
    the policy loads; this is for steps placed by events (reactions, promise reminders). Internal work and
    placements are not contact, so any stage allows them."""
    if planned.channel not in {channel.value for channel in CONTACT_CHANNELS}:
        return ""
    if policy.validation_notice and planned.step_id == policy.validation_notice.id:
        return ""  # the law requires it, whatever the stage
    stage = policy.stage_at(planned.dpd)
    if stage is None:
        return f"no stage covers dpd {planned.dpd}"
    if planned.channel not in {channel.value for channel in stage.channels}:
        return f"stage {stage.id} does not use {planned.channel}"
    return ""


def step_definition(policy: Policy, planned: PlannedStep) -> Action:
    """The ladder step, reaction or reminder a planned step carries out."""
    return policy.action(planned.step_id)


def agency_for(policy: Policy, account_id: str) -> Agency | None:
    """Spreads placements evenly and stably over the policy's agencies (same account, same agency)."""
    if not policy.agencies:
        return None
    return policy.agencies[zlib.crc32(account_id.encode()) % len(policy.agencies)]
