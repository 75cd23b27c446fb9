"""The B2B statement cycle (domain §9, seeds/001): each month the account is in a statement stage, the supervisor
checks its statement, the customer receives it and confirms it; one not confirmed is chased by e-mail and phone and
then handed to the supervisor, and a confirmed one goes to finance to invoice.

The cycle's steps are agenda steps caused by their month ("statement 2026-11"): the next month's review and
statement wait on the agenda, and so do a sent statement's next chase day or its escalation, so a confirmation
drops whatever is left of its chase at once."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, BaseModel, Field

from dunning import ladder
from dunning.account import EventId, Payload, local_date, local_datetime
from dunning.actions import Action
from dunning.change import Change
from dunning.compliance import place
from dunning.contact import CONTACT_CHANNELS
from dunning.policy_rules import StatementRules

if TYPE_CHECKING:
    from dunning.collection import Collection

StatementEvent = Literal["sent", "escalated", "confirmed"]
STATEMENT = "statement "  # the cause of a month's steps: "statement 2026-11"
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


class Statement(BaseModel):
    """A statement the customer received, and where its confirmation stands."""

    month: str  # "2026-11": the month it belongs to
    sent_at: datetime
    confirm_by: date
    invoice_by: date
    escalated_at: datetime | None = None
    confirmed_at: datetime | None = None
    confirmed_by: str = ""
    confirmed_late: bool = False  # after confirm_by, on the account's local calendar


class StatementFacts(Payload):
    """What the statement's e-mails quote: its month, and the day the customer is asked to confirm it by."""

    month: str
    confirm_by: date


class StatementConfirmed(Payload):
    """The customer confirmed a month's statement: told by billing, or recorded by the collector who heard it."""

    news: Literal["statement_confirmed"] = Field(default="statement_confirmed", exclude=True)  # its inbox tag
    month: str = Field(pattern=MONTH)
    confirmed_by: EventId  # who records it (billing's feed, or the collector)
    confirmed_at: AwareDatetime
    # The invoicing details the customer gave, or a difference they raised: kept in PostgreSQL, not in the account.
    note: str = Field(default="", max_length=1000)


def day_of(month: str, day: int) -> date:
    """The month's `day`, or its last day when the month is shorter (the 30th of February is its last)."""
    year, number = int(month[:4]), int(month[5:])
    return date(year, number, min(day, calendar.monthrange(year, number)[1]))


def month_of(day: date) -> str:
    return f"{day:%Y-%m}"


