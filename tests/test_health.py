"""The worker's probes: live while it serves; ready only when Temporal and PostgreSQL answer and the schema is
current, and when not, saying which."""

from __future__ import annotations

import uuid
from dataclasses import replace

from aiohttp.test_utils import TestClient, TestServer

from inbound.health import LIVENESS_PATH, READINESS_PATH
from inbound.server import make_app
from infra import db
from tests.test_database_outage import network

__all__ = ["network"]  # PostgreSQL behind a relay the test cuts


class TemporalDown:
    class service_client:
        @staticmethod
        async def check_health() -> bool:
            raise ConnectionRefusedError("connection refused")


async def probe(settings, pool, temporal) -> dict[str, tuple[int, dict]]:
    app = make_app(replace(settings, public_base_url="http://127.0.0.1"), pool, temporal)
    async with TestClient(TestServer(app)) as client:
        answers = {}
        for path in (LIVENESS_PATH, READINESS_PATH):
            response = await client.get(path)
            answers[path] = (response.status, await response.json())
        return answers


async def test_a_worker_whose_temporal_and_database_answer_is_live_and_ready(settings, pool, env):
    answers = await probe(settings, pool, env.client)
    assert answers[LIVENESS_PATH] == (200, {"status": "ok"})
    assert answers[READINESS_PATH] == (
        200,
        {"status": "ok", "temporal": "ok", "database": "ok", "migrations": "ok"},
    )


async def test_without_its_database_or_temporal_a_worker_is_live_but_not_ready_saying_why(settings, network):
    between, cut_pool = network
    between.sever()
    answers = await probe(settings, cut_pool, TemporalDown())
    assert answers[LIVENESS_PATH] == (200, {"status": "ok"})
    status, ready = answers[READINESS_PATH]
    assert status == 503 and ready["status"] == "not ready"
    assert ready["temporal"] == "unreachable (ConnectionRefusedError)"
    assert ready["database"].startswith("unreachable (") and ready["migrations"].startswith("unknown (")


async def test_a_database_behind_the_code_is_not_ready_naming_the_migrations_it_lacks(settings, database_url, env):
    server_url, name = database_url, f"collections_old_{uuid.uuid4().hex[:8]}"
    pool = await db.create_pool(await db.create_database(server_url, name))
    try:
        status, ready = (await probe(settings, pool, env.client))[READINESS_PATH]
        assert status == 503 and ready["migrations"].startswith("not applied: 001_")
        await db.migrate(pool)
        assert (await probe(settings, pool, env.client))[READINESS_PATH][0] == 200
    finally:
        await pool.close()
        await db.drop_database(server_url, name)
