"""The measures the business watches (domain §12) as the reports read them: a period, a way to slice the accounts, and
one row model per measure, carrying counts and amounts so rows can be added up and their rates computed."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dunning.channels import Channel
from dunning.outcomes import OutcomeCode
from dunning.visits import OUTCOME_OF

# How accounts are grouped: one portfolio, the policy they run, the segment and the experiment arm they were assigned
# when they opened, their creditor, or the dpd bucket they arrived in.
Slice = Literal["portfolio", "policy", "segment", "arm", "creditor", "entry_bucket"]
RollBasis = Literal["dpd", "stage"]  # roll between dpd buckets, or between the policy's stages

# Contacts (per account, per cure): the steps taken on a channel that reaches the debtor.
CONTACT_CHANNELS = tuple(
    c.value for c in (Channel.sms, Channel.email, Channel.call, Channel.letter, Channel.field_visit)
)
REGISTERED_DELIVERIES = ("registered", "signed_receipt")  # letters priced as registered letters

# Outcomes of an attempt (domain §3: every call and visit ends with one) by whom it reached: the debtor (right-party
# contact), someone else who answered, or nobody. Texts and e-mails end with no outcome, so attempts are calls and
# visits only.
ATTEMPT_SOURCES = ("collector", "dialer", "field_visit")
REACHED: dict[OutcomeCode, Literal["debtor", "someone_else", "nobody"]] = {
    "reached": "debtor",
    "promised": "debtor",
    "unable_to_pay": "debtor",
    "unwilling_to_pay": "debtor",
    "bankruptcy": "debtor",
    "says_paid": "debtor",
    "callback_requested": "debtor",
    "death": "someone_else",  # the debtor cannot answer: whoever did told us
    "wrong_number": "someone_else",
    "no_such_person": "someone_else",
    "resigned": "someone_else",  # the employer answered
    "moved": "someone_else",
    "message_left": "someone_else",  # family or friends took a message for the debtor
    "no_answer": "nobody",
    "busy": "nobody",
    "not_found": "nobody",
    "line_dead": "nobody",
    "address_invalid": "nobody",
    "invalid_number": "nobody",
    "invalid_email": "nobody",
}


def attempt_keys(*reached: str) -> list[str]:
    """`kind:code` of the contact events whose outcome reached `reached`: outcomes by code, visits by finding."""
    codes = {code for code, whom in REACHED.items() if whom in reached}
    return sorted([f"outcome:{c}" for c in codes] + [f"visit:{f}" for f, c in OUTCOME_OF.items() if c in codes])


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class Row(BaseModel):
    model_config = ConfigDict(frozen=True)


class Period(Row):
    """From `first` to `last`, both included, each account's days counted in its own time zone."""

    first: date
    last: date

    @model_validator(mode="after")
    def _in_order(self) -> Period:
        if self.last < self.first:
            raise ValueError(f"the period ends ({self.last}) before it starts ({self.first})")
        return self


class CureRate(Row):
    """Of the accounts that entered `band` (a dpd bucket or an amount band) in the period, those cured within the
    window, with the balances they owed on entering."""

    slice: str
    currency: str
    band: str
    entered: int
    cured: int
    entered_minor: int
    cured_minor: int

    @property
    def by_count(self) -> float | None:
        return share(self.cured, self.entered)

    @property
    def by_amount(self) -> float | None:
        return share(self.cured_minor, self.entered_minor)


class CureRates(Row):
    window_days: int
    by_bucket: list[CureRate]
    by_amount_band: list[CureRate]


class RollCell(Row):
    """Accounts in `from_bucket` at the end of month `month_end` and where they stood a month later (a bucket,
    cured or closed), with the balance they owed at the first month's end."""

    slice: str
    currency: str
    month_end: date
    from_bucket: str
    to_bucket: str
    accounts: int
    balance_minor: int


class RollMatrix(Row):
    basis: RollBasis
    cells: list[RollCell]

    def rates(self, of: str, currency: str) -> dict[str, dict[str, float]]:
        """Shares by count over all months for one slice: from bucket -> to bucket -> share of the from bucket."""
        counts: dict[str, dict[str, int]] = {}
        for c in self.cells:
            if (c.slice, c.currency) == (of, currency):
                row = counts.setdefault(c.from_bucket, {})
                row[c.to_bucket] = row.get(c.to_bucket, 0) + c.accounts
        return {origin: {to: n / sum(row.values()) for to, n in row.items()} for origin, row in counts.items()}


class PromiseKept(Row):
    """Promises or plans whose last instalment fell due in the period and were judged: kept, kept in part, broken."""

    slice: str
    kind: str  # promise, plan
    currency: str
    came_due: int
    kept: int
    kept_in_part: int
    broken: int
    due_minor: int  # promised, all of them
    kept_minor: int  # promised by those kept
    paid_minor: int  # paid towards all of them

    @property
    def by_count(self) -> float | None:
        return share(self.kept, self.came_due)

    @property
    def by_amount(self) -> float | None:
        return share(self.kept_minor, self.due_minor)