def _month_after(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year + number // 12}-{number % 12 + 1:02d}"


def _cycle_month(rules: StatementRules | None, planned: ladder.PlannedStep) -> str | None:
    """The month a step of the cycle belongs to (None: not one of the cycle's)."""
    if rules is None or not isinstance(planned, ladder.AgendaStep) or not planned.cause.startswith(STATEMENT):
        return None
    return planned.cause.removeprefix(STATEMENT)


def statement_facts(case: Collection, planned: ladder.PlannedStep) -> StatementFacts | None:
    """The facts of the month a cycle's step belongs to (None for any other step)."""
    rules = case.policy.statements
    month = _cycle_month(rules, planned)
    if rules is None or month is None:
        return None
    return StatementFacts(month=month, confirm_by=day_of(month, rules.confirm_by_day))


def schedule_month(case: Collection, now: datetime, after: str | None = None) -> None:
    """Puts the next statement's review and sending on the agenda: the first month (after `after`) whose send day
    is still to come and falls in a statement stage; none once the account is past those stages."""
    rules = case.policy.statements
    if rules is None:
        return
    today = local_date(now, case.account.time_zone)
    stages = [s for s in case.policy.stages if s.id in rules.stages]
    last = None if any(s.to_dpd is None for s in stages) else max(s.to_dpd or 0 for s in stages)
    month = _month_after(after) if after else month_of(today)
    while True:
        send_on = day_of(month, rules.send_day)
        dpd = ladder.dpd_on(case.account.due_date, send_on)
        if send_on >= today and ladder.stage_id(case.policy, dpd) in rules.stages:
            break
        if last is not None and dpd > last:
            return
        month = _month_after(month)
    state = case.state
    if any(s.month == month for s in state.statements) or any(p.cause == STATEMENT + month for p in state.agenda):
        return
    review_on = max(day_of(month, rules.review_day), today)
    state.agenda += [_step(case, rules.review, review_on, month, now)]
    state.agenda += [_step(case, rules.statement, send_on, month, now)]


def statement_step_taken(
    case: Collection, planned: ladder.PlannedStep, status: str, now: datetime
) -> tuple[StatementEvent, Statement] | None:
    """What taking one of the cycle's steps does: a statement that went out starts its chase, and the next month's
    comes onto the agenda; a chase day brings the next one, or the escalation after the last. Returns the statement
    whose record changes, and how."""
    rules = case.policy.statements
    month = _cycle_month(rules, planned)
    if rules is None or month is None:
        return None
    today = local_date(now, case.account.time_zone)
    if planned.step_id == rules.statement.id:
        schedule_month(case, now, after=month)
        if status != "done":
            return None
        sent = Statement(
            month=month,
            sent_at=now,
            confirm_by=day_of(month, rules.confirm_by_day),
            invoice_by=day_of(month, rules.invoice_by_day),
        )
        case.state.statements.append(sent)
        _chase_after(case, rules, sent, today, now)
        return "sent", sent
    statement = next((s for s in case.state.statements if s.month == month), None)
    if statement is None or statement.confirmed_at is not None:
        return None
    if planned.step_id == rules.escalation.id:
        statement.escalated_at = now
        return "escalated", statement
    chasing = {chaser.id for chaser in rules.chasers}
    if planned.step_id in chasing and not any(p.cause == STATEMENT + month for p in case.state.agenda):
        _chase_after(case, rules, statement, today, now)
    return None


def _chase_after(case: Collection, rules: StatementRules, statement: Statement, day: date, now: datetime) -> None:
    """The statement's next chase day after `day` (each chaser on it), or its escalation once the chase days are
    over."""
    sent_on = local_date(statement.sent_at, case.account.time_zone)
    later = [n for n in rules.chase_day_numbers() if sent_on + timedelta(days=n) > day]
    if later:
        on = sent_on + timedelta(days=later[0])
        case.state.agenda += [_step(case, chaser, on, statement.month, now, f"+{later[0]}") for chaser in rules.chasers]
    elif statement.escalated_at is None:
        escalate_on = sent_on + timedelta(days=rules.escalate_after_days)
        case.state.agenda.append(_step(case, rules.escalation, escalate_on, statement.month, now))


def _step(
    case: Collection, action: Action, day: date, month: str, now: datetime, day_tag: str = ""
) -> ladder.AgendaStep:
    """One of the month's steps on `day` at the policy's send time (at once, when that has passed); a contact is
    placed by the rule set's hints as the ladder's are (cn_commercial: off weekends and month-end, in the morning)."""
    policy, zone = case.policy, case.account.time_zone
    due_at = max(local_datetime(day, policy.send_time, zone), now)
    if policy.contact_rules is not None and action.channel in CONTACT_CHANNELS:
        due_at = place(policy.contact_rules, case.account, action.channel, due_at, policy.working_days)
    dpd = ladder.dpd_on(case.account.due_date, local_date(due_at, zone))
    return ladder.AgendaStep(
        key=f"{action.id}:{month}{day_tag}",
        step_id=action.id,
        channel=action.channel.value,
        dpd=dpd,
        stage=ladder.stage_id(policy, dpd),
        due_at=due_at,
        cause=STATEMENT + month,
    )


def confirmation_problem(case: Collection, news: StatementConfirmed) -> str:
    """Why the confirmation cannot be taken ('' if it can)."""
    if case.policy.statements is None:
        return "this account's policy sends no statements"
    statement = next((s for s in case.state.statements if s.month == news.month), None)
    if statement is None:
        return f"no statement of {news.month} was sent on this account"
    if statement.confirmed_at is not None:
        when, by = f"{statement.confirmed_at:%Y-%m-%d}", statement.confirmed_by
        return f"the statement of {news.month} was confirmed already ({when}, by {by})"
    return ""


def apply_confirmation(case: Collection, news: StatementConfirmed, now: datetime) -> Change[Statement]:
    """The customer confirmed: the statement's chase and escalation are dropped and finance is asked to invoice. A
    resend of the same confirmation changes nothing."""
    rules, state = case.policy.statements, case.state
    statement = next((s for s in state.statements if s.month == news.month), None)
    if statement and (statement.confirmed_at, statement.confirmed_by) == (news.confirmed_at, news.confirmed_by):
        return Change("duplicate")
    if problem := confirmation_problem(case, news):
        state.record_rejection(f"statement confirmation: {problem}")
        return Change("refused", problem)
    assert rules is not None and statement is not None
    zone = case.account.time_zone
    statement.confirmed_at, statement.confirmed_by = news.confirmed_at, news.confirmed_by
    statement.confirmed_late = local_date(news.confirmed_at, zone) > statement.confirm_by
    state.agenda = [p for p in state.agenda if p.cause != STATEMENT + news.month]
    state.agenda.append(_step(case, rules.invoice, local_date(now, zone), news.month, now))
    return Change("applied", "confirmed late" if statement.confirmed_late else "", detail=statement)
