"""The data files the collections measures are read with (reporting/): dpd buckets and amount bands, the unit cost of
each action, and when a champion-against-challenger sample is too small to tell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeVar

import yaml
from pydantic import BaseModel, Field, NonNegativeInt, ValidationError, field_validator, model_validator

from dunning.account import problems
from dunning.datafile import Strict

REPORTING_DIR = Path(__file__).resolve().parent.parent / "reporting"
EXITS = ("cured", "closed")  # the roll matrix's destinations besides the buckets
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
M = TypeVar("M", bound=BaseModel)


class ReportingFileError(ValueError):
    """A reporting data file that cannot be used, with the file, the field and the reason."""


class DpdBucket(Strict):
    name: str = Field(min_length=1, max_length=40)
    from_dpd: int | None = None  # None: the first bucket, everything up to the next one


class AmountBand(Strict):
    name: str = Field(min_length=1, max_length=40)
    from_minor: NonNegativeInt | None = None  # None: the first band, from zero


def _ascending(names: list[str], bounds: list[int | None], what: str) -> None:
    """The first band is open below, every other starts above the one before it; names are unique."""
    if len(names) < 2:
        raise ValueError(f"at least two {what}s are needed")
    if len(set(names)) != len(names):
        raise ValueError(f"{what} names must be unique")
    if bounds[0] is not None or None in bounds[1:]:
        raise ValueError(f"the first {what} has no lower bound and every other one has one")
    lows = [b for b in bounds if b is not None]
    if lows != sorted(set(lows)):
        raise ValueError(f"{what}s must go up: lower bounds {lows}")


class Bands(Strict):
    """How accounts are grouped: by days past due, and by the balance they owed."""

    dpd_buckets: list[DpdBucket]
    amount_bands: dict[Currency, list[AmountBand]]

    @field_validator("dpd_buckets")
    @classmethod
    def _buckets_go_up(cls, buckets: list[DpdBucket]) -> list[DpdBucket]:
        _ascending([b.name for b in buckets], [b.from_dpd for b in buckets], "dpd bucket")
        if taken := sorted({b.name for b in buckets} & set(EXITS)):
            raise ValueError(f"{', '.join(taken)} name the roll matrix's exits, not a bucket")
        return buckets

    @field_validator("amount_bands")
    @classmethod
    def _bands_go_up(cls, bands: dict[str, list[AmountBand]]) -> dict[str, list[AmountBand]]:
        for currency, listed in bands.items():
            _ascending([b.name for b in listed], [b.from_minor for b in listed], f"{currency} amount band")
        return bands

    def bucket_names(self) -> list[str]:
        return [b.name for b in self.dpd_buckets]

    def bucket_starts(self) -> list[int]:
        """The first dpd of every bucket but the first (what SQL's width_bucket takes)."""
        return [b.from_dpd for b in self.dpd_buckets if b.from_dpd is not None]

    def band_rows(self) -> list[tuple[str, str, int]]:
        """(currency, band, from_minor) for every amount band; the first of a currency starts at zero."""
        return [(c, b.name, b.from_minor or 0) for c, listed in self.amount_bands.items() for b in listed]


class UnitCosts(Strict):
    """What one action costs, in minor units per currency (agency commission is the placement's own rate)."""

    text: dict[Currency, NonNegativeInt]
    email: dict[Currency, NonNegativeInt]
    call_attempt: dict[Currency, NonNegativeInt]
    letter: dict[Currency, NonNegativeInt]
    registered_letter: dict[Currency, NonNegativeInt]
    field_visit: dict[Currency, NonNegativeInt]

    @model_validator(mode="after")
    def _every_action_priced_in_every_currency(self) -> UnitCosts:
        priced = {action: set(costs) for action, costs in self.prices().items()}
        every = set().union(*priced.values())
        if missing := [
            f"{action} ({', '.join(sorted(every - have))})" for action, have in priced.items() if every - have
        ]:
            raise ValueError(f"every action needs a cost in every currency; missing: {'; '.join(missing)}")
        return self

    def prices(self) -> dict[str, dict[str, int]]:
        return {action: getattr(self, action) for action in type(self).model_fields}

    def currencies(self) -> list[str]:
        return sorted(self.text)

    def in_currency(self, currency: str) -> dict[str, int]:
        """Each action's cost in `currency`."""
        if currency not in self.text:
            raise ValueError(unpriced([currency]))
        return {action: costs[currency] for action, costs in self.prices().items()}

    def rows(self) -> list[tuple[str, str, int]]:
        """(action, currency, minor units) for every price."""
        return [(action, c, cost) for action, costs in self.prices().items() for c, cost in costs.items()]


def unpriced(currencies: list[str]) -> str:
    return f"the unit costs (reporting/unit_costs.yaml) price nothing in {', '.join(currencies)}"


class SampleRules(Strict):
    """When a comparison of arms can tell, and how its intervals are computed."""

    min_accounts_per_arm: int = Field(ge=2)
    min_expected_outcomes: int = Field(ge=1)
    confidence: float = Field(gt=0.5, lt=1)
    bootstrap_resamples: int = Field(ge=100)
    seed: int


def load_file(model: type[M], path: Path) -> M:
    """`path` as a `model`; a bad file says which file, which field and why."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ReportingFileError(f"{path}: cannot be read: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise ReportingFileError(f"{path}: not valid YAML: {err}") from None
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ReportingFileError(f"{path}: {problems(err, '(top level)')}") from None


def load_bands(path: Path = REPORTING_DIR / "buckets.yaml") -> Bands:
    return load_file(Bands, path)


def load_unit_costs(path: Path = REPORTING_DIR / "unit_costs.yaml") -> UnitCosts:
    return load_file(UnitCosts, path)


def load_sample_rules(path: Path = REPORTING_DIR / "comparison.yaml") -> SampleRules:
    return load_file(SampleRules, path)
