"""The account document billing sends in, and the payloads that travel with it."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, reset_tzpath

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dunning.money import exponent

# Zone rules come from the pinned tzdata package, never the host's: a host update must not move a step's instant
# between a run and its replay.
reset_tzpath([])

# The form phone numbers are kept in (what Twilio's webhooks are checked against; billing's are made so where they
# enter, by dunning/contact_points.py).
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
PHONE_KINDS = ("mobile", "home_phone", "work_phone")
# Amounts beyond this (10 trillion in major units of a 2-decimal currency) are typos, and would overflow bigint sums.
MAX_MINOR = 10**15
ContactKind = Literal["mobile", "home_phone", "work_phone", "email", "address"]
# What the numbering plan says a phone number is (phonenumbers' PhoneNumberType, in lower case); set where billing's
# input enters. A number that may be either (most North American ones) is fixed_line_or_mobile.
LineType = Literal[
    "fixed_line",
    "mobile",
    "fixed_line_or_mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "unknown",
]
IncomeBand = Literal["low", "middle", "high"]
Employment = Literal["employed", "self_employed", "retired", "student", "unemployed"]
CODE = r"^[a-z0-9_]+$"


def problems(err: ValidationError, whole: str = "document") -> str:
    """What was wrong, field by field, without echoing the values (they may be personal data); `whole` names the
    top level."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or whole}: {e['msg']}" for e in err.errors())


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ContactPoint(Payload):
    """One phone number, address or e-mail of the debtor or of a related person. Lenient as a model, since stored
    documents and histories decode through it: the numbers and addresses billing sends are checked and normalised
    where they enter (`dunning.contact_points`, called by `client`)."""

    kind: ContactKind
    value: str = Field(min_length=1)
    owner: Literal["debtor", "contact"] = "debtor"
    relation: str | None = None  # for a contact: spouse, parent, employer ...
    knows_of_debt: bool = False  # a contact person who already knows of the loan may discuss it (domain §2)
    line_type: LineType | None = None  # a phone's, found when it came in (None: from before that, or not a phone)

    @model_validator(mode="after")
    def _value_fits_kind(self) -> ContactPoint:
        if self.kind == "email" and "@" not in self.value:
            raise ValueError("email must contain '@'")
        return self


class SegmentOverride(Payload):
    """Billing's own segment for the account, which the segmentation then keeps, with its reason as a code (codes are
    shown to ops and in search attributes, so never free text that could carry personal data)."""

    segment: str = Field(pattern=CODE)
    reason: str = Field(pattern=CODE, max_length=64)


# Billing's id of an invoice (B2B): like an account id, safe to log.
InvoiceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-./]{0,63}$")]


class Invoice(Payload):
    """One invoice of a B2B account, with its own due date (domain §9)."""

    invoice_id: InvoiceId
    amount_minor: int = Field(gt=0, le=MAX_MINOR)
    due_date: date


class AccountDocument(Payload):
    account_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
    debtor_name: str = Field(min_length=1)
    contact_points: list[ContactPoint] = Field(min_length=1)
    time_zone: str
    # ISO 3166-1 alpha-2; national phone numbers are read in it. Named where the document enters (the time zone's
    # country unless billing names one); None on documents stored before it was.
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    currency: str
    amount_due_minor: int = Field(gt=0, le=MAX_MINOR)
    due_date: date
    segment: str = Field(default="standard", pattern=CODE)  # billing's label, kept as an input
    # A named policy is kept (billing decided); without one, the segment's treatment or the experiment's arm for the
    # product chooses it.
    policy: str | None = None
    product: str | None = Field(default=None, pattern=CODE)
    locale: Literal["en", "zh"] = "en"
    creditor: str = "Creditor"
    # What billing knows of the debtor, for the segmentation's four factors (domain §11); each is optional.
    income_band: IncomeBand | None = None
    employment: Employment | None = None
    prior_delinquencies: int | None = Field(default=None, ge=0, le=1000)
    prior_broken_promises: int | None = Field(default=None, ge=0, le=1000)
    segment_override: SegmentOverride | None = None
    # The statute of limitations (dunning/limitation.py): the last payment before collection, and the day the
    # debt is time-barred when billing knows it (state law, an acknowledgment that restarted the period).
    last_payment_on: date | None = None
    limitation_ends_on: date | None = None
    # A B2B account's invoices, each with its own due date: they add up to `amount_due_minor`, the earliest is
    # `due_date`, and dpd counts from the oldest one still unpaid. None: the account is one invoice.
    invoices: list[Invoice] = []

    @model_validator(mode="after")
    def _invoices_add_up(self) -> AccountDocument:
        if not self.invoices:
            return self
        ids = [i.invoice_id for i in self.invoices]
        if repeated := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"invoice ids must be unique; repeated: {', '.join(repeated)}")
        total = sum(i.amount_minor for i in self.invoices)
        if total != self.amount_due_minor:
            raise ValueError(f"invoices add up to {total} but amount_due_minor is {self.amount_due_minor}")
        oldest = min(i.due_date for i in self.invoices)
        if oldest != self.due_date:
            raise ValueError(f"due_date must be the earliest invoice's due date, {oldest}")
        return self

    @model_validator(mode="after")
    def _policy_or_product(self) -> AccountDocument:
        if self.policy is None and self.product is None:
            raise ValueError("name a policy, or a product for the segmentation to choose the policy of")
        return self

    @model_validator(mode="after")
    def _account_id_names_no_one(self) -> AccountDocument:
        """The workflow id and the logs carry the account id in the clear (they are not sealed), so it must be
        billing's account number, not the debtor's phone number."""
        digits = "".join(c for c in self.account_id if c.isdigit())
        phones = [p.value for p in self.contact_points if p.kind in PHONE_KINDS]
        if len(digits) >= 7 and any(digits in phone for phone in phones):
            raise ValueError("account_id repeats a phone number of the account: use billing's account number")
        return self

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from None
        return value

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        exponent(value)
        return value

    @property
    def workflow_id(self) -> str:
        return workflow_id(self.account_id)

    def points(self, kind: str, owner: str = "debtor") -> list[ContactPoint]:
        return [p for p in self.contact_points if p.kind == kind and p.owner == owner]


