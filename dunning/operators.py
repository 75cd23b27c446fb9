"""Operators, their roles and their creditors (issue 13): who may work which accounts, decide approvals and fraud
claims, read the reports and open sealed payloads. The roles are a data file (roles/<name>.yaml); an operator holds
roles and sees every creditor's accounts or only a list of creditors."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dunning.datafile import Strict, load_named

ROLES_DIR = Path(__file__).resolve().parent.parent / "roles"
Permission = Literal["work_accounts", "approve", "decide_fraud", "read_reports", "decode_payloads"]
# Permissions over every creditor's data at once (the report's figures, any workflow's payloads): an operator
# limited to some creditors is refused them.
WHOLE_BOOK: tuple[Permission, ...] = ("read_reports", "decode_payloads")
SAYS = {
    "work_accounts": "work accounts",
    "approve": "decide approvals",
    "decide_fraud": "decide fraud claims",
    "read_reports": "read the reports",
    "decode_payloads": "open sealed payloads",
}


class RolesError(ValueError):
    """A roles file that cannot be used, with the file, the field and the reason."""


class Role(Strict):
    description: str = Field(min_length=1)
    may: list[Permission] = Field(min_length=1)


class Roles(Strict):
    name: str
    roles: dict[str, Role] = Field(min_length=1)

    def unknown(self, names: list[str]) -> list[str]:
        return [name for name in names if name not in self.roles]


def load_roles(name: str = "standard", directory: Path = ROLES_DIR) -> Roles:
    return load_named(Roles, directory, name, "roles file", RolesError)


class Operator(BaseModel):
    """A person signed in: their roles, and the creditors whose accounts they see (None: every creditor)."""

    model_config = ConfigDict(frozen=True)

    name: str
    roles: list[str]
    creditors: list[str] | None = None

    def scope(self) -> str:
        return "all creditors" if self.creditors is None else ", ".join(self.creditors) or "no creditor"


def may(roles: Roles, operator: Operator, permission: Permission) -> bool:
    if permission in WHOLE_BOOK and operator.creditors is not None:
        return False
    return any(permission in roles.roles[r].may for r in operator.roles if r in roles.roles)


def refusal(roles: Roles, operator: Operator, permission: Permission, doing: str = "") -> str:
    """Why the operator may not do it ('' if they may); `doing` names it (default: the permission's words)."""
    doing = doing or SAYS[permission]
    if may(roles, operator, permission):
        return ""
    if permission in WHOLE_BOOK and operator.creditors is not None:
        return _takes_every_creditor(operator, doing)
    return f"operator {operator.name} may not {doing} (roles: {', '.join(operator.roles) or 'none'})"


def book_refusal(roles: Roles, operator: Operator, permission: Permission, doing: str) -> str:
    """Why the operator may not do what mixes every creditor's accounts at once, such as a report of the whole book
    or the print vendor's batch ('' if they may): it takes the permission and an operator of all creditors."""
    if operator.creditors is not None:
        return _takes_every_creditor(operator, doing)
    return refusal(roles, operator, permission, doing)


def _takes_every_creditor(operator: Operator, doing: str) -> str:
    return f"operator {operator.name} may not {doing}: that takes an operator of all creditors"


def sees_creditor(operator: Operator, creditor: str) -> bool:
    return operator.creditors is None or creditor in operator.creditors


def account_refusal(
    roles: Roles, operator: Operator, creditor: str | None, permission: Permission, unknown: str
) -> str:
    """Why the operator may not do it on an account of `creditor` (None: no such account), or on a call, visit
    order, letter or placement of one ('' if they may). What belongs to a creditor they do not see gets `unknown`,
    the answer to what does not exist: the refusal confirms nothing about it."""
    if creditor is None or not sees_creditor(operator, creditor):
        return unknown
    return refusal(roles, operator, permission)


def deciding_role(roles: Roles, operator: Operator, approvers: list[str]) -> str | None:
    """The role the operator decides an approval as: one they hold that the policy names an approver and that may
    approve (None: they may not decide it)."""
    return next((r for r in operator.roles if r in approvers and "approve" in _may(roles, r)), None)


def approval_refusal(roles: Roles, operator: Operator, approvers: list[str]) -> str:
    if deciding_role(roles, operator, approvers):
        return ""
    return f"operator {operator.name} may not decide this approval: it needs the role {' or '.join(approvers)}"


def _may(roles: Roles, role: str) -> list[Permission]:
    return roles.roles[role].may if role in roles.roles else []
