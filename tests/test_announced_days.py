"""A year's public holidays announced while accounts run: an account opened before the State Council's notice reached
the library counts the notice's days once a release of the library holds it, and its history replays to the same
days whatever the library says later. RECORD_HISTORIES=1 keeps its history in tests/histories/ (as
tests/test_replay.py does its own)."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from datetime import date, time, timedelta

from structlog.testing import capture_logs

import worker
from client import CollectionsClient
from infra.public_holidays import opening_years, working_calendar
from tests.conftest import make_account, server_today
from tests.test_calendar import LAST_NOTICE, NOTICES, announce, unannounce
from tests.test_promises import actions, promise, sleep_until
from tests.test_replay import HISTORIES, REPLAYER
from workflows.account import AccountWorkflow


def mid_december(today: date) -> date:
    """The first Monday from 7 December on, this year or (past it) the next: the next year's notice is due."""
    for year in (today.year, today.year + 1):
        seventh = date(year, 12, 7)
        monday = seventh + timedelta(days=-seventh.weekday() % 7)
        if monday > today:
            return monday
    raise AssertionError("unreachable")


def first_weekday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


async def test_an_account_opened_before_the_new_years_notice_counts_its_days_once_the_library_announces_them(
    env, run_worker, pool, monkeypatch
):
    opened = mid_december(await server_today(env))
    year = opened.year + 1
    await sleep_until(env, opened, time(9))  # no account runs yet: the skip is instant
    unannounce(monkeypatch, year)  # the release the worker runs has no notice for the coming year yet
    before = working_calendar("cn_mainland", [opened.year, year])
    account = make_account(due=opened, account_id="NOTICE-1")
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        handle = env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id)
        await sleep_until(env, opened + timedelta(days=1), time(12))
        pinned = [y for y in opening_years(opened) if y in NOTICES]  # those the release announces, less the new one
        assert (await handle.query(AccountWorkflow.state)).calendar_years == pinned

        # A release of the library with the notice is deployed: New Year's Day, and the first weekday after it off
        # in exchange for the last Saturday of December (illustrative days, not a real notice).
        day_off = first_weekday(date(year, 1, 2))
        saturday = date(opened.year, 12, 31) - timedelta(days=(date(opened.year, 12, 31).weekday() - 5) % 7)
        announce(monkeypatch, year, (day_off, saturday))
        after = working_calendar("cn_mainland", [opened.year, year])
        # A promise for the first working day after the day off: its reminder goes a working day before.
        promised = after.add_working_days(day_off, 1)
        reminder = after.add_working_days(promised, -1)
        assert reminder < day_off and before.add_working_days(promised, -1) >= day_off  # the notice moves it
        made = promised - timedelta(days=6)
        assert made < reminder

        await sleep_until(env, opened + timedelta(days=4), time(12))  # the account woke for its 3-dpd step
        assert (await handle.query(AccountWorkflow.state)).calendar_years == [*pinned, year]
        await sleep_until(env, made, time(9))
        await CollectionsClient(env.client).signal(
            account.account_id, "promise_made", promise("NY1", "500.00", promised)
        )
        await sleep_until(env, promised, time(12))
        history = await handle.fetch_history()

    taken = await actions(pool, account.account_id)
    assert taken["promise_reminder:NY1#1.0"] == (f"{reminder} 10:00", "done")
    # The library's release is rolled back: the replay reads the days the account was given, from its history.
    unannounce(monkeypatch, year)
    await REPLAYER.replay_workflow(history)
    if os.environ.get("RECORD_HISTORIES"):
        (HISTORIES / "calendar_learned_while_running.json").write_text(history.to_json(), encoding="utf-8")


async def test_the_worker_warns_as_it_starts_of_a_calendar_that_does_not_know_the_next_60_days(
    env, database_url, settings, monkeypatch
):
    served = replace(settings, task_queue="calendar-warning", database_url=database_url, inbound_http_port=0)
    monkeypatch.setattr(worker, "ensure_search_attributes", lambda *_: asyncio.sleep(0))  # the env registered them
    with capture_logs() as logs:
        async with worker.serving(env.client, served, today=date(LAST_NOTICE, 12, 1)):
            pass
    warned = [(e["calendar"], e["unknown_from"]) for e in logs if e["event"] == "calendar does not know the days ahead"]
    assert warned == [("cn_mainland", f"{LAST_NOTICE + 1}-01-01")]