class ContactRate(Row):
    """Call and visit attempts in the period, those that reached anyone, and those that reached the debtor."""

    slice: str
    attempts: int
    reached_anyone: int
    reached_debtor: int

    @property
    def contact_rate(self) -> float | None:
        return share(self.reached_anyone, self.attempts)

    @property
    def right_party_rate(self) -> float | None:
        return share(self.reached_debtor, self.attempts)


class ContactIntensity(Row):
    """Contacts made (texts, e-mails, call tasks, letters, visits taken) against the accounts delinquent at some
    time in the period and the cures in it."""

    slice: str
    contacts: int
    accounts: int
    cures: int

    @property
    def per_account(self) -> float | None:
        return share(self.contacts, self.accounts)

    @property
    def per_cure(self) -> float | None:
        return share(self.contacts, self.cures)


class Recovery(Row):
    """Money in during the period and what went back; the balance owed when it started and what those accounts paid."""

    slice: str
    currency: str
    collected_minor: int
    reversed_minor: int
    balance_at_start_minor: int
    collected_from_start_minor: int  # net, from the accounts that owed at the start

    @property
    def recovered_minor(self) -> int:
        return self.collected_minor - self.reversed_minor

    @property
    def liquidation_rate(self) -> float | None:
        return share(self.collected_from_start_minor, self.balance_at_start_minor)


class Delinquency(Row):
    """How often accounts became delinquent (a reopening counts again), how much they owed, and how long it lasted
    for the delinquencies that ended in the period; days to cure for those that ended cured."""

    slice: str
    currency: str
    accounts: int  # with a delinquency that started in the period
    started: int
    reopened: int
    started_minor: int
    ended: int
    cured: int
    mean_days: float | None  # of those that ended
    mean_days_to_cure: float | None
    median_days_to_cure: float | None

    @property
    def frequency(self) -> float | None:
        return share(self.started, self.accounts)


class ConcessionsGiven(Row):
    """What collectors gave of one kind of concession, granted in the period: how many took effect and what they gave
    up (an extension: days), how many needed an approver, and how many were rejected or taken back."""

    slice: str
    currency: str
    kind: str
    granted: int
    applied: int  # in force now
    given_minor: int  # of those in force
    days_given: int  # of the extensions in force
    approved: int  # above their granter's limit, and approved
    awaiting_approval: int
    rejected: int
    reversed: int  # taken back, or withdrawn while waiting


class ActionCost(Row):
    """What the period's actions cost at reporting/unit_costs.yaml's prices, the agencies' commission, and what it
    bought: money recovered and cures."""

    slice: str
    currency: str
    actions: dict[str, int]  # action (as unit_costs.yaml names it) -> times taken
    action_cost_minor: int
    commission_minor: int
    recovered_minor: int
    cures: int

    @property
    def cost_minor(self) -> int:
        return self.action_cost_minor + self.commission_minor

    @property
    def cost_per_cure(self) -> float | None:
        return self.cost_minor / self.cures if self.cures else None

    @property
    def yield_per_cost(self) -> float | None:
        return self.recovered_minor / self.cost_minor if self.cost_minor else None


class QueuePerformance(Row):
    """A collector queue's work in the period: call tasks due, follow-up days planned and worked, attempts on its
    accounts and whom they reached, promises taken by call, and its accounts cured."""

    slice: str
    queue: str
    call_tasks: int
    follow_up_days: int
    days_worked: int
    attempts: int
    reached_anyone: int
    reached_debtor: int
    promises: int
    cures: int

    @property
    def right_party_rate(self) -> float | None:
        return share(self.reached_debtor, self.attempts)


class AgencyPerformance(Row):
    """Placements made in the period with an agency: the balance placed, what came in while placed, and the
    commission on it at each placement's rate."""

    slice: str
    agency: str
    currency: str
    placements: int
    placed_minor: int
    recovered_minor: int
    commission_minor: int

    @property
    def recovery_rate(self) -> float | None:
        return share(self.recovered_minor, self.placed_minor)


class ArmOutcome(Row):
    """One delinquency of an experiment's account, followed for the same window from its start whatever its arm."""

    arm: str
    cured: bool
    days_to_cure: int | None
    contacts: int
    cost_minor: int


class ArmCounts(Row):
    """An arm's promises that came due in the period (and those kept), its attempts (and those reaching the debtor)."""

    arm: str
    promises_due: int = 0
    promises_kept: int = 0
    attempts: int = 0
    reached_debtor: int = 0


class ArmResults(Row):
    experiment: str
    currency: str
    window_days: int = Field(ge=1)
    outcomes: list[ArmOutcome]
    counts: list[ArmCounts]

    def arms(self) -> list[str]:
        return sorted({o.arm for o in self.outcomes})

    def cure_curve(self, arm: str) -> list[float]:
        """Of the arm's delinquencies, the share cured by each day since entry, from day 0 to the window's end."""
        days = [o.days_to_cure for o in self.outcomes if o.arm == arm]
        if not days:
            return []
        cured = [d for d in days if d is not None]
        return [sum(1 for d in cured if d <= day) / len(days) for day in range(self.window_days + 1)]
