"""Field visits (domain §8): when one may be ordered, and what the agent's report means for the account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, Field, model_validator

from dunning import ladder
from dunning.account import MAX_MINOR, EventId, Payload
from dunning.change import Change
from dunning.channels import Channel, work_order_ref
from dunning.commitments import PromiseMade
from dunning.outcomes import ContactBook, ContactEffect, ContactOutcome, OutcomeCode, apply_outcome
from dunning.policy_rules import FieldVisitRules

if TYPE_CHECKING:
    from dunning.collection import Collection

VisitPurpose = Literal["pressure", "tracing", "no_answer", "on_site"]


def visit_ref(action_key: str) -> str:
    return work_order_ref("V", action_key)


@dataclass(frozen=True)
class VisitDecision:
    """Go now (with why the visit is warranted, for the order), wait until `wait_until`, or not at all (`refusal`)."""

    reason: str = ""
    wait_until: datetime | None = None
    refusal: str = ""


def decide(
    rules: FieldVisitRules,
    purpose: VisitPurpose,
    book: ContactBook,
    last_conversation: datetime | None,
    last_paid: datetime | None,
    now: datetime,
    late_before: int = 0,
) -> VisitDecision:
    """`late_before`: how often the customer paid late before this debt (billing's prior_delinquencies)."""
    if purpose == "on_site":
        chronic = rules.chronic_late_payer_after
        if chronic is None or late_before < chronic:
            return VisitDecision(refusal=f"an on-site visit is for a chronic late payer ({chronic or 'no'} times late)")
        return VisitDecision(reason=f"a chronic late payer: late {late_before} times before")
    if purpose == "tracing":
        if not book.debtor_phones_lost():
            return VisitDecision(refusal="a tracing visit only once every phone of the debtor is invalid")
        return VisitDecision(reason="every phone of the debtor is invalid")
    if purpose == "no_answer":  # placed only by the repeated_no_answer reactions, once the calls went unanswered
        return VisitDecision(reason=f"{rules.after_unanswered_calls} calls in a row went unanswered")
    if last_conversation is None:
        return VisitDecision(refusal="a pressure visit follows a contact with the debtor, and there has been none")
    if last_paid is not None and last_paid >= last_conversation:
        return VisitDecision(refusal="money came after the last contact with the debtor")
    ripe = last_conversation + timedelta(hours=rules.pressure_after_contact_hours)
    if now < ripe:
        return VisitDecision(wait_until=ripe)
    return VisitDecision(
        reason=f"no money came in the {rules.pressure_after_contact_hours} h after the contact of "
        f"{last_conversation:%Y-%m-%d %H:%M} UTC"
    )


VisitFinding = Literal["found", "not_found", "address_invalid", "promised", "paid"]
# What a visit's finding means in the outcome tree (domain §6).
OUTCOME_OF: dict[str, OutcomeCode] = {
    "found": "reached",
    "not_found": "not_found",
    "address_invalid": "address_invalid",
    "promised": "promised",
    "paid": "says_paid",
}


class VisitReport(Payload):
    """A field agent's report of one visit; a promise made at the door carries its amount and day."""

    news: Literal["visit_report"] = Field(default="visit_report", exclude=True)  # its inbox tag
    report_id: EventId
    visit_ref: str = Field(min_length=1, max_length=32)
    finding: VisitFinding
    address: str = Field(min_length=1)  # the address visited, as on the order
    agent: str = Field(min_length=1, max_length=128)
    accompanied_by: list[str] = Field(default=[], max_length=3)  # the other staff on the visit
    notes: str = Field(default="", max_length=2000)
    photos: list[str] = Field(default=[], max_length=20)  # references in the photo store, not the photos
    promised_minor: int | None = Field(default=None, gt=0, le=MAX_MINOR)
    promised_date: date | None = None
    visited_at: AwareDatetime

    @model_validator(mode="after")
    def _promise_only_when_promised(self) -> VisitReport:
        promise = (self.promised_minor, self.promised_date)
        if self.finding == "promised" and None in promise:
            raise ValueError("a promise made at the door needs promised_minor and promised_date")
        if self.finding != "promised" and promise != (None, None):
            raise ValueError("promised_minor and promised_date belong to a visit whose finding is 'promised'")
        if any(not ref.strip() or len(ref) > 300 for ref in self.photos):
            raise ValueError("each photo reference must be 1 to 300 characters")
        if any(not name.strip() or len(name) > 128 for name in self.accompanied_by):
            raise ValueError("each agent in accompanied_by must be 1 to 128 characters")
        return self

    def staff(self) -> set[str]:
        return {self.agent, *self.accompanied_by}


def visit_decision(case: Collection, planned: ladder.PlannedStep, now: datetime) -> VisitDecision | None:
    """Whether a field visit may be ordered now (None: not a visit, or a policy that orders every visit)."""
    rules = case.policy.field_visits
    if rules is None or planned.channel != Channel.field_visit.value:
        return None
    purpose = ladder.step_definition(case.policy, planned).visit_purpose
    assert purpose is not None, "a visit step names its purpose (checked when the policy loads)"
    late_before = case.account.prior_delinquencies or 0
    return decide(rules, purpose, case.book, case.state.last_conversation_at, case.state.last_paid_at, now, late_before)


def apply_visit_report(case: Collection, report: VisitReport, now: datetime) -> Change[ContactEffect]:
    """A visit's finding is an outcome of the tree; a promise made at the door comes with it as news. A visit made
    by fewer staff than the rule set requires is refused (and recorded): it should not have been made."""
    rules, named = case.policy.contact_rules, len(report.staff())
    if rules and named < rules.staff_per_visit and report.report_id not in case.state.outcome_ids:
        problem = f"a visit needs {rules.staff_per_visit} staff under {rules.name}; the report names {named}"
        case.state.record_rejection(f"visit report {report.report_id}: {problem}")
        return Change("refused", problem)
    change = apply_outcome(
        case,
        ContactOutcome(
            outcome_id=report.report_id,
            code=OUTCOME_OF[report.finding],
            source="field_visit",
            contact_point=report.address,
            reported_by=report.agent,
            note=report.notes,
            occurred_at=report.visited_at,
        ),
        now,
    )
    if change.verdict == "applied" and report.finding == "promised":
        assert report.promised_minor is not None and report.promised_date is not None, "checked on arrival"
        promise = PromiseMade(
            promise_id=report.report_id,
            amount_minor=report.promised_minor,
            promised_date=report.promised_date,
            channel="field_visit",
            taken_by=report.agent,
            made_at=report.visited_at,
        )
        change.news.append(promise)
    return change


def hand_out(orders: list[tuple[str, int]], visits_this_month: dict[str, int]) -> dict[str, list[str]]:
    """Each order (its reference and the staff it needs, nearest deadline first) to the agents with the fewest visits
    this month, so every agent's month moves towards the target alike (a target, not a cap: once all have met it,
    the next order still goes). An order that needs more agents than are at work stays open."""
    month = dict(visits_this_month)
    handed: dict[str, list[str]] = {}
    for ref, staff in orders:
        if staff > len(month):
            continue
        agents = sorted(month, key=lambda agent: (month[agent], agent))[:staff]
        for agent in agents:
            month[agent] += 1
        handed[ref] = agents
    return handed
