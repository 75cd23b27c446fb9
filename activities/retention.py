"""The erasure of closed accounts' personal data once their retention has passed (infra/retention.py)."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from pydantic import Field
from temporalio import activity

from dunning.account import Payload
from infra import retention
from infra.logging import activity_logger


class ErasureRequest(Payload):
    now: datetime  # business time: retention runs on the accounts' own days
    limit: int = Field(ge=1)


class RetentionActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn
    async def erase_personal_data(self, request: ErasureRequest) -> int:
        """Erases up to `limit` accounts due by `now`; returns how many (fewer than the limit: none is left)."""
        erased = await retention.erase_due(self._pool, request.now, request.limit)
        activity_logger().info("personal data erased", accounts=len(erased))
        return len(erased)