def workflow_id(account_id: str) -> str:
    return f"account-{account_id}"


PAYMENT_ID_MAX = 128
# The id billing or ops give an event (payment, reversal, dispute, report, cease request): resending it is safe.
EventId = Annotated[str, Field(min_length=1, max_length=PAYMENT_ID_MAX)]


class PaymentReceived(Payload):
    news: Literal["payment_received"] = Field(default="payment_received", exclude=True)  # its inbox tag
    payment_id: EventId
    amount_minor: int = Field(le=MAX_MINOR)
    currency: str | None = None
    paid_at: AwareDatetime
    invoice_id: InvoiceId | None = None  # the invoice the customer pays (B2B); else the policy's order


class PaymentReversed(Payload):
    """Billing took a payment back: a bounced debit, a chargeback."""

    news: Literal["payment_reversed"] = Field(default="payment_reversed", exclude=True)  # its inbox tag
    payment_id: EventId
    reason: str = Field(min_length=1, max_length=500)
    reversed_at: AwareDatetime


BalanceKind = Literal["charge", "interest", "credit_note", "write_down"]
RAISES: tuple[BalanceKind, ...] = ("charge", "interest")  # the kinds that add to what is owed; the others take off


class BalanceChanged(Payload):
    """Billing changed what the account owes: a new charge or interest, a credit note or a write-down. A charge
    names its invoice on a B2B account (a new id, with its due date, opens one); interest is the account's."""

    news: Literal["balance_changed"] = Field(default="balance_changed", exclude=True)  # its inbox tag
    change_id: EventId
    kind: BalanceKind
    amount_minor: int = Field(le=MAX_MINOR)
    currency: str | None = None
    invoice_id: InvoiceId | None = None
    due_date: date | None = None  # of the new invoice a charge opens
    reason: str = Field(min_length=1, max_length=500)
    effective_at: AwareDatetime

    @model_validator(mode="after")
    def _fits_kind(self) -> BalanceChanged:
        if self.due_date is not None and (self.kind != "charge" or self.invoice_id is None):
            raise ValueError("only a charge that opens an invoice (invoice_id) has a due_date")
        if self.kind == "interest" and self.invoice_id is not None:
            raise ValueError("interest is the account's, not an invoice's: leave invoice_id out")
        return self


class DemoClock(Payload):
    """Business time runs `86400 / day_seconds` times faster than wall time from a shared anchor (demo only)."""

    day_seconds: float = Field(gt=0)
    anchor_real: AwareDatetime
    anchor_business: AwareDatetime


class Clock:
    """Maps workflow (wall) time to business time; the identity in production."""

    def __init__(self, demo: DemoClock | None) -> None:
        self._demo = demo

    def business(self, real: datetime) -> datetime:
        if self._demo is None:
            return real
        return self._demo.anchor_business + (real - self._demo.anchor_real) * self._speed

    @property
    def demo(self) -> DemoClock | None:
        return self._demo

    def real_seconds(self, business_seconds: float) -> float:
        return business_seconds if self._demo is None else business_seconds / self._speed

    @property
    def _speed(self) -> float:
        assert self._demo is not None
        return 86400 / self._demo.day_seconds


def local_datetime(day: date, at: time, zone: str) -> datetime:
    """The instant of a local wall-clock time in the debtor's zone (DST gaps resolve forward, as zoneinfo does)."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(zone))


def local_date(instant: datetime, zone: str) -> date:
    return instant.astimezone(ZoneInfo(zone)).date()
