"""Twilio's webhooks taken while PostgreSQL or Temporal could not be: Twilio does not retry a webhook that failed
unless its URL says so, so a STOP texted during an outage would be lost. A signed request that cannot be handled now
is written to the spool folder (whole, and synced to disk) and answered as taken; the inbound server hands it to the
same handler again every few seconds until it goes through, oldest first (one that fails for another reason is set
aside in `failed/`, logged). The folder holds phone numbers and texts: keep it on a private disk, as the database."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Spooled:
    path: Path
    route: str  # which webhook it came to, e.g. "sms_reply"
    form: dict[str, str]


class Spool:
    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def keep(self, route: str, form: Mapping[str, str]) -> Path:
        """Written under a temporary name, synced, then renamed: a crash leaves the whole request or none of it."""
        self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        partial = self._directory / f".{name}.partial"
        with partial.open("w", encoding="utf-8") as out:
            json.dump({"route": route, "form": dict(form)}, out)
            out.flush()
            os.fsync(out.fileno())
        final = self._directory / name
        partial.replace(final)
        directory = os.open(self._directory, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a power cut
        finally:
            os.close(directory)
        return final

    def waiting(self) -> list[Spooled]:
        """Requests still to handle, oldest first."""
        if not self._directory.is_dir():
            return []
        found = []
        for path in sorted(self._directory.glob("[0-9]*.json")):
            kept = json.loads(path.read_text(encoding="utf-8"))
            found.append(Spooled(path, kept["route"], kept["form"]))
        return found

    def handled(self, spooled: Spooled) -> None:
        spooled.path.unlink(missing_ok=True)

    def set_aside(self, spooled: Spooled) -> None:
        """Into `failed/`, for a person to look at (and move back to retry)."""
        failed = self._directory / "failed"
        failed.mkdir(exist_ok=True, mode=0o700)
        spooled.path.replace(failed / spooled.path.name)
