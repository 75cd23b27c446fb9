"""Segments (domain §11): a scorecard over the four factors puts each account in a segment, and the segment picks its
treatment. The segmentation is a data file, pinned into the account when it opens like its policy; the account is
assessed again when a promise breaks and when the case enters a later phase of its lifecycle.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, field_validator, model_validator

from dunning import ladder
from dunning.account import CODE, AccountDocument, Payload, local_datetime
from dunning.datafile import Strict, load_named
from dunning.ladder import PlannedStep
from dunning.money import to_major

if TYPE_CHECKING:
    from dunning.collection import Collection

SEGMENTATION_DIR = Path(__file__).resolve().parent.parent / "segmentations"
UNKNOWN = "unknown"  # the key of a factor's points when billing did not send it


class SegmentationError(ValueError):
    """A segmentation that cannot be used, with the file, the field and the reason."""


class Band(Strict):
    """Values below `below` score `points`; the last band of a list has no bound."""

    below: int | None = None
    points: int = Field(ge=0)


def _bands_ascend(bands: list[Band]) -> list[Band]:
    if not bands:
        raise ValueError("needs at least one band")
    bounds = [band.below for band in bands[:-1]]
    if None in bounds or bands[-1].below is not None:
        raise ValueError("every band but the last needs `below`; the last has none")
    if bounds != sorted(set(bounds)):  # type: ignore[type-var]
        raise ValueError("bands must ascend by `below`")
    return bands


def band_points(bands: list[Band], value: float | Decimal) -> int:
    return next(band.points for band in bands if band.below is None or value < band.below)


class Scorecard(Strict):
    """Points per factor; the higher the total, the riskier the account."""

    # Ability to pay: what is owed (major units, bands per currency) and the debtor's income band.
    amount_owed: dict[str, list[Band]]
    income_band: dict[str, int]
    # Willingness: earlier delinquencies, and promises broken before and on this account.
    prior_delinquencies: list[Band]
    broken_promises: list[Band]
    # Income stability: employment. Family stability: a spouse or parent among the contact persons.
    employment: dict[str, int]
    family_contact: dict[str, int]  # "yes" / "no"
    family_relations: list[str] = ["spouse", "parent", "child", "sibling"]
    # How late the account arrived, and what it is: product and creditor (unlisted ones score nothing).
    dpd_on_arrival: list[Band]
    product: dict[str, int] = {}
    creditor: dict[str, int] = {}

    @field_validator("prior_delinquencies", "broken_promises", "dpd_on_arrival")
    @classmethod
    def _ascending(cls, bands: list[Band]) -> list[Band]:
        return _bands_ascend(bands)

    @field_validator("amount_owed")
    @classmethod
    def _ascending_per_currency(cls, by_currency: dict[str, list[Band]]) -> dict[str, list[Band]]:
        for bands in by_currency.values():
            _bands_ascend(bands)
        return by_currency

    @model_validator(mode="after")
    def _unknowns_scored(self) -> Scorecard:
        for factor in ("income_band", "employment"):
            if UNKNOWN not in getattr(self, factor):
                raise ValueError(f"{factor} needs points for {UNKNOWN!r} (billing did not send it)")
        if set(self.family_contact) != {"yes", "no"}:
            raise ValueError("family_contact needs points for 'yes' and 'no'")
        return self


class SegmentBand(Strict):
    """Scores up to `up_to` (inclusive) fall in `segment`; the last band has no bound."""

    segment: str = Field(pattern=CODE)
    up_to: int | None = None


class LongTerm(Strict):
    """From this dpd the account is long-term, whatever its score: the legal route (domain §11)."""

    segment: str = Field(default="long_term", pattern=CODE)
    from_dpd: int = Field(ge=1)


class Phase(Strict):
    phase: str = Field(pattern=CODE)
    from_dpd: int


class Segmentation(Strict):
    name: str = Field(pattern=CODE)
    version: int = Field(ge=1)
    title: str
    sources: list[str] = []
    scorecard: Scorecard
    segments: list[SegmentBand] = Field(min_length=1)
    long_term: LongTerm
    # The case's lifecycle (early, mature, terminal); entering any phase after the first re-assesses the account.
    phases: list[Phase] = Field(min_length=1)
    # Per product, the policy each segment is treated with (an experiment running for the segment may choose
    # another for some accounts).
    treatments: dict[str, dict[str, str]]

    @field_validator("segments")
    @classmethod
    def _segments_ascend(cls, bands: list[SegmentBand]) -> list[SegmentBand]:
        bounds = [band.up_to for band in bands[:-1]]
        if None in bounds or bands[-1].up_to is not None:
            raise ValueError("every segment but the last needs `up_to`; the last has none")
        if bounds != sorted(set(bounds)):  # type: ignore[type-var]
            raise ValueError("segments must ascend by `up_to`")
        return bands

    @field_validator("phases")
    @classmethod
    def _phases_ascend(cls, phases: list[Phase]) -> list[Phase]:
        starts = [phase.from_dpd for phase in phases]
        if starts != sorted(set(starts)):
            raise ValueError("phases must ascend by `from_dpd`")
        return phases

    @model_validator(mode="after")
    def _every_segment_treated(self) -> Segmentation:
        for product, by_segment in self.treatments.items():
            missing = [s for s in self.segment_names() if s not in by_segment]
            unknown = [s for s in by_segment if s not in self.segment_names()]
            if missing or unknown:
                raise ValueError(
                    f"treatments.{product}: "
                    + "; ".join(
                        part
                        for part in (
                            f"no policy for segment(s) {', '.join(missing)}" if missing else "",
                            f"unknown segment(s) {', '.join(unknown)}" if unknown else "",
                        )
                        if part
                    )
                )
        return self

    def segment_names(self) -> list[str]:
        return [band.segment for band in self.segments] + [self.long_term.segment]

    def phase_at(self, dpd: int) -> str:
        return next((p.phase for p in reversed(self.phases) if dpd >= p.from_dpd), self.phases[0].phase)

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"


class Assessment(Payload):
    segment: str
    reason: str  # codes and points only: no personal data


class SegmentChange(Payload):
    """A re-assessment that moved the account to another segment: its variant of the ladder is in force from the
    next step on; steps the new variant has that were already past are skipped, not taken late."""

    at: datetime
    event: str  # broken_promise, or the phase entered (mature, terminal)
    from_segment: str
    to_segment: str
    reason: str
    skipped: list[PlannedStep] = Field(default_factory=list)


def load_segmentation(name: str, directory: Path = SEGMENTATION_DIR) -> Segmentation:
    return load_named(Segmentation, directory, name, "segmentation", SegmentationError)


def assess(
    segmentation: Segmentation, account: AccountDocument, dpd_on_arrival: int, dpd: int, broken: int
) -> Assessment:
    """The account's segment: billing's override if it sent one, long-term from the segmentation's dpd, else the
    scorecard's. `broken` counts the promises broken on this account so far."""
    if account.segment_override is not None:
        override = account.segment_override
        return Assessment(segment=override.segment, reason=f"override {override.reason}")
    if dpd >= segmentation.long_term.from_dpd:
        return Assessment(
            segment=segmentation.long_term.segment, reason=f"dpd {dpd} >= {segmentation.long_term.from_dpd}"
        )
    points = factor_points(segmentation.scorecard, account, dpd_on_arrival, broken)
    score = sum(points.values())
    segment = next(b.segment for b in segmentation.segments if b.up_to is None or score <= b.up_to)
    return Assessment(segment=segment, reason=f"score {score}: " + ", ".join(f"{k} {v}" for k, v in points.items()))


