"""`collections`: the command line of billing, ops, collectors and field agents, one group per noun.

Bad input gets one `error:` line on stderr and exit status 2, and nothing is sent to Temporal.
"""

from __future__ import annotations

import os
import sys

import click
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from cli.accounts import accounts, balance, payments
from cli.bureau import bureau
from cli.concessions import concessions
from cli.deploys import deploys
from cli.desks import calls, collectors, letters, replies, visits
from cli.keys import keys
from cli.news import contacts, debtors, disputes, fraud, plans, promises
from cli.oversight import agencies, approvals, compliance
from cli.reports import operator_accounts, reports
from cli.simulate import simulation
from cli.statements import statements
from client import InputError, inputs
from dunning.account import DemoClock
from infra.letters import LetterError
from infra.sealing import KeyRingError
from infra.stack_clock import read_stack_clock

NOUNS = (
    accounts,
    payments,
    balance,
    disputes,
    debtors,
    contacts,
    promises,
    plans,
    concessions,
    fraud,
    calls,
    replies,
    collectors,
    visits,
    letters,
    statements,
    agencies,
    bureau,
    approvals,
    compliance,
    reports,
    operator_accounts,
    keys,
    deploys,
    simulation,
)


class Nouns(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [noun.name for noun in NOUNS if noun.name]  # in the order a case goes, not alphabetical


@click.group(cls=Nouns, commands=NOUNS, context_settings={"help_option_names": ["-h", "--help"]})
def app() -> None:
    """Feed delinquent accounts to the orchestrator, tell them what happened, and read what they did.

    Temporal is reached as the `temporal` CLI reaches it (TEMPORAL_ADDRESS, default localhost:7233; TEMPORAL_API_KEY,
    TEMPORAL_TLS_*, TEMPORAL_PROFILE), PostgreSQL at DATABASE_URL; payloads are sealed with the key ring
    PAYLOAD_KEYS_FILE names (default: make run's, .run/payload-keys.json).
    """


def main(argv: list[str] | None = None, prog_name: str = "collections") -> int:
    """Runs one command; returns its exit status (2: bad input, 1: Temporal could not do it, or the command's own)."""
    try:
        inputs.follow(_stack_clock())  # under `make run DAY_SECONDS=...`, what people type is dated on its days
        status = app.main(args=sys.argv[1:] if argv is None else argv, prog_name=prog_name, standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as help_asked:
        click.echo(help_asked.ctx.get_help() if help_asked.ctx else "", err=True)
        return 2
    except click.UsageError as err:
        return _refuse(err.format_message())
    except (click.ClickException, InputError, LetterError, KeyRingError) as err:
        return _refuse(str(err))
    except (RPCError, WorkflowQueryFailedError) as err:
        print(f"error: Temporal could not do it: {err}", file=sys.stderr)
        return 1
    except click.Abort:
        return 1
    return status if isinstance(status, int) else 0  # a command's ctx.exit(status), e.g. a failed replay check


def _stack_clock() -> DemoClock | None:
    try:
        return read_stack_clock()
    except ValueError as err:
        raise InputError(str(err)) from None


def _refuse(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run(prog_name: str = "collections") -> None:
    """The console script: runs the command, then leaves at once."""
    status = main(prog_name=prog_name)
    # The Temporal client's Rust threads can abort interpreter finalization of a short-lived process
    # (temporalio/sdk-python#300); everything is done and flushed, so leave without finalizing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
