"""Settings from the environment, one place for every knob the processes read."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from temporalio.envconfig import ClientConfigProfile

ROOT = Path(__file__).resolve().parent.parent
LETTERHEADS = ROOT / "templates" / "letters" / "letterheads.yaml"
LETTER_DROP_DIR = ROOT / ".run" / "print-vendor"
AGENCY_DROP_DIR = ROOT / ".run" / "agencies"
INBOUND_SPOOL_DIR = ROOT / ".run" / "inbound-spool"
SEGMENTATION_DIR = ROOT / "segmentations"
EXPERIMENT_DIR = ROOT / "experiments"
LOCAL_KEY_RING = ROOT / ".run" / "payload-keys.json"  # the local stack's ring, made by `make run`


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
    # E-mail: the provider's SMTP relay (make run and the tests start a loopback stand-in).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "collections@localhost"
    # Letters: the creditors' letterheads, and the folder the print-and-mail vendor collects its daily batch from.
    letterheads_file: Path = LETTERHEADS
    letter_drop_dir: Path = LETTER_DROP_DIR
    agency_drop_dir: Path = AGENCY_DROP_DIR  # placement and recall files, a folder per agency
    letter_batch_at: str = "17:30"  # local time of the daily batch, in letter_batch_zone
    letter_batch_zone: str = "Asia/Shanghai"
    # Processes rendering PDFs apart from the worker (None: one per core but one; 0: in the worker's own process).
    letter_press_processes: int | None = None
    # The strategy report: written daily at report_at (in letter_batch_zone) over the last report_period_days.
    report_at: str = "06:00"
    report_period_days: int = 90
    # Closed accounts' personal data past its retention is erased daily at erasure_at (in letter_batch_zone).
    erasure_at: str = "03:00"
    # The HTTP server Twilio's webhooks reach (status callbacks, replies); port 0 takes any free port.
    inbound_http_host: str = "127.0.0.1"
    inbound_http_port: int = 8088
    # The URL Twilio calls it at (a proxy's, in production): webhook signatures are computed over it. Unset: the
    # server's own address, http://host:port with the port it got.
    public_base_url: str | None = None
    # Twilio's webhooks that PostgreSQL or Temporal could not take yet, kept on disk until they go through.
    inbound_spool_dir: Path = INBOUND_SPOOL_DIR
    # Shared secrets of the other senders the same server hears, each signing its requests with HMAC-SHA256 (see
    # inbound/partner_webhooks.py): the field agents' app (visit reports) and the print-and-mail vendor (delivery
    # evidence). Unset: that sender's route answers 503 rather than take unsigned requests.
    field_app_secret: str | None = field(default=None, repr=False)
    mail_vendor_secret: str | None = field(default=None, repr=False)
    # Mailgun's webhook signing key: its route forwards what debtors write to our address (inbound/mail.py). Unset:
    # /mail/inbound answers 503.
    mail_inbound_signing_key: str | None = field(default=None, repr=False)
    # Where the worker serves its metrics for Prometheus (http://<address>/metrics: infra/metrics.py); None: nowhere.
    metrics_address: str | None = "127.0.0.1:9464"
    # Workflow tasks the worker takes at once. Python runs them one at a time (the GIL), so more only queue up, and
    # one that waits past its 10-second timeout is handed out again and replayed from the start of its history.
    workflow_task_slots: int = 8
    # The segmentation in force (a file in segmentation_dir; None: billing's segment label and named policies only),
    # and the folder of experiment files, of which those `running` assign arms to accounts opened from now on.
    segmentation: str | None = "standard"
    segmentation_dir: Path = SEGMENTATION_DIR
    experiment_dir: Path = EXPERIMENT_DIR
    # The key ring that seals payloads (infra/sealing.py): PAYLOAD_KEYS (id=<base64>,...; the first seals) or the
    # JSON file PAYLOAD_KEYS_FILE names. Nothing connects to Temporal without one.
    payload_keys: str | None = field(default=None, repr=False)
    payload_keys_file: Path | None = None
    # The Temporal Web UI's origin: the only page browsers let call the codec server (inbound/codec.py).
    temporal_ui_origin: str = "http://localhost:8233"
    # How Temporal is reached beyond its address and namespace: an API key, TLS and client certificates, gRPC
    # metadata; read as every Temporal tool reads them (temporal_profile).
    temporal_connection: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.metrics_address is not None:
            _check_metrics_address(self.metrics_address)
        if self.workflow_task_slots < 2:
            raise ValueError(f"WORKFLOW_TASK_SLOTS {self.workflow_task_slots} must be 2 or more (one is the cache's)")
        self.time_of_day(self.letter_batch_at, "LETTER_BATCH_AT")
        self.time_of_day(self.report_at, "REPORT_AT")
        self.time_of_day(self.erasure_at, "ERASURE_AT")
        if not 1 <= self.report_period_days <= 3660:
            raise ValueError(f"REPORT_PERIOD_DAYS {self.report_period_days} must be 1 to 3660")
        try:
            ZoneInfo(self.letter_batch_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"LETTER_BATCH_ZONE {self.letter_batch_zone!r} is not an IANA time zone") from None

    @staticmethod
    def time_of_day(text: str, name: str = "time") -> tuple[int, int]:
        try:
            at = time.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{name} {text!r} is not a time of day such as 17:30") from None
        return at.hour, at.minute

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        temporal = temporal_profile()
        connection = temporal.to_client_connect_config()
        return cls(
            temporal_address=temporal.address or "localhost:7233",
            temporal_namespace=temporal.namespace or "default",
            temporal_connection={k: v for k, v in connection.items() if k not in ("target_host", "namespace")},
            task_queue=env.get("TASK_QUEUE", "collections"),
            database_url=env.get("DATABASE_URL") or None,
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or None,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or None,
            twilio_from_number=env.get("TWILIO_FROM_NUMBER") or None,
            twilio_api_base=env.get("TWILIO_API_BASE") or None,
            log_format=env.get("LOG_FORMAT", "console"),
            inbound_http_host=env.get("INBOUND_HTTP_HOST", "127.0.0.1"),
            inbound_http_port=_port(env, "INBOUND_HTTP_PORT", 8088),
            public_base_url=env.get("PUBLIC_BASE_URL") or None,
            inbound_spool_dir=Path(env.get("INBOUND_SPOOL_DIR") or INBOUND_SPOOL_DIR),
            field_app_secret=env.get("FIELD_APP_SECRET") or None,
            mail_vendor_secret=env.get("MAIL_VENDOR_SECRET") or None,
            mail_inbound_signing_key=env.get("MAIL_INBOUND_SIGNING_KEY") or None,
            smtp_host=env.get("SMTP_HOST", "127.0.0.1"),
            smtp_port=_port(env, "SMTP_PORT", 8025),
            smtp_username=env.get("SMTP_USERNAME") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            smtp_starttls=env.get("SMTP_STARTTLS", "") in ("1", "true", "yes"),
            mail_from=env.get("MAIL_FROM", "collections@localhost"),
            letterheads_file=Path(env.get("LETTERHEADS_FILE") or LETTERHEADS),
            letter_drop_dir=Path(env.get("LETTER_DROP_DIR") or LETTER_DROP_DIR),
            agency_drop_dir=Path(env.get("AGENCY_DROP_DIR") or AGENCY_DROP_DIR),
            letter_batch_at=env.get("LETTER_BATCH_AT", "17:30"),
            letter_batch_zone=env.get("LETTER_BATCH_ZONE", "Asia/Shanghai"),
            letter_press_processes=_count(env, "LETTER_PRESS_PROCESSES", 0)
            if env.get("LETTER_PRESS_PROCESSES")
            else None,
            report_at=env.get("REPORT_AT", "06:00"),
            report_period_days=_count(env, "REPORT_PERIOD_DAYS", 90),
            erasure_at=env.get("ERASURE_AT", "03:00"),
            workflow_task_slots=_count(env, "WORKFLOW_TASK_SLOTS", 8),
            metrics_address=env.get("METRICS_ADDRESS", "127.0.0.1:9464") or None,
            segmentation=None if env.get("SEGMENTATION") == "none" else env.get("SEGMENTATION") or "standard",
            segmentation_dir=Path(env.get("SEGMENTATION_DIR") or SEGMENTATION_DIR),
            experiment_dir=Path(env.get("EXPERIMENT_DIR") or EXPERIMENT_DIR),
            payload_keys=env.get("PAYLOAD_KEYS") or None,
            payload_keys_file=Path(env["PAYLOAD_KEYS_FILE"]) if env.get("PAYLOAD_KEYS_FILE") else _local_key_ring(),
            temporal_ui_origin=env.get("TEMPORAL_UI_ORIGIN", "http://localhost:8233"),
        )


def _count(env, name: str, default: int, *, at_most: int | None = None, what: str = "a whole number") -> int:
    text = env.get(name) or str(default)
    if not text.isdigit() or (at_most is not None and int(text) > at_most):
        raise ValueError(f"{name} {text!r} is not {what}")
    return int(text)


def _check_metrics_address(address: str) -> None:
    """As the SDK's exporter takes it: an IP address (no host name) and a port."""
    host, _, port = address.rpartition(":")
    try:
        ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        port = ""
    if not port.isdigit() or int(port) > 65535:
        raise ValueError(f"METRICS_ADDRESS {address!r} is not an IP address and port such as 127.0.0.1:9464")


def _port(env, name: str, default: int) -> int:
    return _count(env, name, default, at_most=65535, what="a port number")


def temporal_profile() -> ClientConfigProfile:
    """Temporal's client settings as the `temporal` CLI and every SDK read them (temporalio.envconfig): the profile
    TEMPORAL_PROFILE names (default `default`) from the TOML file TEMPORAL_CONFIG_FILE names (default
    ~/.config/temporalio/temporal.toml, if any), overridden by TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
    TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH,
    TEMPORAL_TLS_SERVER_NAME and the rest."""
    try:
        return ClientConfigProfile.load()
    except RuntimeError as err:  # the SDK's loader reports a bad file or an unknown profile so
        raise ValueError(f"Temporal client settings (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE): {err}") from None


def _local_key_ring() -> Path | None:
    """Without PAYLOAD_KEYS or PAYLOAD_KEYS_FILE, the CLI and worker beside `make run` use the ring it made."""
    return LOCAL_KEY_RING if LOCAL_KEY_RING.is_file() else None
