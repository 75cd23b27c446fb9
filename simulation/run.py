"""Try before you promote (issue 12): a synthetic portfolio through the real workflows and activities on time-skipping
servers, a day at a time, its debtors answering as the behaviour file says, under the champion, the challengers and
the hold-out of the running experiment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from time import monotonic
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from client import CollectionsClient, InputError
from dunning.account import AccountDocument, PaymentReceived, workflow_id
from dunning.commitments import PlanProposed
from dunning.contact import CeaseContact
from dunning.segments import load_segmentation
from infra import db
from infra.config import LETTERHEADS, ROOT, Settings
from simulation.behaviour import BEHAVIOUR_DIR, load_behaviour
from simulation.debtors import Debtors, Reaction
from simulation.happenings import accounts_owing, contacts_since
from simulation.portfolio import synthetic_portfolio
from simulation.shards import Shards, gather_bounded, sharded, until_idle, vendor_standins

RUN_DIR = ROOT / ".run" / "simulation"
# The portfolio's business day (its debtors live in Shanghai and Hong Kong, one clock): accounts arrive at 09:00 and
# the debtors answer at 12:30, after the 10:00 steps and the morning's first call window.
ZONE = ZoneInfo("Asia/Shanghai")
ARRIVE_AT = time(9)
ANSWER_AT = time(12, 30)
TASK_QUEUE = "simulation"
# Twilio's stand-in checks these like Twilio checks an account's; they open nothing real.
STANDIN_SID, STANDIN_TOKEN, STANDIN_FROM = "AC" + "5" * 32, "simulation-auth-token", "+15005550006"
SIGNALS_IN_FLIGHT = 16  # accounts told at once: enough to keep the workers busy, few enough not to flood the servers


@dataclass(frozen=True)
class Scenario:
    accounts: int
    days: int
    seed: int
    behaviour: str = "standard"


@dataclass(frozen=True)
class SimulationRun:
    """What ran: the days the portfolio lived through, what its debtors told the accounts, how long it took."""

    scenario: Scenario
    first_day: date
    last_day: date
    told: Counter[str]
    seconds: float
    locks_released: list[str]  # time-skipping locks the servers leaked and the watchdog released (shards.py)


def simulation_settings(settings: Settings, database_url: str) -> Settings:
    """The worker's settings for a simulation: its own task queue, database and drop folders, Twilio's stand-in, and
    the shipped letterheads (the synthetic portfolio's creditor is theirs)."""
    return replace(
        settings,
        task_queue=TASK_QUEUE,
        database_url=database_url,
        twilio_account_sid=STANDIN_SID,
        twilio_auth_token=STANDIN_TOKEN,
        twilio_from_number=STANDIN_FROM,
        letterheads_file=LETTERHEADS,
        letter_drop_dir=RUN_DIR / "print-vendor",
        agency_drop_dir=RUN_DIR / "agencies",
    )


@asynccontextmanager
async def fresh_database(server_url: str | None) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    """A new, migrated database `simulation` on DATABASE_URL's server, or on an embedded PostgreSQL under .run/:
    each run reports on its own accounts only. Yields its URL and a pool."""
    server_url = server_url or db.embedded_database_url(RUN_DIR / "postgres")
    url = await db.create_database(server_url, "simulation", replace=True)
    pool = await db.create_pool(url)
    try:
        await db.migrate(pool)
        yield url, pool
    finally:
        await pool.close()


async def simulate(scenario: Scenario, settings: Settings, pool: asyncpg.Pool) -> SimulationRun:
    """Opens the portfolio, lives through `scenario.days` days, and lets the last day's news settle."""
    started = monotonic()
    behaviour = load_behaviour(scenario.behaviour)
    if settings.segmentation:
        segmentation = load_segmentation(settings.segmentation, settings.segmentation_dir)
        behaviour.check_covers(segmentation.segment_names(), BEHAVIOUR_DIR / f"{scenario.behaviour}.yaml")
    debtors, told = Debtors(behaviour, scenario.seed), Counter[str]()
    async with vendor_standins(settings) as with_vendors, sharded(scenario.accounts, with_vendors, pool) as shards:
        opening = datetime.combine((await shards.now()).astimezone(ZONE).date() + timedelta(days=1), ARRIVE_AT, ZONE)
        await shards.advance_to(opening)
        documents = synthetic_portfolio(scenario.seed, scenario.accounts, opening.date())
        await gather_bounded((_open(shards, n, document) for n, document in enumerate(documents)), SIGNALS_IN_FLIGHT)
        number = {document.account_id: n for n, document in enumerate(documents)}
        since = opening
        for day in range(scenario.days):
            now = datetime.combine(opening.date() + timedelta(days=day), ANSWER_AT, ZONE)
            await shards.advance_to(now)
            await _debtors_answer(shards, pool, debtors, number, since, now, told)
            since = now
        await shards.advance_to(opening + timedelta(days=scenario.days))
    last_day = opening.date() + timedelta(days=scenario.days)
    return SimulationRun(scenario, opening.date(), last_day, told, monotonic() - started, shards.locks_released)


async def _open(shards: Shards, number: int, document: AccountDocument) -> None:
    """Opens the account and waits until it has chosen its treatment and opened: a portfolio opened all at once
    queues its choices behind one another past their timeouts, and each retry chooses again."""
    await shards.open(number, document)
    await until_idle(shards.server_of(number).client, document.workflow_id)


async def _debtors_answer(
    shards: Shards,
    pool: asyncpg.Pool,
    debtors: Debtors,
    number: dict[str, int],
    since: datetime,
    now: datetime,
    told: Counter[str],
) -> None:
    """Each debtor still owing reacts to what reached them since the simulator last looked; every account is told
    in order, a bounded number of accounts at once."""
    today = now.date()
    contacts = await contacts_since(pool, since, now, today)
    owing = [account for account in await accounts_owing(pool, today) if account.account_id in number]
    await gather_bounded(
        (
            _tell(
                shards.collections(number[account.account_id]),
                debtors,
                account.account_id,
                debtors.day(account, contacts.get(account.account_id, []), today, now),
                told,
            )
            for account in owing
        ),
        SIGNALS_IN_FLIGHT,
    )


def _signal(collections: CollectionsClient, account_id: str, news: Any) -> Awaitable[Any]:
    return collections.signal(account_id, news.news, news)


# How each reaction reaches the account: money and STOP also reach a closed account, a plan is an update the account
# answers; the rest is news only an open account takes, signalled by its name.
TELL: dict[type, Callable[[CollectionsClient, str, Any], Awaitable[Any]]] = {
    PaymentReceived: CollectionsClient.pay,
    CeaseContact: CollectionsClient.cease,
    PlanProposed: CollectionsClient.agree_plan,
}


async def _tell(
    collections: CollectionsClient, debtors: Debtors, account_id: str, reactions: list[Reaction], told: Counter[str]
) -> None:
    for reaction in reactions:
        await until_idle(collections.temporal, workflow_id(account_id))
        try:
            await TELL.get(type(reaction), _signal)(collections, account_id, reaction)
        except InputError:  # a plan outside the policy's limits, news for an account that just closed
            told[f"{reaction.news} refused"] += 1
            if isinstance(reaction, PlanProposed):
                debtors.plan_refused(account_id)
        else:
            told[reaction.news] += 1
