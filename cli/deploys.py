"""`deploys`: what to run before deploying workers (the README's "Deploying a new version")."""

from __future__ import annotations

import click
from temporalio.service import RPCError, RPCStatusCode

from cli.common import connect, run_async
from client import InputError
from client.replay_check import RUNNING, replay_check
from workflows.registry import WORKFLOWS


@click.group()
def deploys() -> None:
    """Checks before a deploy: that the workflows running now replay on this tree's code."""


@deploys.command("replay-check")
@click.option("--query", default=RUNNING, show_default=True, help="a visibility query: the workflows to replay")
@click.option("--limit", type=click.IntRange(min=1), help="replay at most this many (default: all the query finds)")
@click.pass_context
@run_async
async def replay_check_command(ctx: click.Context, query: str, limit: int | None) -> None:
    """Replays the histories of running workflows on this tree's workflow code; exit status 1 if any fails, with the
    workflow id and the first command that differs from its history."""
    collections = await connect()
    try:
        check = await replay_check(collections.temporal, WORKFLOWS, query, limit)
    except RPCError as err:
        if err.status == RPCStatusCode.INVALID_ARGUMENT:
            raise InputError(f"--query {query!r}: {err.message}") from None
        raise
    for failure in check.failures:
        click.echo(f"{failure.workflow_id} (run {failure.run_id}): {failure.message}")
    click.echo(f"{check.replayed} histories replayed, {len(check.failures)} failed")
    if check.failures:
        ctx.exit(1)
