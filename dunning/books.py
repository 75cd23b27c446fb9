"""Collectors' own books (domain §1, §4): which named collector of a queue an account is assigned to, by rules as
data (teams/*.yaml): those who may take it (its language, its segment), then the smallest book."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from dunning.datafile import Strict, load_named

TEAMS_DIR = Path(__file__).resolve().parent.parent / "teams"
AssignBy = Literal["language", "segment"]


class TeamsError(ValueError):
    """A teams file that cannot be used, with the file and the reason."""


class Collector(Strict):
    name: str = Field(min_length=1, max_length=128)
    languages: list[str] = []  # none: any
    segments: list[str] = []  # none: any


class Team(Strict):
    assign_by: list[AssignBy] = []
    collectors: list[Collector] = Field(min_length=1)

    @model_validator(mode="after")
    def _each_once(self) -> Team:
        names = [c.name for c in self.collectors]
        if len(set(names)) != len(names):
            raise ValueError(
                f"a collector is named twice: {', '.join(sorted(n for n in set(names) if names.count(n) > 1))}"
            )
        return self

    def may_take(self, collector: Collector, locale: str, segment: str) -> bool:
        return not (
            ("language" in self.assign_by and collector.languages and locale not in collector.languages)
            or ("segment" in self.assign_by and collector.segments and segment not in collector.segments)
        )


class Teams(Strict):
    name: str
    daily_dials_target: int = Field(ge=1)
    queues: dict[str, Team] = {}


def load_teams(name: str = "standard", directory: Path = TEAMS_DIR) -> Teams:
    return load_named(Teams, directory, name, "teams file", TeamsError)


def choose_collector(
    team: Team, locale: str, segment: str, books: dict[str, int], unavailable: frozenset[str] = frozenset()
) -> str | None:
    """The collector who takes the account: of those who may (its language, its segment) and are not unavailable
    (away, or the one complained about), the smallest book, then the first named; None when nobody may."""
    candidates = [c.name for c in team.collectors if c.name not in unavailable and team.may_take(c, locale, segment)]
    if not candidates:
        return None
    order = {name: n for n, name in enumerate(candidates)}
    return min(candidates, key=lambda name: (books.get(name, 0), order[name]))
