"""Retention: when a closed account's personal data is erased, and what its kept run looks like after.

A closed account's records stay whole for its rule set's `retention` (the evidence the law asks for); after that its
personal data (the debtor's name, numbers, e-mails, addresses and people's free text) is erased, while the evidence
of what was done (when, by which channel, the guard's verdicts, payments, promises) stays. The account's kept run
still reopens it if money comes back, on a contact book that reaches no one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dunning.account import ContactPoint
from dunning.compliance import ContactRules
from dunning.limitation import years_after
from dunning.outcomes import ContactBook, PointRecord
from dunning.state import AccountRun

ERASED = "erased"
# An address under the .invalid top-level domain (RFC 2606) is valid in form and can never be delivered: an erased
# account keeps a contact point, as every account must, that reaches no one and is marked invalid besides.
ERASED_POINT = ContactPoint(kind="email", value="erased@invalid")
# Fields where people wrote free text about the debtor (a dispute's details, a report's note, a claim's clues).
FREE_TEXT = frozenset({"details", "note", "notes", "clues", "evidence"})
SHORTEST_SEARCHED = 5  # a name or number this long is searched for inside texts too
# What an erased account document says in place of its debtor's name and contact points.
ERASED_IDENTITY = {"debtor_name": ERASED, "contact_points": [ERASED_POINT.model_dump(mode="json")]}


def retention_class(rules: ContactRules | None) -> str:
    """The class every evidence row of an account carries: its rule set and the years it keeps evidence after the
    account closed ('' without a rule set that names one: such rows are kept for good)."""
    if rules is None or rules.retention is None:
        return ""
    return f"{rules.name}:{rules.retention.evidence_years}"


def erase_after(closed_at: datetime, rules: ContactRules | None) -> datetime | None:
    """When the account's personal data may go: its rule set's retention after it closed (None: no rule set names
    one, and the data is kept). A close on 29 February counts its years to 28 February."""
    if rules is None or rules.retention is None:
        return None
    return years_after(closed_at, rules.retention.evidence_years)


def anonymised(run: AccountRun, erased_at: datetime) -> AccountRun:
    """The kept run without personal data: the name and every contact point are gone, as is any copy of them and any
    free text, anywhere in the account's document and state; the ledger, status, policy and history of steps stay."""
    personal = {run.account.debtor_name, *(point.value for point in run.account.contact_points)}
    if run.state is not None and run.state.contact_book is not None:
        personal |= {record.point.value for record in run.state.contact_book.records}
    data = run.model_dump(mode="json")
    data["account"], data["state"] = _scrubbed(data["account"], personal), _scrubbed(data["state"], personal)
    data["account"] |= ERASED_IDENTITY
    if data.get("state") is not None:
        erased = PointRecord(point=ERASED_POINT, invalid_since=erased_at, invalid_because="personal data erased")
        data["state"]["contact_book"] = ContactBook(records=[erased]).model_dump(mode="json")
    return AccountRun.model_validate(data)


def _scrubbed(value: Any, personal: set[str]) -> Any:
    if isinstance(value, dict):
        return {
            key: ERASED if key in FREE_TEXT and isinstance(item, str) and item else _scrubbed(item, personal)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_scrubbed(item, personal) for item in value]
    if isinstance(value, str) and any(_holds(value, part) for part in personal):
        return ERASED
    return value


def _holds(text: str, personal: str) -> bool:
    """A name or number inside a longer text; a short value (a two-letter name) only as the whole text, or every
    text containing its letters would go."""
    return personal in text if len(personal) >= SHORTEST_SEARCHED else personal == text
