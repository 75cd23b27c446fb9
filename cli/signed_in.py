"""The operator at the keyboard. `collections operators login` keeps a session token in a file only its owner may
read (or COLLECTIONS_SESSION holds one). Commands that decide or take work take the operator from it and record that
name; with it, every command checks the operator's roles and creditors first: on an account or an item of one (a
call, visit order, letter, placement), on a queue (only the operator's creditors' work is handed out), and on what
mixes every creditor (the whole book's reports, the letter batch). Without a session the command line acts as the
system, with the Temporal and database credentials it was given (billing's scripts, `make run`); only deciding an
approval or a fraud claim needs a session."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import click

from cli.common import database
from client import InputError
from dunning.operators import (
    Operator,
    Permission,
    Roles,
    RolesError,
    account_refusal,
    book_refusal,
    load_roles,
    refusal,
)
from infra import operators
from infra.operators import WorkItem

SESSION_ENV = "COLLECTIONS_SESSION"
OPERATOR = "collections.operator"  # the signed-in operator, in the click context's meta, once an argument checked it


def session_file() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "collections" / "session"


def session_token() -> str | None:
    if token := os.environ.get(SESSION_ENV, "").strip():
        return token
    try:
        return session_file().read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    except OSError as err:
        raise InputError(f"{session_file()}: {err.strerror}") from None


def keep_session(token: str) -> Path:
    """Writes the token where only its owner may read it (the directory and the file)."""
    path = session_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # a file left from before keeps its mode otherwise
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    return path


def forget_session() -> None:
    session_file().unlink(missing_ok=True)


def roles() -> Roles:
    try:
        return load_roles()
    except RolesError as err:
        raise InputError(str(err)) from None


async def signed_in(pool: asyncpg.Pool) -> Operator | None:
    """The operator of the session (None: no session, the command line acts as the system)."""
    token = session_token()
    if token is None:
        return None
    found = await operators.session_operator(pool, token)
    if found is None:
        raise InputError("the session has ended: sign in again with `collections operators login NAME`")
    return found


async def operator_who_may(pool: asyncpg.Pool, permission: Permission, what: str) -> Operator:
    """The signed-in operator, who must hold the permission: a decision records who took it."""
    found = await signed_in(pool)
    if found is None:
        raise InputError(f"sign in to {what}: `collections operators login NAME`")
    if problem := refusal(roles(), found, permission):
        raise InputError(problem)
    return found


async def at_work(pool: asyncpg.Pool) -> Operator | None:
    """The signed-in operator taking work from a queue, who must work accounts; `who` records them (None: no
    session, every creditor's work is handed out)."""
    found = await signed_in(pool)
    if found is not None:
        if problem := refusal(roles(), found, "work_accounts"):
            raise InputError(problem)
        click.get_current_context().meta[OPERATOR] = found
    return found


def account_argument(permission: Permission = "work_accounts") -> Callable[[Any], Any]:
    """The ACCOUNT argument. With a session, the operator needs the permission, and an account of a creditor they
    do not see is an unknown account (as one that does not exist)."""

    def check(ctx: click.Context, param: click.Parameter, account_id: str) -> str:
        if session_token() is not None:
            ctx.meta[OPERATOR] = asyncio.run(
                _in_reach(
                    lambda pool: operators.account_creditor(pool, account_id),
                    f"unknown account {account_id!r}",
                    permission,
                )
            )
        return account_id

    return click.argument("account", callback=check)


def reference_argument(name: str, item: WorkItem, unknown: str) -> Callable[[Any], Any]:
    """The reference of a call, reply, visit order, letter or placement on an account. With a session, the operator must
    work accounts, and one of a creditor they do not see gets `unknown` (formatted with the reference), the
    command's answer to a reference to nothing."""

    def check(ctx: click.Context, param: click.Parameter, ref: str) -> str:
        if session_token() is not None:
            ctx.meta[OPERATOR] = asyncio.run(
                _in_reach(lambda pool: operators.item_creditor(pool, item, ref), unknown.format(ref), "work_accounts")
            )
        return ref

    return click.argument(name, callback=check)


async def _in_reach(
    creditor_of: Callable[[asyncpg.Pool], Awaitable[str | None]], unknown: str, permission: Permission
) -> Operator:
    async with database() as pool:
        found = await signed_in(pool)
        creditor = await creditor_of(pool)
    assert found is not None  # a session token was there, and signed_in refuses one that ended
    if problem := account_refusal(roles(), found, creditor, permission, unknown):
        raise InputError(problem)
    return found


async def may_open(creditors: set[str]) -> None:
    """With a session, the operator may open accounts only for the creditors they see."""
    if session_token() is None:
        return
    async with database() as pool:
        found = await signed_in(pool)
    assert found is not None
    if problem := refusal(roles(), found, "work_accounts"):
        raise InputError(problem)
    if found.creditors is not None and (others := creditors - set(found.creditors)):
        raise InputError(f"operator {found.name} does not work the accounts of {', '.join(sorted(others))}")


async def may_cover_every_creditor(permission: Permission, doing: str) -> None:
    """With a session, what mixes every creditor's accounts (a report of the whole book, the letter batch) takes the
    permission and an operator of all creditors, as /reports does."""
    if session_token() is None:
        return
    async with database() as pool:
        found = await signed_in(pool)
    assert found is not None
    if problem := book_refusal(roles(), found, permission, doing):
        raise InputError(problem)


def decider(what: str) -> Operator:
    """The signed-in operator an account argument checked: a decision on an account needs a session."""
    found: Operator | None = click.get_current_context().meta.get(OPERATOR)
    if found is None:
        raise InputError(f"sign in to {what}: `collections operators login NAME`")
    return found


def who(given: str | None, option: str) -> str:
    """Who took it: the signed-in operator (an option naming someone else is refused), else the option."""
    found: Operator | None = click.get_current_context().meta.get(OPERATOR)
    if found is not None:
        if given and given != found.name:
            raise InputError(f"{option}: signed in as {found.name}, who is recorded; leave {option} out")
        return found.name
    if not given:
        raise InputError(f"{option} is required without a session (`collections operators login NAME`)")
    return given
