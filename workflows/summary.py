"""What ops see of a running account: its search attributes and the Web UI's one-line summary."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from dunning import ladder
    from dunning.collection import Collection
    from dunning.money import format_amount, to_major
    from dunning.policy import Policy
    from dunning.state import AccountState
    from dunning.treatment import Treatment
    from workflows import search_attributes as sa


class Summary:
    """Keeps search attributes and the one-line summary current, writing only what changed."""

    def __init__(self, case: Collection, policy: Policy, treatment: Treatment | None = None) -> None:
        self._case = case  # its account is due on the oldest unpaid invoice's day
        self._policy = policy
        self._treatment = treatment
        self._published: dict[str, Any] = {}

    def publish(self, state: AccountState, step: ladder.PlannedStep | None, now: datetime) -> None:
        account = self._case.account
        dpd = ladder.dpd_at(account, now)
        stage = ladder.stage_id(self._policy, dpd)
        outstanding = state.ledger.outstanding_minor
        values = {
            sa.ACCOUNT_STATUS: "on_hold" if state.paused_since is not None else state.status,
            sa.STAGE: stage,
            sa.DPD: dpd,
            # Rounded up, so `Outstanding > 5000` finds an account owing 5,000.01.
            sa.OUTSTANDING: math.ceil(to_major(outstanding, account.currency)),
            sa.CURRENCY: account.currency,
            sa.POLICY: self._policy.name,
            sa.POLICY_VERSION: self._policy.version,
            sa.SEGMENT: state.segment or account.segment,
            sa.NEXT_ACTION: step.key if step else None,
            sa.NEXT_ACTION_AT: step.due_at if step else None,
            sa.DUE_DATE: datetime.combine(account.due_date, datetime.min.time(), tzinfo=now.tzinfo),
        }
        if self._treatment is not None:  # accounts opened before strategies keep the attributes they had
            values[sa.STRATEGY] = self._treatment.strategy
        changed = [
            key.value_set(value) if value is not None else key.value_unset()
            for key, value in values.items()
            if self._published.get(key.name, "unset") != value
        ]
        if changed:
            workflow.upsert_search_attributes(changed)
            self._published.update({key.name: value for key, value in values.items()})
        next_part = f"next {step.key} at {step.due_at:%Y-%m-%d %H:%M %Z}" if step else "no further steps"
        owes = format_amount(outstanding, account.currency)
        workflow.set_current_details(f"{state.status} · stage {stage} · dpd {dpd} · owes {owes} · {next_part}")
