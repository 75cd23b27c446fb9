"""Reports to a credit bureau ("furnishing") and the gate before them: passive collection, 12 CFR 1006.30(a).

A negative record (today: a broken promise or plan) becomes a report the account files as a work order; the bureau
feed furnishes only the reports that are ready. Under a rule set with a furnishing gate a report is ready once the
account has spoken with the debtor, or posted a letter about the debt and the rule set's days have passed without it
coming back undelivered. Until then it waits on the account, which releases it when the gate opens, or withdraws it
if the account closes first. Each report keeps the gate's word: why it waited, and what let it go.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from dunning.account import Payload, local_date, local_datetime
from dunning.change import Change
from dunning.channels import work_order_ref
from dunning.compliance import ContactRules, FurnishingRules, local_stamp

if TYPE_CHECKING:
    from dunning.collection import Collection
    from dunning.letters import LetterDelivery

GateVerdict = Literal["open", "shut"]
BureauStatus = Literal["waiting", "ready", "withdrawn"]  # as the account leaves it
ReportStatus = Literal["waiting", "ready", "sent", "withdrawn"]  # and once the bureau feed has furnished it


class LetterPosted(BaseModel):
    """A letter about the debt the account posted, and when it came back undelivered, if it did."""

    letter_ref: str
    posted_at: datetime
    returned_at: datetime | None = None


class Gate(Payload):
    """The gate's answer for furnishing now, kept as evidence with the report."""

    verdict: GateVerdict
    reason: str
    opens_at: datetime | None = None  # shut: when a posted letter's days run out (None: only news opens it)


class BureauReport(BaseModel):
    """A report to a credit bureau that waits for the gate (one released or withdrawn is in bureau_reports only)."""

    report_ref: str
    action_key: str
    reason: str  # what it reports: "broken promise PTP2"
    commitment_id: str | None = None
    filed_at: datetime
    waited_because: str = ""


def letter_days_end(rules: FurnishingRules, time_zone: str, posted_at: datetime) -> datetime:
    """When a letter's waiting days are over: the day it was posted is day 0 and the rule set's days after it must all
    have ended, in the debtor's calendar (Reg F comment 30(a)(1)-2: 14 consecutive days after the date of mailing)."""
    day = local_date(posted_at, time_zone) + timedelta(days=rules.wait_after_letter_days + 1)
    return local_datetime(day, time(0), time_zone)


def gate(
    rules: ContactRules | None, time_zone: str, spoken_at: datetime | None, letters: list[LetterPosted], now: datetime
) -> Gate:
    """May a report about the debt go to a credit bureau at `now`? Open without a gate, after a conversation with the
    debtor, or once a letter's days have passed without it coming back; shut otherwise, with the moment a posted
    letter's days run out, if one is running."""
    if rules is None or rules.furnishing is None:
        return Gate(verdict="open", reason=f"no furnishing gate under rule set {rules.name if rules else '(none)'}")
    if spoken_at is not None and spoken_at <= now:
        return Gate(verdict="open", reason=f"spoke with the debtor at {local_stamp(spoken_at, time_zone)}")
    furnishing, days = rules.furnishing, rules.furnishing.wait_after_letter_days
    ends = [(letter, letter_days_end(furnishing, time_zone, letter.posted_at)) for letter in letters]
    counted = [(letter, end) for letter, end in ends if _counts(letter, end)]
    passed = [(letter, end) for letter, end in counted if end <= now]
    if passed:
        letter, _ = min(passed, key=lambda pair: pair[1])
        posted = local_date(letter.posted_at, time_zone)
        return Gate(
            verdict="open", reason=f"letter {letter.letter_ref} posted {posted}, not returned in the {days} days after"
        )
    running = [(letter, end) for letter, end in counted if end > now]
    if running:
        letter, end = min(running, key=lambda pair: pair[1])
        posted = local_date(letter.posted_at, time_zone)
        return Gate(
            verdict="shut",
            reason=f"not spoken with the debtor; letter {letter.letter_ref} posted {posted}: waiting {days} days for it"
            " to come back undelivered",
            opens_at=end,
        )
    returned = [letter.letter_ref for letter, end in ends if not _counts(letter, end)]
    if returned:
        return Gate(
            verdict="shut",
            reason=f"not spoken with the debtor, and letter {', '.join(returned)} came back undelivered",
        )
    return Gate(verdict="shut", reason="not spoken with the debtor, and no letter about the debt posted yet")


def _counts(letter: LetterPosted, days_end: datetime) -> bool:
    """A letter returned within its days does not count; one returned later had already done its work."""
    return letter.returned_at is None or letter.returned_at >= days_end


def report_ref(action_key: str) -> str:
    return work_order_ref("B", action_key)


def gate_now(case: Collection, now: datetime) -> Gate:
    spoken, letters = case.state.last_conversation_at, case.state.letters_posted
    return gate(case.policy.contact_rules, case.account.time_zone, spoken, letters, now)


def file_report(
    case: Collection, action_key: str, reason: str, now: datetime, commitment_id: str | None = None
) -> Change[BureauReport]:
    """A negative record to report: applied (ready at once) when the gate is open, else waiting, with why."""
    answer = gate_now(case, now)
    report = BureauReport(
        report_ref=report_ref(action_key),
        action_key=action_key,
        reason=reason,
        commitment_id=commitment_id,
        filed_at=now,
    )
    if answer.verdict == "open":
        return Change("applied", answer.reason, detail=report)
    report.waited_because = answer.reason
    case.state.bureau_reports.append(report)
    return Change("waiting", answer.reason, detail=report)


def release_due(case: Collection, now: datetime) -> Change[BureauReport] | None:
    """The oldest waiting report, once the gate has opened, with what opened it (None: none waits, or still shut)."""
    if not case.state.bureau_reports:
        return None
    answer = gate_now(case, now)
    if answer.verdict == "shut":
        return None
    return Change("applied", answer.reason, detail=case.state.bureau_reports.pop(0))


def gate_opens_at(case: Collection, now: datetime) -> datetime | None:
    """When to look again for a waiting report: when a posted letter's days run out (None: nothing waits on time)."""
    return gate_now(case, now).opens_at if case.state.bureau_reports else None


def withdraw_reports(case: Collection) -> list[BureauReport]:
    """The account closed (cured, or for another reason) before the gate opened: nothing waiting is furnished."""
    withdrawn, case.state.bureau_reports = case.state.bureau_reports, []
    return withdrawn


def letter_posted(case: Collection, letter_ref: str, at: datetime) -> None:
    """Keeps a letter about the debt that went, under a rule set whose gate counts letters."""
    rules = case.policy.contact_rules
    if rules is None or rules.furnishing is None or any(p.letter_ref == letter_ref for p in case.state.letters_posted):
        return
    case.state.letters_posted.append(LetterPosted(letter_ref=letter_ref, posted_at=at))


def letter_delivered(case: Collection, delivery: LetterDelivery, now: datetime) -> None:
    """The mail vendor's evidence on a posted letter: posted later than queued moves its days on; returned, it no
    longer counts if its days were still running (the earlier of when it happened and when we heard)."""
    letter = next((p for p in case.state.letters_posted if p.letter_ref == delivery.letter_ref), None)
    if letter is None:
        return
    happened = min(delivery.occurred_at, now)
    if delivery.status == "returned" and letter.returned_at is None:
        letter.returned_at = happened
    elif delivery.status == "sent":
        letter.posted_at = max(letter.posted_at, happened)
