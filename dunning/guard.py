"""The contact guard at the moment a step goes: the rule set's answer, and the steps it moved."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dunning import compliance, ladder
from dunning.channels import Channel
from dunning.compliance import Check, ContactMade
from dunning.contact import CONTACT_CHANNELS

if TYPE_CHECKING:
    from datetime import datetime

    from dunning.collection import Collection


def contact_of(planned: ladder.PlannedStep, check: Check) -> ContactMade:
    return ContactMade(channel=Channel(planned.channel), at=check.evaluated_at, attempts=check.attempts)


def contact_check(case: Collection, planned: ladder.PlannedStep, now: datetime) -> Check | None:
    """The guard's answer for a step that reaches the debtor, under the policy's rule set (None: no rule set, or
    no contact)."""
    rules, channel = case.policy.contact_rules, Channel(planned.channel)
    if rules is None or channel not in CONTACT_CHANNELS:
        return None
    notice = case.policy.validation_notice
    if case.validation_notice_owed() and not (notice and planned.step_id == notice.id):
        return Check(
            rule_set=rules.name,
            verdict="blocked",
            evaluated_at=now,
            at=now,
            rule="validation_notice: not sent yet (12 CFR 1006.34)",
            local_time=compliance.local_stamp(now, case.account.time_zone),
        )
    # A ladder call task is a day of attempts at the stage's cadence; a reaction or confirmation is one call.
    stage = case.policy.stage_at(planned.dpd)
    ladder_call = channel is Channel.call and not isinstance(planned, ladder.AgendaStep)
    cadence = stage.call_cadence if stage and ladder_call else None
    return compliance.check(
        rules,
        case.account,
        channel,
        now,
        case.state.contacts_made,
        case.state.last_conversation_at,
        cadence.attempts_per_day if cadence else 1,
    )


def defer(case: Collection, planned: ladder.PlannedStep, until: datetime) -> None:
    case.state.deferred[planned.key] = until
