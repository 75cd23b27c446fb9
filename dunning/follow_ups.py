"""Workload pacing on the account: the follow-up days of its ladder call task, kept current as things happen."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from dunning import compliance, ladder, pacing
from dunning.account import local_date, local_datetime
from dunning.channels import Channel
from dunning.compliance import Check, ContactMade
from dunning.guard import contact_of
from dunning.pacing import FollowUp, FollowUpPlan

if TYPE_CHECKING:
    from dunning.collection import Collection


def follow_up_plan(
    case: Collection, planned: ladder.PlannedStep, check: Check | None, now: datetime, task_key: str
) -> FollowUpPlan | None:
    """The follow-up days a ladder call task brings if it is filed now (None: the policy does not follow its stage
    up). They run until the stage ends, when the next stage's task takes over."""
    rules = case.policy.follow_up
    stage = case.policy.stage_at(planned.dpd)
    if (
        rules is None
        or stage is None
        or stage.id not in rules.stages
        or planned.channel != Channel.call.value
        or isinstance(planned, ladder.AgendaStep)
    ):
        return None
    assert stage.to_dpd is not None, "follow-up stages end (checked when the policy loads)"
    today = local_date(now, case.account.time_zone)
    plan = FollowUpPlan(
        task_key=task_key,
        anchor=today,
        replace_from=today,  # the task is today's work
        until=case.account.due_date + timedelta(days=stage.to_dpd + 1),
        queue_cases=case.state.queue_cases,
        written=True,
    )
    filed = [contact_of(planned, check)] if check else []
    return plan.model_copy(update={"days": _follow_up_days(case, plan, today, filed)})


def refresh_follow_ups(case: Collection, now: datetime) -> FollowUpPlan | None:
    """Counts the follow-up days that have begun (they are fixed), and plans the later ones from what is known now:
    a conversation makes the case valid (daily), a contact made since may leave a day no room; a promise, a pause,
    a cease on calls or the end of collection stops follow-ups, and a cool-down after a conversation stops today's,
    which had begun. Returns the plan when the collector queue must be told of a change."""
    plan, state = case.state.follow_ups, case.state
    if plan is None:
        return None
    today = local_date(now, case.account.time_zone)
    come = [day for day in plan.days if day.day <= today]
    for day in come if case.policy.contact_rules else []:
        case.contact_made(ContactMade(channel=Channel.call, at=day.at, attempts=day.attempts))
    live = max([day.day for day in come], default=plan.live_day)  # the day being worked, if it is today
    collecting = (
        state.status == "open"
        and state.paused_since is None
        and state.commitment is None
        and Channel.call not in state.ceased_channels
    )
    rules = case.policy.contact_rules
    resume = compliance.calls_resume(rules, case.account, state.last_conversation_at) if rules else None
    update: dict[str, Any]
    if not collecting:
        update = {"days": [], "replace_from": today, "stopped": True}
    elif resume is not None and resume > now:  # a conversation today or lately: today's calls stop as well
        update = {"days": _follow_up_days(case, plan, today), "replace_from": today, "stopped": True}
    else:
        update = {
            "days": _follow_up_days(case, plan, today),
            "replace_from": today + timedelta(days=1),
            "stopped": False,
        }
    stops_today = update["stopped"] and live == today
    changed = update["days"] != plan.days[len(come) :] or update["stopped"] != plan.stopped or stops_today
    state.follow_ups = plan.model_copy(
        update={**update, "live_day": None if update["stopped"] else live, "written": plan.written and not changed}
    )
    return None if state.follow_ups.written else state.follow_ups


def follow_ups_written(case: Collection) -> None:
    assert case.state.follow_ups is not None
    case.state.follow_ups = case.state.follow_ups.model_copy(update={"written": True})


def _follow_up_days(
    case: Collection, plan: FollowUpPlan, today: date, filed: list[ContactMade] | None = None
) -> list[FollowUp]:
    """The cadence's days after `today`, each placed at the start of the best call window and kept only if the
    guard lets that day's attempts go on that day (a day with no room gives way to the next)."""
    policy, account = case.policy, case.account
    rules, contact_rules, zone = policy.follow_up, policy.contact_rules, account.time_zone
    assert rules is not None
    spoken = case.state.last_conversation_at
    valid_until = local_date(spoken, zone) + timedelta(days=rules.valid_for_days) if spoken else None
    stage = policy.stage_at(ladder.dpd_on(account.due_date, plan.anchor))
    assert stage is not None and stage.call_cadence is not None
    windows = contact_rules.best_windows(Channel.call) if contact_rules else []
    start = windows[0].start if windows else policy.send_time
    paydays = contact_rules.preferred.paydays if contact_rules else []
    # A day with a call of its own (a reaction, a promise confirmation) has that call as its follow-up.
    called = {local_date(p.due_at, zone) for p in case.state.agenda if p.channel == Channel.call.value}
    history, days = case.state.contacts_made + (filed or []), []
    for day in pacing.cadence(rules, plan.anchor, plan.until, valid_until, plan.queue_cases, paydays):
        at, attempts = local_datetime(day, start, zone), stage.call_cadence.attempts_per_day
        if day <= today or day in called:
            continue
        if contact_rules is not None:
            check = compliance.check(contact_rules, account, Channel.call, at, history, spoken, attempts)
            if local_date(check.at, zone) != day:
                continue
            at, attempts = check.at, check.attempts
            history = history + [ContactMade(channel=Channel.call, at=at, attempts=attempts)]
        days.append(FollowUp(day=day, at=at, attempts=attempts))
    return days
