"""Approvals: a step the policy marks `requires_approval` is filed and waits for a named approver, who is reminded
and then passed over to an escalation if the answer does not come (domain §9)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, BaseModel, Field

from dunning import ladder
from dunning.account import EventId, Payload, local_date, local_datetime
from dunning.change import Change
from dunning.channels import work_order_ref

if TYPE_CHECKING:
    from dunning.collection import Collection

APPROVAL = "approval "  # the cause of an approval's reminder and escalation


def approval_ref(action_key: str) -> str:
    return work_order_ref("A", action_key)


class ApprovalRequest(BaseModel):
    """A filed step awaiting its decision, with the reminder and escalation that chase it."""

    approval_ref: str
    action_key: str
    step_key: str
    step_id: str
    channel: str
    requested_at: datetime
    chasers: list[str]  # agenda keys of the reminder and escalation, dropped once decided


class ApprovalDecision(Payload):
    """An approver's answer: approved, or rejected with the reason in `note`."""

    news: Literal["approval_decision"] = Field(default="approval_decision", exclude=True)  # its inbox tag
    approval_ref: str = Field(min_length=1, max_length=32)
    approved: bool
    approver: EventId  # the approver role of the policy the decision is taken as
    operator: EventId | None = None  # who took it: the signed-in operator (None in decisions from before operators)
    note: str = Field(default="", max_length=1000)
    decided_at: AwareDatetime


def decision_problem(
    approvers: list[str], pending: list[ApprovalRequest], decided: list[str], decision: ApprovalDecision
) -> str:
    """Why this decision cannot be taken ('' if it can)."""
    if decision.approval_ref in decided:
        return f"approval {decision.approval_ref} was already decided"
    if all(r.approval_ref != decision.approval_ref for r in pending):
        return f"no approval {decision.approval_ref} is waiting on this account"
    if decision.approver not in approvers:
        return f"{decision.approver!r} may not decide approvals under this policy (approvers: {', '.join(approvers)})"
    if not decision.approved and not decision.note:
        return "a rejection needs a note saying why"
    return ""


def request_approval(
    case: Collection, planned: ladder.PlannedStep, action_key: str, now: datetime
) -> ApprovalRequest | None:
    """A step filed as awaiting approval starts waiting for its decision, chased by a reminder and then an
    escalation on the policy's working days (None: it needs none, or the policy leaves approvals to ops)."""
    policy, rules = case.policy, case.policy.approvals
    if rules is None or not ladder.step_definition(policy, planned).requires_approval:
        return None
    ref, zone = approval_ref(action_key), case.account.time_zone
    chasers = []
    for action, days in (
        (rules.reminder, rules.remind_after_working_days),
        (rules.escalation, rules.escalate_after_working_days),
    ):
        day = policy.working_days.add_working_days(local_date(now, zone), days)
        dpd = ladder.dpd_on(case.account.due_date, day)
        chaser = ladder.AgendaStep(
            key=f"{action.id}:{planned.key}",
            step_id=action.id,
            channel=action.channel.value,
            dpd=dpd,
            stage=ladder.stage_id(policy, dpd),
            due_at=local_datetime(day, policy.send_time, zone),
            cause=f"{APPROVAL}{ref}",
        )
        case.state.agenda.append(chaser)
        chasers.append(chaser.key)
    request = ApprovalRequest(
        approval_ref=ref,
        action_key=action_key,
        step_key=planned.key,
        step_id=planned.step_id,
        channel=planned.channel,
        requested_at=now,
        chasers=chasers,
    )
    case.state.approvals.append(request)
    return request


def approval_problem(case: Collection, decision: ApprovalDecision) -> str:
    rules = case.policy.approvals
    if rules is None:
        return "this account's policy takes no approval decisions"
    return decision_problem(rules.approvers, case.state.approvals, case.state.decided_approvals, decision)


def apply_approval(case: Collection, decision: ApprovalDecision) -> Change[ApprovalRequest]:
    """The decision ends the wait and its chasers; one that cannot be taken is recorded as refused."""
    state = case.state
    if problem := approval_problem(case, decision):
        state.record_rejection(f"approval decision: {problem}")
        return Change("refused", problem)
    request = next(r for r in state.approvals if r.approval_ref == decision.approval_ref)
    state.approvals.remove(request)
    state.decided_approvals.append(request.approval_ref)
    state.agenda = [p for p in state.agenda if p.key not in request.chasers]
    return Change("applied", detail=request)
