"""The local stack's demo clock (`make run DAY_SECONDS=...`): one clock for the whole stack, kept in a file with the
stack's state, so accounts opened later, by the CLI or billing's Python, or after a restart, all run on the same
compressed days. Business time runs on while the stack is stopped, as real days do."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from dunning.account import DemoClock
from infra.config import ROOT, temporal_profile

CLOCK_FILE = ROOT / ".run" / "demo-clock.json"


def clock_file() -> Path | None:
    """DEMO_CLOCK_FILE, or the local stack's file when Temporal is the local one (no address configured): a CLI
    pointed at another cluster never dates news on a demo clock left in the checkout."""
    if named := os.environ.get("DEMO_CLOCK_FILE"):
        return Path(named)
    return CLOCK_FILE if temporal_profile().address is None else None


def read_stack_clock(file: Path | None = None) -> DemoClock | None:
    """The stack's clock, or None where the stack runs on real days (no file)."""
    path = file or clock_file()
    if path is None:
        return None
    try:
        return DemoClock.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValidationError as err:
        problem = f"{path} is not a demo clock ({err.error_count()} problems); `make run FRESH=1` starts afresh"
        raise ValueError(problem) from None


def write_stack_clock(clock: DemoClock | None, file: Path | None = None) -> None:
    """Kept whole (a new file replaces the old in one step); None: the stack runs on real days."""
    path = file or CLOCK_FILE
    if clock is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(clock.model_dump_json(), encoding="utf-8")
    partial.replace(path)
