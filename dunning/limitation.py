"""Time-barred debts (12 CFR 1006.26; China's Civil Code art. 188): once the limitation period has run, the debt may
still be asked for, but never sued on nor threatened with suit, and letters carry the rule set's disclosure where it
gives one.

The period ends on the date billing sends (`limitation_ends_on`: state law and an acknowledgment that restarted it are
billing's to know), or else the rule set's years after the last payment (before collection or in it), or after the
due date when there was none.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TypeVar

from dunning.account import AccountDocument, local_date
from dunning.actions import Action
from dunning.compliance import TimeBarRules

D = TypeVar("D", bound=date)  # a date, or a datetime


def years_after(day: D, years: int) -> D:
    """The same day `years` later; 29 February counts to 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def limitation_ends(account: AccountDocument, rules: TimeBarRules | None, last_paid_at: datetime | None) -> date | None:
    """The first day the debt is time-barred (None: no date from billing and no period in the rule set)."""
    if account.limitation_ends_on is not None:
        return account.limitation_ends_on
    if rules is None:
        return None
    paid = [account.due_date, account.last_payment_on, last_paid_at and local_date(last_paid_at, account.time_zone)]
    return years_after(max(day for day in paid if day is not None), rules.limitation_years)


def suit_refusal(action: Action, ends: date | None, today: date) -> str:
    """Why a step that threatens suit may not be taken ('' when it may): the debt is time-barred."""
    if action.threatens_suit and ends is not None and today >= ends:
        return f"time-barred debt (limitation ended {ends.isoformat()}): no suit, no threat of one (12 CFR 1006.26(b))"
    return ""


def disclosure(rules: TimeBarRules | None, ends: date | None, today: date, locale: str) -> str:
    """What a letter must say of a time-barred debt ('' when it is not barred, or the rule set requires nothing)."""
    if rules is None or ends is None or today < ends:
        return ""
    return rules.disclosure.get(locale) or rules.disclosure.get("en", "")
