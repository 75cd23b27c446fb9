"""SMS and e-mail texts, read from templates/messages.yaml and filled with the account's facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from dunning.money import format_amount

TEMPLATE_FILE = Path(__file__).resolve().parent.parent / "templates" / "messages.yaml"


@dataclass(frozen=True)
class Email:
    subject: str
    body: str


def account_ref(account_id: str) -> str:
    """Only the tail of the account id: enough for the debtor to recognise it, useless to anyone else."""
    return account_id[-4:]


@dataclass(frozen=True)
class MessageFacts:
    creditor: str
    account_id: str
    outstanding_minor: int
    currency: str
    due_date: date
    dpd: int
    next_stage_dpd: int | None = None
    late_fee_rate_per_day: Decimal | None = None
    promised_minor: int | None = None  # a promise or plan instalment that a reminder is about
    promised_date: date | None = None
    statement_month: str = ""  # the B2B statement an e-mail is about, and the day to confirm it by
    confirm_by: date | None = None

    def fields(self) -> dict[str, str]:
        rate = self.late_fee_rate_per_day
        return {
            "creditor": self.creditor,
            "account_ref": account_ref(self.account_id),
            "amount": format_amount(self.outstanding_minor, self.currency),
            "due_date": self.due_date.isoformat(),
            "dpd": str(self.dpd),
            "next_stage_dpd": str(self.next_stage_dpd) if self.next_stage_dpd is not None else "",
            "late_fee_percent": f"{(rate * 100).normalize():f}%" if rate is not None else "",
            "promised_amount": format_amount(self.promised_minor, self.currency) if self.promised_minor else "",
            "promised_date": self.promised_date.isoformat() if self.promised_date else "",
            "statement_month": self.statement_month,
            "confirm_by": self.confirm_by.isoformat() if self.confirm_by else "",
        }


class Templates:
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @classmethod
    def load(cls, path: Path = TEMPLATE_FILE) -> Templates:
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")))

    def names(self, channel: str) -> set[str]:
        return set(self._data.get(channel, {}))

    def _entry(self, channel: str, name: str, locale: str) -> Any:
        try:
            return self._data[channel][name][locale]
        except KeyError:
            raise KeyError(f"no {channel} template {name!r} in locale {locale!r} in {TEMPLATE_FILE.name}") from None

    def sms(self, name: str, locale: str, facts: MessageFacts) -> str:
        return str(self._entry("sms", name, locale).format_map(facts.fields()))

    def email(self, name: str, locale: str, facts: MessageFacts, opt_out_link: str | None = None) -> Email:
        """The mail, ending with how to stop e-mails: reply, or open `opt_out_link` (None: reply only)."""
        entry = self._entry("email", name, locale)
        fields = facts.fields()
        opt_out = self._data["email_opt_out"]
        footer = opt_out["link"][locale].format(link=opt_out_link) if opt_out_link else opt_out["reply"][locale]
        return Email(
            subject=entry["subject"].format_map(fields), body=f"{entry['body'].format_map(fields)}\n\n{footer}"
        )

    def opt_out_page(self, part: str, locale: str, creditor: str = "", account_id: str = "") -> str:
        """One line of the opt-out link's page (`question`, `button`, `done`, `unknown`)."""
        texts = self._data["email_opt_out"]["page"][part]
        return str((texts.get(locale) or texts["en"]).format(creditor=creditor, account_ref=account_ref(account_id)))
