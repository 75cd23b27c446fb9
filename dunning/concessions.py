"""Concessions: late fees waived (domain §10), a discount to settle (§6 strategy 3: "the largest waiver allowed"), a
plan's instalments reduced or put off (§6 strategy 4). An operator grants one within the policy's limit for their
role; above it the concession waits for an approver; beyond the policy's most it is refused. Applied, the ledger gives
the money up with the balance before and after; any concession can be reversed, restoring exactly what it changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from dunning.account import MAX_MINOR, EventId, Payload
from dunning.change import Change
from dunning.commitments import Commitment, Instalment, covered, timeline
from dunning.ladder import PlannedStep, dpd_at
from dunning.ledger import LedgerEntry, paid_off_as
from dunning.policy_rules import CONCESSION_BASES, ConcessionKind, ConcessionRule

if TYPE_CHECKING:
    from dunning.collection import Collection

WORDS: dict[ConcessionKind, str] = {
    "fee_waiver": "fee waiver",
    "settlement_discount": "settlement discount",
    "plan_reduction": "plan reduction",
    "plan_extension": "plan extension",
}
PLAN_KINDS: tuple[ConcessionKind, ...] = ("plan_reduction", "plan_extension")
Role = Annotated[str, Field(min_length=1, max_length=64)]


class ConcessionGranted(Payload):
    """An operator gives the debtor something: money (`amount_minor`) or, for a plan extension, days."""

    news: Literal["concession_granted"] = Field(default="concession_granted", exclude=True)  # its inbox tag
    concession_id: EventId
    kind: ConcessionKind
    amount_minor: int = Field(default=0, ge=0, le=MAX_MINOR)
    days: int = Field(default=0, ge=0, le=3650)
    granted_by: EventId  # the operator
    roles: list[Role] = Field(min_length=1, max_length=20)  # theirs: the most generous the policy names sets the limit
    reason: str = Field(min_length=1, max_length=500)
    granted_at: AwareDatetime

    @model_validator(mode="after")
    def _money_or_days(self) -> ConcessionGranted:
        if self.kind == "plan_extension" and (self.days < 1 or self.amount_minor):
            raise ValueError("a plan extension gives days (one or more), not an amount")
        if self.kind != "plan_extension" and (self.amount_minor < 1 or self.days):
            raise ValueError(f"a {WORDS[self.kind]} gives an amount (more than zero), not days")
        return self

    @property
    def size(self) -> int:
        return self.days if self.kind == "plan_extension" else self.amount_minor


class ConcessionDecided(Payload):
    """An approver's answer on a concession above its granter's limit: approved, or rejected with the reason."""

    news: Literal["concession_decided"] = Field(default="concession_decided", exclude=True)  # its inbox tag
    concession_id: EventId
    approved: bool
    approver: EventId  # the approver role of the policy it is decided as
    operator: EventId | None = None  # who decided
    note: str = Field(default="", max_length=1000)
    decided_at: AwareDatetime


class ConcessionReversed(Payload):
    """A concession taken back (the settlement was not paid, it was granted by mistake), or withdrawn while waiting."""

    news: Literal["concession_reversed"] = Field(default="concession_reversed", exclude=True)  # its inbox tag
    concession_id: EventId
    reason: str = Field(min_length=1, max_length=500)
    reversed_by: EventId
    reversed_at: AwareDatetime


ConcessionNews = ConcessionGranted | ConcessionDecided | ConcessionReversed
ConcessionStatus = Literal["applied", "awaiting_approval", "rejected", "reversed", "withdrawn", "refused"]


class Concession(BaseModel):
    """A concession on the account: its grant, where it stands, and what a reversal restores."""

    grant: ConcessionGranted
    status: ConcessionStatus
    base_minor: int = 0  # what the policy's shares were of when it was granted (an extension: none)
    approvers: list[str] = []  # who may approve it, when it waits for one
    reason: str = ""  # why it waits, or was refused
    decision: ConcessionDecided | None = None
    reversal: ConcessionReversed | None = None
    plan_id: str | None = None  # the plan it changed, and the instalments before
    instalments_before: list[Instalment] = []


@dataclass
class ConcessionOutcome:
    """What to record of a concession: where it stands, and the balance's movement (None: no money moved)."""

    concession: Concession
    entry: LedgerEntry | None = None
    skipped: list[PlannedStep] = field(default_factory=list)


# --- whether it may be given ----------------------------------------------------------------------------------


def grant_problem(case: Collection, grant: ConcessionGranted, now: datetime) -> str:
    """Why the concession cannot be granted ('' if it can, at once or once approved). A resend of a grant already
    taken is no problem: it changes nothing."""
    state = case.state
    taken = state.concessions.get(grant.concession_id)
    if taken is not None:
        return "" if taken.grant == grant else f"concession {grant.concession_id} was already granted ({taken.status})"
    if state.status != "open":
        return f"the account is {state.status}"
    rule, words = _rule(case, grant.kind), WORDS[grant.kind]
    if rule is None:
        return f"policy {case.policy.ref} grants no {words}s"
    if rule.limit(grant.roles) is None:
        held, allowed = ", ".join(grant.roles), ", ".join(sorted({*rule.alone, *rule.approvers}))
        return f"roles {held} may not grant a {words} under {case.policy.ref} (roles that may: {allowed})"
    if problem := fit_problem(case, grant):
        return problem
    most = _cap(rule.most, grant.kind, base(case, grant.kind))
    if grant.size > most:
        return (
            f"a {words} of {grant.size} is more than the most the policy allows, {most} ({_of(rule.most, grant.kind)})"
        )
    return ""