def factor_points(card: Scorecard, account: AccountDocument, dpd_on_arrival: int, broken: int) -> dict[str, int]:
    bands = card.amount_owed.get(account.currency)
    family = any(p.owner == "contact" and p.relation in card.family_relations for p in account.contact_points)
    return {
        "amount": band_points(bands, to_major(account.amount_due_minor, account.currency)) if bands else 0,
        "income": card.income_band.get(account.income_band or UNKNOWN, card.income_band[UNKNOWN]),
        "delinquencies": band_points(card.prior_delinquencies, account.prior_delinquencies or 0),
        "broken_promises": band_points(card.broken_promises, (account.prior_broken_promises or 0) + broken),
        "employment": card.employment.get(account.employment or UNKNOWN, card.employment[UNKNOWN]),
        "family": card.family_contact["yes" if family else "no"],
        "arrival_dpd": band_points(card.dpd_on_arrival, dpd_on_arrival),
        "product": card.product.get(account.product or "", 0),
        "creditor": card.creditor.get(account.creditor, 0),
    }


def open_in_segment(case: Collection, now: datetime) -> None:
    """Puts the opening account in the treatment's segment and the phase it arrives in."""
    treatment = case.treatment
    if treatment is None or case.state.segment is not None:
        return
    case.state.segment, case.state.segment_reason = treatment.segment, treatment.segment_reason
    if treatment.segmentation is not None:
        case.state.phase = treatment.segmentation.phase_at(ladder.dpd_at(case.account, now))
    case.plan = case.planned()


def reassess(case: Collection, now: datetime) -> SegmentChange | None:
    """At the lifecycle's events (a later phase entered, a promise broken) the account is assessed again; a new
    segment changes the ladder's variant from the next step on. The pinned policy never changes."""
    treatment, state = case.treatment, case.state
    if treatment is None or treatment.segmentation is None or state.segment is None:
        return None
    segmentation = treatment.segmentation
    dpd = ladder.dpd_at(case.account, now)
    phase = segmentation.phase_at(dpd)
    if phase != state.phase:
        event = phase
    elif state.broken_promises > state.assessed_broken_promises:
        event = "broken_promise"
    else:
        return None
    state.phase, state.assessed_broken_promises = phase, state.broken_promises
    arrival = ladder.dpd_at(case.document, state.opened_at)
    assessment = assess(segmentation, case.account, arrival, dpd, state.broken_promises)
    if assessment.segment == state.segment:
        return None
    change = SegmentChange(
        at=now, event=event, from_segment=state.segment, to_segment=assessment.segment, reason=assessment.reason
    )
    state.segment, state.segment_reason = assessment.segment, assessment.reason
    before = {p.key for p in case.plan}
    case.plan = case.planned()
    done = set(state.done_steps)
    since = _event_began(case, segmentation, event, now)
    change.skipped.extend(p for p in case.plan if p.key not in before and p.key not in done and p.due_at < since)
    state.done_steps += [p.key for p in change.skipped]
    return change


def _event_began(case: Collection, segmentation: Segmentation, event: str, now: datetime) -> datetime:
    """A phase begins with its first dpd's local day (the new variant's steps of that day still go); a broken promise
    when it was found broken."""
    phase = next((p for p in segmentation.phases if p.phase == event), None)
    if phase is None:
        return now
    began = local_datetime(case.account.due_date + timedelta(days=phase.from_dpd), time(0), case.account.time_zone)
    return min(now, began)
