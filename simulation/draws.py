"""Randomness per account and event: each draw is a hash of the run's seed, the account and what the draw is about,
so the same seed gives the same reactions, and adding accounts (or events of another account) changes no other draw.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def uniform(seed: int, account_id: str, event: str) -> float:
    """A number in [0, 1), the same for the same seed, account and event."""
    digest = hashlib.sha256(f"{seed}:{account_id}:{event}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Draws:
    """One account's draws under one seed."""

    seed: int
    account_id: str

    def uniform(self, event: str) -> float:
        return uniform(self.seed, self.account_id, event)

    def happens(self, event: str, chance: float) -> bool:
        return self.uniform(event) < chance

    def pick(self, event: str, shares: dict[str, float]) -> str | None:
        """One of the keys with its share's chance, or None for the share the keys leave."""
        point, edge = self.uniform(event), 0.0
        for outcome, share in shares.items():
            edge += share
            if point < edge:
                return outcome
        return None

    def between(self, event: str, low: float, high: float) -> float:
        return low + (high - low) * self.uniform(event)

    def whole(self, event: str, first: int, last: int) -> int:
        """A whole number from `first` to `last`, both included."""
        return first + min(int(self.uniform(event) * (last - first + 1)), last - first)
