"""Contact compliance: the one gate every outgoing contact passes, in the debtor's local time.

Rule sets are data (rules/<name>.yaml), named by the policy and pinned with it. The guard is pure: given the rule
set, the contact about to be made, when, and the contacts already made, it says whether it may go now, and if not,
the first moment it may - it never drops a step for a window or a cap, it moves it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from dunning.account import AccountDocument, ContactPoint, Payload, local_date, local_datetime
from dunning.calendar import WorkingCalendar
from dunning.channels import Channel, ThirdParties
from dunning.datafile import Strict, load_named

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
THIRD_PARTY_ORDER = list(ThirdParties)  # none < locate_only < message < pressure


class Window(Strict):
    """A daily span of local time, [start, end)."""

    start: time = Field(alias="from")
    end: time = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError(f"window ends ({self.end}) at or before it starts ({self.start})")
        return self


class Cap(Strict):
    """At most `max_attempts` on `channel` in any `days` consecutive days: whole days of the debtor's calendar, as
    the rules count them ("a day", "seven consecutive days"), so a day's attempts count wherever in the day the
    dialer places them. Rule sets pinned before that counted rolling spans of 24 hours (`local_days` false)."""

    channel: Channel
    max_attempts: int = Field(ge=1)
    days: int = Field(ge=1)
    local_days: bool = False

    def spans(self, contact_at: datetime, end: datetime, zone: ZoneInfo) -> bool:
        """Does a contact at `contact_at` count in the span that ends with `end`?"""
        if self.local_days:
            return 0 <= (end.astimezone(zone).date() - contact_at.astimezone(zone).date()).days < self.days
        return end - timedelta(days=self.days) < contact_at <= end

    def reopens(self, contact_at: datetime, zone: ZoneInfo) -> datetime:
        """When a contact no longer counts against a new one."""
        if self.local_days:
            day = contact_at.astimezone(zone).date() + timedelta(days=self.days)
            return datetime.combine(day, time(0), tzinfo=zone)
        return contact_at + timedelta(days=self.days, seconds=1)


class PreferredDays(Strict):
    """Days a ladder step had better not fall on, and where it goes instead (at most `max_shift_days` later)."""

    working_days_only: bool = False  # off the weekends and holidays of the policy's calendar
    avoid_month_end_days: int = Field(default=0, ge=0, le=10)  # the last N days of a month
    max_shift_days: int = Field(default=0, ge=0, le=7)


class Preferences(Strict):
    """Placement hints (domain §3): where a contact goes when it may go anywhere in its window. Never a rule: the
    guard still has the last word."""

    windows: dict[Channel, list[Window]] = {}  # the best contact windows; the first one starts a day's work
    paydays: list[int] = []  # days of the month that effort concentrates on
    days: PreferredDays = PreferredDays()

    @model_validator(mode="after")
    def _paydays_in_month(self) -> Preferences:
        wrong = [day for day in self.paydays if not 1 <= day <= 31]
        if wrong:
            raise ValueError(f"paydays must be days of the month (1-31), not {wrong}")
        return self


class ValidationNoticeRules(Strict):
    """12 CFR 1006.34: the notice that tells the consumer the debt and their rights. We send it as the first
    communication; until it has gone nothing else reaches the consumer."""

    receipt_after_working_days: int = Field(ge=0)  # receipt may be assumed this many working days after sending
    period_days: int = Field(ge=1)  # the validation period ends this many days after receipt


class RetentionRules(Strict):
    """How long a closed account's records stay whole: the evidence law asks for, after which its personal data is
    erased (dunning/retention.py)."""

    evidence_years: int = Field(ge=1, le=50)


class VisitConduct(Strict):
    """How a field visit is made, where the rules say (CBA consumer-loan guideline, 2026: home visits by at least two
    staff)."""

    staff_per_visit: int = Field(ge=1, le=4)


class TimeBarRules(Strict):
    """Debts past the statute of limitations (dunning/limitation.py): never sued on or threatened with suit."""

    limitation_years: int = Field(ge=1, le=30)  # after the last payment, or the due date when there was none
    disclosure: dict[str, str] = {}  # per locale: what letters say of a time-barred debt (none: nothing required)


class FurnishingRules(Strict):
    """Passive collection (12 CFR 1006.30(a)): nothing goes to a credit bureau before the account has spoken with the
    debtor, or posted a letter about the debt and waited these days without it coming back (dunning/bureau.py)."""

    wait_after_letter_days: int = Field(ge=1, le=60)


class ThirdPartyRules(Strict):
    disclose_to_unaware: bool  # may a contact who does not know of the debt be told of it
    disclose_to_aware_from: ThirdParties | None  # from which stage rule a contact who knows may discuss it
    # A contact person is called only while the debtor is unreachable: not spoken with for this many days (from the
    # account's opening when never), or every debtor phone invalid. None: a rule set pinned before this rule, whose
    # stages alone decide.
    unreachable_after_days: int | None = Field(default=None, ge=1)
    # Calls to one contact person; one who asks to be called again may be called once more. None: no limit.
    calls_per_person: int | None = Field(default=None, ge=1)


class DebtorReach(Payload):
    """What the guard knows of whether the debtor can be reached."""

    opened_at: datetime
    last_conversation_at: datetime | None
    phones_lost: bool  # every debtor phone invalid


class ContactRules(Strict):
    name: str
    title: str
    sources: list[str] = []
    windows: dict[Channel, list[Window]] = {}  # channels not listed (letters, placements) have no window
    caps: list[Cap] = []
    conversation_cool_down_days: int | None = Field(default=None, ge=1)
    third_parties: ThirdPartyRules
    preferred: Preferences = Preferences()
    validation_notice: ValidationNoticeRules | None = None
    retention: RetentionRules | None = None  # None (rule sets pinned before it existed): the file's own applies
    time_barred: TimeBarRules | None = None  # None: no period here (a date billing sends still counts)
    field_visits: VisitConduct | None = None  # None: one agent may visit
    furnishing: FurnishingRules | None = None  # None: no gate before a credit-bureau report (or pinned before it)

    @property
    def staff_per_visit(self) -> int:
        return self.field_visits.staff_per_visit if self.field_visits else 1

    @model_validator(mode="after")
    def _windows_listed(self) -> ContactRules:
        empty = sorted(channel.value for channel, windows in self.windows.items() if not windows)
        if empty:
            raise ValueError(f"windows of {', '.join(empty)} are empty; leave a channel out to give it no window")
        for channel, preferred in self.preferred.windows.items():
            allowed = self.windows.get(channel, [])
            for window in preferred:
                if allowed and not any(a.start <= window.start and window.end <= a.end for a in allowed):
                    raise ValueError(
                        f"preferred {channel.value} window {window.start:%H:%M}-{window.end:%H:%M} "
                        f"lies outside the {channel.value} windows: a hint may not break a rule"
                    )
        return self

    def best_windows(self, channel: Channel) -> list[Window]:
        """Where the channel's work of a day goes: the preferred windows, else the allowed ones."""
        return sorted(self.preferred.windows.get(channel) or self.windows.get(channel, []), key=lambda w: w.start)


