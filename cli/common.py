"""What every command shares: settings, the orchestrator's client, the database, choices and printing."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

import asyncpg
import click
from pydantic import BaseModel

from client import CollectionsClient, InputError
from infra import db
from infra.config import Settings


def settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as err:
        raise InputError(str(err)) from None


async def connect() -> CollectionsClient:
    return await CollectionsClient.connect(settings())


@asynccontextmanager
async def database() -> AsyncIterator[asyncpg.Pool]:
    """The evidence and the work queues live in PostgreSQL: DATABASE_URL says where (`make run` prints its own)."""
    url = settings().database_url
    if not url:
        raise InputError("set DATABASE_URL to read the evidence (make run prints the URL of its database)")
    try:
        pool = await db.create_pool(url, max_size=2)
    except (OSError, asyncpg.PostgresError) as err:
        raise InputError(f"cannot reach PostgreSQL at DATABASE_URL: {err}") from None
    try:
        yield pool
    finally:
        await pool.close()


def run_async(command: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """A click command written as a coroutine."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(command(*args, **kwargs))

    return run


def choice(literal: Any) -> click.Choice:
    """The values of a model's `Literal` type, so `--help` lists them and click refuses any other."""
    return click.Choice(get_args(literal))


def field_choice(model: type[BaseModel], field: str) -> click.Choice:
    return choice(model.model_fields[field].annotation)


def read_text(path: str) -> str:
    """A file's text, or standard input for `-`."""
    if path == "-":
        return click.get_text_stream("stdin").read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise InputError(f"{path}: {err.strerror}") from None


json_option = click.option("--json", "as_json", is_flag=True, help="print JSON, for a script to read")


def period_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """`--from` and `--to`: a period of days, both included."""
    command = click.option("--to", "last_day", required=True, help="last day, e.g. 2026-11-30")(command)
    return click.option("--from", "first_day", required=True, help="first day, e.g. 2026-11-01")(command)


def show(data: Any, as_json: bool, lines: list[str]) -> None:
    """`data` as JSON for a script, or `lines` for a person."""
    if not as_json:
        click.echo("\n".join(lines))
    elif isinstance(data, BaseModel):
        click.echo(data.model_dump_json(indent=2))
    else:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=_plain))


def _plain(value: Any) -> Any:
    """What JSON lacks: dates as ISO 8601, database sums (Decimal) as the integers they are."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return str(value)


def fields(record: dict[str, Any]) -> list[str]:
    """A record for a person to read: one `name: value` line per field."""
    return [f"{name}: {value}" for name, value in record.items()]


def verdict(yes: str, no: str, what: str) -> Callable:
    """A required `--yes/--no` pair of flags: one or the other must be given."""

    def required(ctx: click.Context, param: click.Parameter, value: bool | None) -> bool:
        if value is None:
            raise click.UsageError(f"one of {yes} or {no} is required", ctx)
        return value

    return click.option(f"{yes}/{no}", default=None, callback=required, help=what)
