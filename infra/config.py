"""Settings from the environment, one place for every knob the processes read."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    temporal_address: str
    temporal_namespace: str
    task_queue: str
    database_url: str | None
    twilio_account_sid: str | None
    twilio_auth_token: str | None
    twilio_from_number: str | None
    # Base URL of Twilio's REST API; set only to point the real client at a stand-in.
    twilio_api_base: str | None
    log_format: str

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        return cls(
            temporal_address=env.get("TEMPORAL_ADDRESS", "localhost:7233"),
            temporal_namespace=env.get("TEMPORAL_NAMESPACE", "default"),
            task_queue=env.get("TASK_QUEUE", "collections"),
            database_url=env.get("DATABASE_URL") or None,
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
            twilio_from_number=env.get("TWILIO_FROM_NUMBER") or None,
            twilio_api_base=env.get("TWILIO_API_BASE") or None,
            log_format=env.get("LOG_FORMAT", "console"),
        )