def fit_problem(case: Collection, grant: ConcessionGranted) -> str:
    """Why the account, as it stands now, cannot take the concession ('' if it can)."""
    ledger, commitment, amount = case.state.ledger, case.state.commitment, grant.amount_minor
    if grant.kind == "fee_waiver" and amount > ledger.late_fee_minor:
        return f"a fee waiver of {amount} is more than the {ledger.late_fee_minor} of late fees owed"
    if grant.kind == "settlement_discount" and amount >= ledger.outstanding_minor:
        return f"a settlement discount of {amount} leaves nothing to pay of the {ledger.outstanding_minor} owed"
    if grant.kind in PLAN_KINDS and (commitment is None or commitment.kind != "plan"):
        return f"no plan is running for a {WORDS[grant.kind]}"
    if grant.kind == "plan_reduction" and amount >= min(base(case, grant.kind), ledger.outstanding_minor):
        return f"a plan reduction of {amount} leaves nothing of the {base(case, grant.kind)} the plan has to pay"
    return ""


def base(case: Collection, kind: ConcessionKind) -> int:
    """What the policy's shares for `kind` are of, now (an extension's limits are days: none)."""
    ledger, commitment = case.state.ledger, case.state.commitment
    if kind == "fee_waiver":
        return ledger.late_fee_minor
    if kind == "settlement_discount":
        return ledger.outstanding_minor
    if kind == "plan_reduction" and commitment is not None:
        return max(commitment.total_minor - commitment.paid_minor, 0)
    return 0


def own_limit(case: Collection, grant: ConcessionGranted) -> int:
    """The most the granter gives of it alone, in its unit (minor units; days)."""
    rule = _rule(case, grant.kind)
    limit = rule.limit(grant.roles) if rule else None
    return _cap(limit, grant.kind, base(case, grant.kind)) if limit is not None else 0


def _rule(case: Collection, kind: ConcessionKind) -> ConcessionRule | None:
    return case.policy.concessions.rule(kind) if case.policy.concessions else None


def _cap(share: Decimal, kind: ConcessionKind, base_minor: int) -> int:
    """A limit in the kind's unit: days, or the share of the base in whole minor units (rounded down)."""
    if kind == "plan_extension":
        return int(share)
    return int((share * base_minor).to_integral_value(ROUND_FLOOR))


def _of(share: Decimal, kind: ConcessionKind) -> str:
    if kind == "plan_extension":
        return "days"
    return f"{(share * 100).normalize():f}% of {CONCESSION_BASES[kind]}"


def decision_problem(case: Collection, decision: ConcessionDecided) -> str:
    """Why the approver's decision cannot be taken ('' if it can)."""
    concession = case.state.concessions.get(decision.concession_id)
    if concession is None:
        return f"no concession {decision.concession_id} on this account"
    if concession.status != "awaiting_approval":
        return f"concession {decision.concession_id} is {concession.status}, not awaiting approval"
    if decision.approver not in concession.approvers:
        return f"{decision.approver!r} may not approve it (approvers: {', '.join(concession.approvers)})"
    if not decision.approved and not decision.note:
        return "a rejection needs a note saying why"
    if case.state.status != "open":
        return f"the account is {case.state.status}"
    return fit_problem(case, concession.grant) if decision.approved else ""


def reversal_problem(case: Collection, reversal: ConcessionReversed) -> str:
    """Why the concession cannot be reversed ('' if it can)."""
    concession = case.state.concessions.get(reversal.concession_id)
    if concession is None:
        return f"no concession {reversal.concession_id} on this account"
    if concession.status not in ("applied", "awaiting_approval"):
        return f"concession {reversal.concession_id} is {concession.status}"
    if case.state.status != "open":
        return f"the account is {case.state.status}"
    commitment = case.state.commitment
    if (
        concession.plan_id
        and concession.status == "applied"
        and (commitment is None or commitment.commitment_id != concession.plan_id)
    ):
        return f"plan {concession.plan_id} has ended: its instalments are not changed back"
    return ""


def concession_problem(case: Collection, news: ConcessionNews, now: datetime) -> str:
    """Why the grant, decision or reversal cannot be taken ('' if it can): what the update validators answer."""
    if isinstance(news, ConcessionGranted):
        return grant_problem(case, news, now)
    if isinstance(news, ConcessionDecided):
        return decision_problem(case, news)
    return reversal_problem(case, news)


# --- applying it ----------------------------------------------------------------------------------------------


