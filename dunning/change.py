"""The one shape of answer every rule gives when it applies a piece of news."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

if TYPE_CHECKING:
    from dunning.inbox import News
    from dunning.ladder import PlannedStep

Verdict = Literal["applied", "duplicate", "refused", "waiting"]
Detail = TypeVar("Detail")


@dataclass
class Change(Generic[Detail]):
    """What a rule did with one piece of news, and what the workflow must record of it."""

    verdict: Verdict
    reason: str = ""  # why it was refused or waits; for applied news, what it did when it can do several things
    detail: Detail | None = None  # what the concern's record needs: the payment's outcome, the claim to start ...
    skipped: list[PlannedStep] = field(default_factory=list)  # steps that fell due while collection was held
    news: list[News] = field(default_factory=list)  # news it brings (a promise made at the door), settled in turn

    @property
    def text(self) -> str:
        """The verdict as records have always written it: applied (or what it did), duplicate, rejected: <why>,
        held: <why>."""
        if self.verdict == "refused":
            return f"rejected: {self.reason}"
        if self.verdict == "waiting":
            return f"held: {self.reason}"
        return self.reason if self.verdict == "applied" and self.reason else self.verdict
