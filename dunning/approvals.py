"""Approvals: a step the policy marks `requires_approval` is filed and waits for a named approver, who is reminded
and then passed over to an escalation if the answer does not come (domain §9)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from dunning.account import EventId, Payload
from dunning.channels import work_order_ref


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

    approval_ref: str = Field(min_length=1, max_length=32)
    approved: bool
    approver: EventId
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
