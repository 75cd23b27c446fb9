"""`deploys`: what to run before deploying workers, before removing an old patch's branch (the README's "Deploying a
new version"), and once after an upgrade that needs it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from temporalio.service import RPCError, RPCStatusCode

from cli.common import connect, database, run_async
from client import InputError
from client.deploys import (
    COUNTING_DAYS,
    RUNNING,
    announce_calendars,
    keep_closed_runs,
    replay_check,
    runs_without_patch,
)
from workflows.registry import WORKFLOWS

query_option = click.option(
    "--query", default=RUNNING, show_default=True, help="a visibility query: the workflows whose histories to read"
)
limit_option = click.option(
    "--limit", type=click.IntRange(min=1), help="read at most this many histories (default: all the query finds)"
)


@click.group()
def deploys() -> None:
    """Before a deploy, that the workflows running now replay on this tree's code; before removing a patch, the runs
    that have not recorded it."""


@deploys.command("replay-check")
@query_option
@limit_option
@click.pass_context
@run_async
async def replay_check_command(ctx: click.Context, query: str, limit: int | None) -> None:
    """Replays the histories of running workflows on this tree's workflow code; exit status 1 if any fails, with the
    workflow id and the first command that differs from its history."""
    collections = await connect()
    with refusing_bad_query(query):
        check = await replay_check(collections.temporal, WORKFLOWS, query, limit)
    for failure in check.failures:
        click.echo(f"{failure.workflow_id} (run {failure.run_id}): {failure.message}")
    click.echo(f"{_histories(check.replayed)} replayed, {len(check.failures)} failed")
    if check.failures:
        ctx.exit(1)


@deploys.command("without-patch")
@click.argument("patch_id")
@query_option
@limit_option
@run_async
async def without_patch(patch_id: str, query: str, limit: int | None) -> None:
    """Lists the running workflows whose history has not recorded PATCH_ID (the id given to `workflow.patched`):
    those that started before the patch was deployed may have taken the old branch."""
    collections = await connect()
    with refusing_bad_query(query):
        read, without = await runs_without_patch(collections.temporal, patch_id, query, limit)
    for run in without:
        click.echo(f"{run.workflow_id} (run {run.run_id}, started {run.started_at.isoformat(timespec='seconds')})")
    click.echo(f"{_histories(read)} read, {read - len(without)} recorded {patch_id}, {len(without)} did not")


@deploys.command("keep-closed-runs")
@run_async
async def keep_closed_runs_command() -> None:
    """Once, after upgrading to a version that keeps closed runs in PostgreSQL: keeps the accounts that closed before
    (those Temporal still holds), so news after the namespace's retention still finds them."""
    collections = await connect()
    async with database() as pool:
        tally = await keep_closed_runs(collections.temporal, pool)
    click.echo(
        f"{tally.kept} closed accounts kept, {tally.already_kept} kept before,"
        f" {tally.reopened} reopened since (kept when they close)"
    )


@deploys.command("announce-calendars")
@click.option("--query", default=COUNTING_DAYS, show_default=True, help="a visibility query: the workflows to tell")
@limit_option
@run_async
async def announce_calendars_command(query: str, limit: int | None) -> None:
    """Once, after upgrading to calendars from the holidays library: tells each running account and fraud claim to
    ask the worker for the days announced since it opened (those started since ask by themselves)."""
    collections = await connect()
    with refusing_bad_query(query):
        told = await announce_calendars(collections.temporal, query, limit)
    click.echo(f"{told} running {'workflow' if told == 1 else 'workflows'} told to ask for announced days")


@contextmanager
def refusing_bad_query(query: str) -> Iterator[None]:
    try:
        yield
    except RPCError as err:
        if err.status == RPCStatusCode.INVALID_ARGUMENT:
            raise InputError(f"--query {query!r}: {err.message}") from None
        raise


def _histories(count: int) -> str:
    return f"{count} {'history' if count == 1 else 'histories'}"