def apply_concession(case: Collection, news: ConcessionNews, now: datetime) -> Change[ConcessionOutcome]:
    """A grant applies at once within its granter's limit and waits for an approver above it; a decision applies it
    or rejects it; a reversal restores what it changed (or withdraws it while it waits). Refused, it is recorded with
    why."""
    state = case.state
    taken = state.concessions.get(news.concession_id)
    if isinstance(news, ConcessionGranted) and taken is not None and taken.grant == news:
        return Change("duplicate")
    if problem := concession_problem(case, news, now):
        state.record_rejection(f"concession {news.concession_id}: {problem}")
        if taken is not None:
            return Change("refused", problem, detail=ConcessionOutcome(taken))
        if isinstance(news, ConcessionGranted):  # recorded as refused; a corrected grant may come with its id
            return Change(
                "refused", problem, detail=ConcessionOutcome(Concession(grant=news, status="refused", reason=problem))
            )
        return Change("refused", problem)
    if isinstance(news, ConcessionGranted):
        return _grant(case, news, now)
    assert taken is not None
    if isinstance(news, ConcessionDecided):
        taken.decision = news
        if not news.approved:
            taken.status = "rejected"
            return Change("applied", "rejected", detail=ConcessionOutcome(taken))
        return _give(case, taken, now)
    taken.reversal = news
    if taken.status == "awaiting_approval":
        taken.status = "withdrawn"
        return Change("applied", "withdrawn", detail=ConcessionOutcome(taken))
    return _take_back(case, taken, news, now)


def _grant(case: Collection, grant: ConcessionGranted, now: datetime) -> Change[ConcessionOutcome]:
    rule = _rule(case, grant.kind)
    assert rule is not None
    concession = Concession(grant=grant, status="awaiting_approval", base_minor=base(case, grant.kind))
    case.state.concessions[grant.concession_id] = concession
    limit = own_limit(case, grant)
    if grant.size > limit:
        concession.approvers = rule.approvers
        concession.reason = f"more than {limit} (the granter's own limit): awaiting {' or '.join(rule.approvers)}"
        return Change("waiting", concession.reason, detail=ConcessionOutcome(concession))
    return _give(case, concession, now)


def _give(case: Collection, concession: Concession, now: datetime) -> Change[ConcessionOutcome]:
    state, ledger, grant = case.state, case.state.ledger, concession.grant
    entry = None
    if grant.kind != "plan_extension":
        ledger.accrue_late_fee(case.policy, dpd_at(case.account, now))  # the fees owed today are those waived
        entry = ledger.waive(grant.concession_id, grant.kind, grant.amount_minor, now, case.policy.invoices)
    if grant.kind in PLAN_KINDS:
        plan = state.commitment
        assert plan is not None
        concession.plan_id, concession.instalments_before = plan.commitment_id, plan.instalments
        plan.instalments = (
            reduced(plan, grant.amount_minor) if grant.kind == "plan_reduction" else extended(plan, grant.days)
        )
        _remind_anew(case, plan, now)
    concession.status, concession.reason = "applied", ""
    skipped = case.follow_due_date(now)
    if state.status == "open" and ledger.outstanding_minor == 0:
        case.close_as(paid_off_as(ledger), now)
    return Change("applied", detail=ConcessionOutcome(concession, entry, skipped), skipped=skipped)


def _take_back(
    case: Collection, concession: Concession, reversal: ConcessionReversed, now: datetime
) -> Change[ConcessionOutcome]:
    state = case.state
    entry = state.ledger.take_back(concession.grant.concession_id, now)
    if concession.plan_id and state.commitment is not None:
        state.commitment.instalments = concession.instalments_before
        _remind_anew(case, state.commitment, now)
    concession.status = "reversed"
    skipped = case.follow_due_date(now)
    return Change("applied", "reversed", detail=ConcessionOutcome(concession, entry, skipped), skipped=skipped)


def reduced(plan: Commitment, amount: int) -> list[Instalment]:
    """The plan's instalments with `amount` taken off the last ones first (what is still to pay is at the end); an
    instalment brought to nothing is dropped."""
    instalments = list(plan.instalments)
    for index in reversed(range(len(instalments))):
        take = min(amount, instalments[index].amount_minor)
        instalments[index] = instalments[index].model_copy(
            update={"amount_minor": instalments[index].amount_minor - take}
        )
        amount -= take
    return [i for i in instalments if i.amount_minor > 0]


def extended(plan: Commitment, days: int) -> list[Instalment]:
    """The plan's instalments not yet paid put off by `days`."""
    paid = covered(plan)
    return [
        i if index < paid else i.model_copy(update={"due_date": i.due_date + timedelta(days=days)})
        for index, i in enumerate(plan.instalments)
    ]


def _remind_anew(case: Collection, plan: Commitment, now: datetime) -> None:
    """The plan's reminders and confirmations as its instalments now stand, those still ahead."""
    state = case.state
    state.agenda = [p for p in state.agenda if p.instalment is None]
    state.agenda += [p for p in timeline(case.policy, case.account, plan) if p.due_at > now]
