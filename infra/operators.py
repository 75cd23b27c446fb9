"""Operators: passwords kept as scrypt hashes, sessions as hashed random tokens in PostgreSQL (so every worker behind
a load balancer knows them, and a read of the table opens none), and each operator's roles and creditors."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Literal

import asyncpg

from dunning.operators import Operator, load_roles

OPERATOR_NAME = re.compile(r"^[a-z0-9_.\-]{1,64}$")
MIN_PASSWORD = 12
SESSION_LIFE = timedelta(hours=12)
# What commands name by its reference on an account, and where each is kept: the table and its reference column.
WorkItem = Literal["call", "reply", "visit order", "letter", "placement", "bureau report"]
WORK_ITEMS: dict[WorkItem, tuple[str, str]] = {
    "call": ("taken_calls", "call_ref"),
    "reply": ("debtor_replies", "reply_ref"),
    "visit order": ("field_visit_orders", "visit_ref"),
    "letter": ("letter_jobs", "letter_ref"),
    "placement": ("agency_placements", "placement_ref"),
    "bureau report": ("bureau_reports", "report_ref"),
}
# scrypt's cost: about 50 ms and 16 MiB a sign-in, enough to make a stolen table slow to guess from.
N, R, P = 2**14, 8, 1


class OperatorError(ValueError):
    """A name or password that cannot be used; says why."""


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P)
    return f"scrypt${N}${R}${P}${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    _, n, r, p, salt, digest = stored.split("$")
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate.hex(), digest)


async def add_operator(
    pool: asyncpg.Pool, name: str, password: str, roles: list[str], creditors: list[str] | None = None
) -> None:
    """Adds the operator, or sets their password, roles and creditors (None: all) anew, ending their sessions."""
    operator = Operator(name=name, roles=roles, creditors=creditors)
    if not OPERATOR_NAME.match(operator.name):
        raise OperatorError(f"operator name {operator.name!r}: use 1 to 64 of a-z 0-9 _ . -")
    if len(password) < MIN_PASSWORD:
        raise OperatorError(f"the password must have at least {MIN_PASSWORD} characters")
    known = load_roles()
    if unknown := known.unknown(operator.roles):
        raise OperatorError(f"unknown role(s) {', '.join(unknown)}; {known.name} has {', '.join(known.roles)}")
    if operator.creditors == []:
        raise OperatorError("name the creditors whose accounts the operator works (--creditor), or --all-creditors")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO operators (name, password_hash, roles, creditors) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (name) DO UPDATE SET password_hash = EXCLUDED.password_hash, roles = EXCLUDED.roles,"
            " creditors = EXCLUDED.creditors",
            operator.name,
            hash_password(password),
            operator.roles,
            operator.creditors,
        )
        await conn.execute("DELETE FROM operator_sessions WHERE operator = $1", operator.name)


async def sign_in(pool: asyncpg.Pool, name: str, password: str) -> str | None:
    """A new session's token if the name and password match, else None (which of them was wrong is not told)."""
    stored = await pool.fetchval("SELECT password_hash FROM operators WHERE name = $1", name)
    if stored is None or not password_matches(password, stored):
        return None
    token = secrets.token_urlsafe(32)
    await pool.execute(
        "INSERT INTO operator_sessions (token_sha256, operator, expires_at) VALUES ($1, $2, $3)",
        _sha256(token),
        name,
        datetime.now(UTC) + SESSION_LIFE,
    )
    return token


async def session_operator(pool: asyncpg.Pool, token: str) -> Operator | None:
    row = await pool.fetchrow(
        "SELECT o.name, o.roles, o.creditors FROM operator_sessions s JOIN operators o ON o.name = s.operator"
        " WHERE s.token_sha256 = $1 AND s.expires_at > now()",
        _sha256(token),
    )
    return Operator(**row) if row else None


async def all_operators(pool: asyncpg.Pool) -> list[Operator]:
    rows = await pool.fetch("SELECT name, roles, creditors FROM operators ORDER BY name")
    return [Operator(**row) for row in rows]


async def account_creditor(pool: asyncpg.Pool, account_id: str) -> str | None:
    """The creditor of an account on file (None: no such account, or not yet recorded)."""
    return await pool.fetchval("SELECT document->>'creditor' FROM accounts WHERE account_id = $1", account_id)


async def item_creditor(pool: asyncpg.Pool, item: WorkItem, ref: str) -> str | None:
    """The creditor of the account a call, reply, visit order, letter or placement is on (None: no such reference)."""
    table, ref_column = WORK_ITEMS[item]
    return await pool.fetchval(
        f"SELECT a.document->>'creditor' FROM {table} i JOIN accounts a USING (account_id) WHERE i.{ref_column} = $1",
        ref,
    )


async def sign_out(pool: asyncpg.Pool, token: str) -> None:
    await pool.execute("DELETE FROM operator_sessions WHERE token_sha256 = $1 OR expires_at <= now()", _sha256(token))


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
