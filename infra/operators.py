"""Operators who read the reports in a browser: passwords kept as scrypt hashes, sessions as hashed random tokens
in PostgreSQL (so every worker behind a load balancer knows them, and a read of the table opens none)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

import asyncpg

OPERATOR_NAME = re.compile(r"^[a-z0-9_.\-]{1,64}$")
MIN_PASSWORD = 12
SESSION_LIFE = timedelta(hours=12)
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


async def add_operator(pool: asyncpg.Pool, name: str, password: str) -> None:
    """Adds the operator, or sets a new password (and ends the sessions the old one opened)."""
    if not OPERATOR_NAME.match(name):
        raise OperatorError(f"operator name {name!r}: use 1 to 64 of a-z 0-9 _ . -")
    if len(password) < MIN_PASSWORD:
        raise OperatorError(f"the password must have at least {MIN_PASSWORD} characters")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO operators (name, password_hash) VALUES ($1, $2)"
            " ON CONFLICT (name) DO UPDATE SET password_hash = EXCLUDED.password_hash",
            name,
            hash_password(password),
        )
        await conn.execute("DELETE FROM operator_sessions WHERE operator = $1", name)


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


async def session_operator(pool: asyncpg.Pool, token: str) -> str | None:
    return await pool.fetchval(
        "SELECT operator FROM operator_sessions WHERE token_sha256 = $1 AND expires_at > now()", _sha256(token)
    )


async def sign_out(pool: asyncpg.Pool, token: str) -> None:
    await pool.execute("DELETE FROM operator_sessions WHERE token_sha256 = $1 OR expires_at <= now()", _sha256(token))


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
