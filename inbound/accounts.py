"""The accounts a message from outside concerns (a debtor's text or e-mail, Twilio's word on a text), and telling
them: shared by the webhooks of Twilio (inbound/server.py) and of the mail vendor (inbound/mail.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import asyncpg
import structlog
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from dunning.account import workflow_id

log = structlog.get_logger()

# Accounts still being worked: an account on hold (a disputed debt) resumes later, so it must hear a STOP too.
RUNNING = ("open", "on_hold")


class Unavailable(Exception):
    """PostgreSQL or Temporal could not take a webhook now."""


@dataclass(frozen=True)
class Signal:
    account_id: str
    name: str
    payload: BaseModel


async def running_accounts_of(conn: asyncpg.Connection, value: str, kind: Literal["mobile", "email"]) -> list[str]:
    """The accounts being worked whose debtor has this mobile or address in their contact book (corrected ones left
    out: a STOP from a number we were told is not the debtor's does not speak for the debtor)."""
    rows = await conn.fetch(
        "SELECT c.account_id FROM contact_points c JOIN accounts a USING (account_id)"
        " WHERE c.value = $1 AND c.kind = $2 AND c.owner = 'debtor' AND c.status <> 'replaced'"
        " AND a.status = ANY($3) ORDER BY c.account_id",
        value,
        kind,
        list(RUNNING),
    )
    return [row["account_id"] for row in rows]


async def tell(temporal: Client, signals: list[Signal]) -> str:
    """Signals each account; returns how that went per account. A closed account (its workflow gone) is noted; any
    other Temporal failure raises Unavailable, and the message is taken again later (each signal carries the
    message's id, so the accounts told already take it once)."""
    notes = []
    for signal in signals:
        try:
            await temporal.get_workflow_handle(workflow_id(signal.account_id)).signal(signal.name, signal.payload)
            notes.append(f"{signal.account_id}: {signal.name}")
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                log.warning(
                    "temporal did not take a signal",
                    account_id=signal.account_id,
                    signal=signal.name,
                    grpc_status=err.status.name,
                )
                raise Unavailable("Temporal") from None
            notes.append(f"{signal.account_id}: closed, not signalled")
    return "; ".join(notes)