class ContactMade(Payload):
    """A contact the account made, as the caps count it."""

    channel: Channel
    at: datetime
    attempts: int = 1


Verdict = Literal["allowed", "deferred", "blocked"]


class Check(Payload):
    """The guard's answer for one contact, kept as evidence."""

    rule_set: str
    verdict: Verdict
    # What decided: "allowed", "window:call", "cap:call 7 in 7 days", "cool_down:7 days", "validation_notice: ...".
    rule: str
    evaluated_at: datetime
    local_time: str  # the debtor's wall clock when it was evaluated, e.g. "2026-11-23 02:00 Asia/Shanghai"
    at: datetime  # when it may go: `evaluated_at` if allowed
    attempts: int = 1  # call attempts the task may make on its day (the pace of the caps)


def check(
    rules: ContactRules,
    account: AccountDocument,
    channel: Channel,
    when: datetime,
    history: list[ContactMade],
    last_conversation: datetime | None = None,
    attempts: int = 1,
) -> Check:
    """May this contact go at `when`? If not, the first moment it may: inside the channel's window, past any
    cool-down after a conversation, and with room under every cap. Call tasks get their attempts paced so a day's
    task alone never breaks a cap."""
    attempts = min([attempts] + [c.max_attempts // c.days or 1 for c in rules.caps if c.channel is channel])
    at, first_rule = when, "allowed"
    for _ in range(64):  # each pass moves `at` forward; they settle in a few
        moved = (
            _after_cool_down(rules, account, channel, at, last_conversation)
            or _after_caps(rules, account, channel, at, history, attempts)
            or _inside_window(rules, account, channel, at)
        )
        if moved is None:
            break
        at = moved[0]
        first_rule = moved[1] if first_rule == "allowed" else first_rule  # the evidence names what stopped it
    else:
        raise AssertionError("contact rules never settle: check the rule set for windows and caps that exclude")
    return Check(
        rule_set=rules.name,
        verdict="allowed" if at == when else "deferred",
        rule=first_rule,
        evaluated_at=when,
        local_time=local_stamp(when, account.time_zone),
        at=at,
        attempts=attempts,
    )


def local_stamp(at: datetime, time_zone: str) -> str:
    """The debtor's wall clock, as evidence shows it: "2026-11-23 02:00 Asia/Shanghai"."""
    return f"{at.astimezone(ZoneInfo(time_zone)):%Y-%m-%d %H:%M} {time_zone}"


def place(
    rules: ContactRules, account: AccountDocument, channel: Channel, at: datetime, calendar: WorkingCalendar
) -> datetime:
    """Where a ladder step goes by the rule set's hints: off an avoided day to the first one within reach that is
    not, then into the first best window of its channel that has not passed. A hint that finds nothing better
    leaves the step where it was."""
    days, zone = rules.preferred.days, account.time_zone
    first = local_date(at, zone)
    reach = [first + timedelta(days=offset) for offset in range(days.max_shift_days + 1)]
    day = next((d for d in reach if not _avoided(days, d, calendar)), first)
    moment = at if day == first else local_datetime(day, at.astimezone(ZoneInfo(zone)).time(), zone)
    for window in sorted(rules.preferred.windows.get(channel, []), key=lambda w: w.start):
        start, end = (local_datetime(day, t, zone) for t in (window.start, window.end))
        if moment < end:
            return max(moment, start)
    return moment


def _avoided(days: PreferredDays, day: date, calendar: WorkingCalendar) -> bool:
    month_end = (date(day.year + day.month // 12, day.month % 12 + 1, 1) - timedelta(days=1)).day
    return (
        days.working_days_only and not calendar.is_working_day(day)
    ) or day.day > month_end - days.avoid_month_end_days


def _inside_window(
    rules: ContactRules, account: AccountDocument, channel: Channel, at: datetime
) -> tuple[datetime, str] | None:
    windows = rules.windows.get(channel)
    if not windows:
        return None
    day = local_date(at, account.time_zone)
    for offset in range(0, 3):
        for window in sorted(windows, key=lambda w: w.start):
            start = local_datetime(day + timedelta(days=offset), window.start, account.time_zone)
            end = local_datetime(day + timedelta(days=offset), window.end, account.time_zone)
            if start <= at < end:
                return None
            if at < start:
                return start, f"window:{channel.value}"
    raise AssertionError(f"no {channel.value} window in three days")  # windows are daily: unreachable


def _after_caps(
    rules: ContactRules,
    account: AccountDocument,
    channel: Channel,
    at: datetime,
    history: list[ContactMade],
    attempts: int,
) -> tuple[datetime, str] | None:
    zone = ZoneInfo(account.time_zone)
    for cap in rules.caps:
        if cap.channel is not channel:
            continue
        recent = sorted((c for c in history if c.channel is channel and cap.spans(c.at, at, zone)), key=lambda c: c.at)
        excess = sum(c.attempts for c in recent) + attempts - cap.max_attempts
        if excess <= 0:
            continue
        # Wait until enough of the oldest attempts have left the span.
        dropped = 0
        for contact in recent:
            dropped += contact.attempts
            if dropped >= excess:
                return cap.reopens(contact.at, zone), f"cap:{channel.value} {cap.max_attempts} in {cap.days} days"
    return None


def _after_cool_down(
    rules: ContactRules, account: AccountDocument, channel: Channel, at: datetime, last_conversation: datetime | None
) -> tuple[datetime, str] | None:
    resume = calls_resume(rules, account, last_conversation)
    if channel is not Channel.call or resume is None or at >= resume:
        return None
    return resume, f"cool_down:{rules.conversation_cool_down_days} days after a conversation"


def calls_resume(rules: ContactRules, account: AccountDocument, last_conversation: datetime | None) -> datetime | None:
    """When calls may resume after the last conversation (None: no cool-down). Reg F counts the conversation's day
    as day 1: calls resume on the day after the last day of the span."""
    days = rules.conversation_cool_down_days
    if days is None or last_conversation is None:
        return None
    resume_day = local_date(last_conversation, account.time_zone) + timedelta(days=days)
    return local_datetime(resume_day, time(0), account.time_zone)


def may_disclose(rules: ContactRules, point: ContactPoint, stage_rule: ThirdParties) -> bool:
    """May the debt be discussed with whoever answers this point? Always with the debtor; with a contact person
    only as the rule set allows for the stage, and never with one who does not know of it unless it says so."""
    if point.owner == "debtor":
        return True
    if not point.knows_of_debt:
        return rules.third_parties.disclose_to_unaware
    start = rules.third_parties.disclose_to_aware_from
    return start is not None and THIRD_PARTY_ORDER.index(stage_rule) >= THIRD_PARTY_ORDER.index(start)


def third_party_refusal(
    rules: ContactRules, stage_rule: ThirdParties, reach: DebtorReach, calls_made: int, now: datetime
) -> str:
    """Why a contact person may not be called now ('' when they may): the stage calls none, the debtor can still be
    reached, or the person was called as often as the rule set allows."""
    if stage_rule is ThirdParties.none:
        return "the stage calls no contact persons"
    third_parties = rules.third_parties
    days = third_parties.unreachable_after_days
    if days is not None and not reach.phones_lost:
        since = reach.last_conversation_at or reach.opened_at
        if now - since < timedelta(days=days):
            what = "last spoken with" if reach.last_conversation_at else "in collection since"
            return f"the debtor is reachable: {what} {since.astimezone(UTC):%Y-%m-%d %H:%M} UTC, under {days} days ago"
    most = third_parties.calls_per_person
    if most is not None and calls_made >= most:
        return f"called {calls_made} time(s) already; {most} per person unless they ask to be called again"
    return ""


class RulesError(ValueError):
    """A rule set that cannot be used, with the file and the reason."""


def load_rules(name: str, directory: Path = RULES_DIR) -> ContactRules:
    return load_named(ContactRules, directory, name, "rule set", RulesError)


def breaches(
    rules: ContactRules, time_zone: str, contacts: list[ContactMade], conversations: list[tuple[datetime, datetime]]
) -> list[str]:
    """Every way the contacts an account made break the rule set (none, if the guard did its job): a contact outside
    its window, a cap exceeded in any span, a call inside a cool-down. A conversation is (when it took place,
    when the account learned of it): it binds only the calls made after it was known."""
    zone, found = ZoneInfo(time_zone), []
    for contact in sorted(contacts, key=lambda c: c.at):
        local = contact.at.astimezone(zone)
        windows = rules.windows.get(contact.channel)
        if windows and not any(w.start <= local.time() < w.end for w in windows):
            found.append(f"{contact.channel.value} at {local:%Y-%m-%d %H:%M} is outside its window")
        for cap in (c for c in rules.caps if c.channel is contact.channel):
            count = sum(c.attempts for c in contacts if c.channel is cap.channel and cap.spans(c.at, contact.at, zone))
            end = f"{local:%Y-%m-%d}" if cap.local_days else f"{local:%Y-%m-%d %H:%M}"
            breach = f"{count} {cap.channel.value} attempts in {cap.days} days up to {end} (at most {cap.max_attempts})"
            if count > cap.max_attempts and breach not in found:
                found.append(breach)
        if contact.channel is Channel.call and rules.conversation_cool_down_days:
            for spoken, known in conversations:
                days = (local.date() - spoken.astimezone(zone).date()).days
                if known < contact.at and days < rules.conversation_cool_down_days:
                    found.append(f"call at {local:%Y-%m-%d %H:%M} on day {days + 1} after a conversation")
    return found
