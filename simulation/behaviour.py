"""The simulated debtors' behaviour, as a data file (behaviours/*.yaml): per segment and dpd band, the chances that a
debtor answers a call, promises, keeps the promise, pays after a text or a letter, takes a plan, disputes, or replies
STOP. The file is checked whole when it loads; a bad one names the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, model_validator

from dunning.account import CODE
from dunning.datafile import Strict, load_named

BEHAVIOUR_DIR = Path(__file__).resolve().parent.parent / "behaviours"
Chance = Annotated[float, Field(ge=0, le=1)]


class BehaviourError(ValueError):
    """A behaviour file that cannot be used, with the file, the field and the reason."""


class Chances(Strict):
    """What a debtor of one segment does in one dpd band, each a chance between 0 and 1."""

    answers_call: Chance  # a day the collectors call, the debtor answers (right-party contact)
    promises: Chance  # reached, promises to pay what is owed
    says_unable_to_pay: Chance  # reached without a promise: says they cannot pay (else unwilling, or just reached)
    says_unwilling_to_pay: Chance
    keeps_promise_in_full: Chance  # a promise: paid in full on the day, in part, or (the rest) broken
    keeps_promise_in_part: Chance
    pays_after_text_in_full: Chance  # a text reached the handset: the debtor pays unprompted, in full or in part
    pays_after_text_in_part: Chance
    pays_after_letter_in_full: Chance
    pays_after_letter_in_part: Chance
    pays_by_themselves: Chance  # any day, whatever we did: the self-cure a hold-out shows
    accepts_plan: Chance  # offered a plan (by text, or after saying they cannot pay), agrees one
    keeps_instalment: Chance  # each instalment of a plan agreed
    disputes: Chance  # reached, disputes the debt
    replies_stop: Chance  # a text reached the handset: the debtor replies STOP

    @model_validator(mode="after")
    def _shares_fit(self) -> Chances:
        for first, second in (
            ("says_unable_to_pay", "says_unwilling_to_pay"),
            ("keeps_promise_in_full", "keeps_promise_in_part"),
            ("pays_after_text_in_full", "pays_after_text_in_part"),
            ("pays_after_letter_in_full", "pays_after_letter_in_part"),
        ):
            if getattr(self, first) + getattr(self, second) > 1:
                raise ValueError(f"{first} and {second} are shares of one draw and add up to more than 1")
        return self


REACTIONS = tuple(Chances.model_fields)


class DpdBand(Strict):
    """Days past due up to `up_to_dpd`, included; the last band has no bound."""

    name: str = Field(min_length=1)
    up_to_dpd: int | None = Field(default=None, ge=1)


class Share(Strict):
    """A share of what is owed, drawn uniformly between `low` and `high`."""

    low: Chance
    high: Chance

    @model_validator(mode="after")
    def _ordered(self) -> Share:
        if not 0 < self.low <= self.high < 1:
            raise ValueError(f"needs 0 < low <= high < 1, got {self.low} and {self.high}")
        return self


class Days(Strict):
    """A whole number of days, drawn uniformly from `first` to `last`, both included."""

    first: int = Field(ge=0)
    last: int = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Days:
        if self.last < self.first:
            raise ValueError(f"last {self.last} is before first {self.first}")
        return self


class PlanTerms(Strict):
    """The plan a debtor agrees: equal instalments, the first some days after agreeing, then every `every_days`."""

    instalments: int = Field(ge=1, le=12)
    first_after_days: int = Field(ge=0)
    every_days: int = Field(ge=1)


class DisputeTerms(Strict):
    """How the creditor settles a dispute of the debt: after some days, cancelling it now and then."""

    resolved_after_days: int = Field(ge=1)
    cancelled: Chance


class Behaviour(Strict):
    name: str = Field(pattern=CODE)
    version: int = Field(ge=1)
    title: str
    sources: list[str] = []
    bands: list[DpdBand] = Field(min_length=1)
    # Per reaction, per segment: one chance per band, in the bands' order.
    chances: dict[str, dict[str, list[Chance]]]
    part_payment: Share  # a part payment's share of what is owed
    promise_days_out: Days  # from the day of the promise to the promised date
    plan: PlanTerms
    dispute: DisputeTerms

    @model_validator(mode="after")
    def _every_reaction_for_every_segment_and_band(self) -> Behaviour:
        bounds = [band.up_to_dpd for band in self.bands[:-1]]
        if None in bounds or self.bands[-1].up_to_dpd is not None:
            raise ValueError("bands: every band but the last needs `up_to_dpd`; the last has none")
        if bounds != sorted(set(bounds)):  # type: ignore[type-var]
            raise ValueError("bands: must ascend by `up_to_dpd`")
        if missing := [r for r in REACTIONS if r not in self.chances]:
            raise ValueError(f"chances: no {', '.join(missing)}")
        if unknown := [r for r in self.chances if r not in REACTIONS]:
            raise ValueError(f"chances: unknown {', '.join(unknown)}; known: {', '.join(REACTIONS)}")
        segments = set(self.chances[REACTIONS[0]])
        for reaction, by_segment in self.chances.items():
            if set(by_segment) != segments:
                raise ValueError(f"chances.{reaction}: segments {sorted(by_segment)}, not {sorted(segments)}")
            for segment, row in by_segment.items():
                if len(row) != len(self.bands):
                    raise ValueError(
                        f"chances.{reaction}.{segment}: {len(row)} numbers, but one per band is needed"
                        f" ({len(self.bands)}: {', '.join(band.name for band in self.bands)})"
                    )
        for segment in segments:
            for index, band in enumerate(self.bands):
                try:
                    self._column(segment, index)
                except ValidationError as err:
                    why = "; ".join(e["msg"].removeprefix("Value error, ") for e in err.errors())
                    raise ValueError(f"chances, {segment} at {band.name}: {why}") from None
        return self

    def segments(self) -> list[str]:
        return sorted(self.chances[REACTIONS[0]])

    def chances_at(self, segment: str, dpd: int) -> Chances:
        index = next(i for i, band in enumerate(self.bands) if band.up_to_dpd is None or dpd <= band.up_to_dpd)
        return self._column(segment, index)

    def _column(self, segment: str, index: int) -> Chances:
        return Chances(**{reaction: self.chances[reaction][segment][index] for reaction in REACTIONS})

    def check_covers(self, segments: list[str], path: Path) -> None:
        """Every segment the segmentation can put an account in needs its debtors' behaviour."""
        if missing := [s for s in segments if s not in self.segments()]:
            raise BehaviourError(f"{path}: chances: no behaviour for segment(s) {', '.join(missing)}")


def load_behaviour(name: str, directory: Path = BEHAVIOUR_DIR) -> Behaviour:
    return load_named(Behaviour, directory, name, "behaviour", BehaviourError)
