"""Liveness and readiness of the worker, for an orchestrator's probes: `/healthz` answers while the process serves
at all; `/readyz` answers 200 only when Temporal and PostgreSQL answer and every migration the code ships is applied,
else 503 naming what is not ready. Neither needs credentials, and neither says more than ok or what is missing."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog
from aiohttp import web
from temporalio.client import Client

from infra import db

LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"
CHECK_TIMEOUT_SECONDS = 3.0
log = structlog.get_logger()


class Health:
    def __init__(self, pool: asyncpg.Pool, temporal: Client) -> None:
        self._pool = pool
        self._temporal = temporal

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(LIVENESS_PATH, self.live)
        app.router.add_get(READINESS_PATH, self.ready)

    async def live(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def ready(self, request: web.Request) -> web.Response:
        checks = dict(
            zip(
                ("temporal", "database", "migrations"),
                await asyncio.gather(self._temporal_answers(), self._database_answers(), self._migrations_applied()),
                strict=True,
            )
        )
        ready = all(problem == "ok" for problem in checks.values())
        if not ready:
            log.warning("not ready", **checks)
        return web.json_response({"status": "ok" if ready else "not ready", **checks}, status=200 if ready else 503)

    async def _temporal_answers(self) -> str:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                return "ok" if await self._temporal.service_client.check_health() else "not serving"
        except Exception as err:  # any failure to answer is the answer
            return f"unreachable ({type(err).__name__})"

    async def _database_answers(self) -> str:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                await self._pool.fetchval("SELECT 1")
            return "ok"
        except (*db.UNREACHABLE, asyncpg.PostgresError) as err:
            return f"unreachable ({type(err).__name__})"

    async def _migrations_applied(self) -> str:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
                missing = await db.pending_migrations(self._pool)
        except (*db.UNREACHABLE, asyncpg.PostgresError) as err:
            return f"unknown ({type(err).__name__})"
        return f"not applied: {', '.join(missing)}" if missing else "ok"
