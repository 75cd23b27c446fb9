"""Collectors' own books (domain §1, §4): accounts assigned to a named collector of their queue by rules as data,
handed on when the collector is complained about or away, served to their collector first, and each collector's day
measured against the daily target."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from client import CollectionsClient
from dunning.books import Team, TeamsError, choose_collector, load_teams
from dunning.disputes import DisputeOpened
from infra import books, call_queue
from tests.conftest import make_account, server_today
from tests.test_call_queue import AT_6_DPD
from tests.test_operators import collections, filed

TEAMS = load_teams()
PHONE_TEAM_1 = TEAMS.queues["phone_team_1"]  # li.wei (zh), zhang.min (zh, en), chen.jie (zh); by language


# --- who takes an account (pure) ------------------------------------------------------------------------------------


def test_the_smallest_book_of_those_who_speak_the_debtors_language_takes_the_account():
    assert choose_collector(PHONE_TEAM_1, "zh", "standard", {}) == "li.wei"  # all empty: the first named
    assert choose_collector(PHONE_TEAM_1, "zh", "standard", {"li.wei": 3, "zhang.min": 2, "chen.jie": 2}) == "zhang.min"
    assert choose_collector(PHONE_TEAM_1, "en", "standard", {"zhang.min": 40}) == "zhang.min"  # the one who speaks it
    assert choose_collector(PHONE_TEAM_1, "en", "standard", {}, frozenset({"zhang.min"})) is None  # nobody may
    assert choose_collector(PHONE_TEAM_1, "zh", "standard", {}, frozenset({"li.wei"})) == "zhang.min"


def test_a_team_by_segment_keeps_each_segment_to_its_collectors():
    team = Team.model_validate(
        {
            "assign_by": ["segment"],
            "collectors": [{"name": "kim", "segments": ["high_risk"]}, {"name": "lee", "segments": ["standard"]}],
        }
    )
    assert choose_collector(team, "zh", "high_risk", {"kim": 90, "lee": 1}) == "kim"
    assert choose_collector(team, "zh", "standard", {"kim": 0, "lee": 50}) == "lee"


def test_a_teams_file_naming_a_collector_twice_is_refused_with_the_file(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "name: bad\ndaily_dials_target: 50\nqueues:\n  q:\n    collectors: [{name: a}, {name: a}]\n", encoding="utf-8"
    )
    with pytest.raises(TeamsError, match="(?s)bad.yaml.*a collector is named twice: a"):
        load_teams("bad", tmp_path)


# --- assigned, handed on, served first ----------------------------------------------------------------------------


async def test_accounts_join_their_collectors_book_and_a_complaint_hands_the_account_to_another_queue(
    env, run_worker, pool
):
    today = await server_today(env)
    opened = [make_account(due=today - timedelta(days=2)) for _ in range(6)]
    async with run_worker() as queue:
        client = CollectionsClient(env.client, queue)
        for account in opened:
            await client.open(account)
        await env.sleep(timedelta(hours=1))
        rows = await pool.fetch(
            "SELECT account_id, collector_queue, collector FROM accounts WHERE account_id = ANY($1)",
            [a.account_id for a in opened],
        )
        complained = rows[0]
        dispute = DisputeOpened(
            dispute_id="D1", subject="collector", details="rude on the phone", opened_at=await env.get_current_time()
        )
        await client.signal(complained["account_id"], "dispute_opened", dispute)
        await env.sleep(timedelta(hours=1))
    # Each account has a collector of its queue, who speaks Chinese.
    for row in rows:
        team = TEAMS.queues[row["collector_queue"]]
        assert row["collector"] in {c.name for c in team.collectors if "zh" in c.languages}, row
    moved = await pool.fetchrow(
        "SELECT collector_queue, collector FROM accounts WHERE account_id = $1", complained["account_id"]
    )
    assert moved["collector_queue"] != complained["collector_queue"]
    assert moved["collector"] in {c.name for c in TEAMS.queues[moved["collector_queue"]].collectors}
    trail = await pool.fetch(
        "SELECT collector, previous, reason FROM collector_assignments WHERE account_id = $1 ORDER BY assigned_at",
        complained["account_id"],
    )
    assert [(t["previous"], t["reason"]) for t in trail] == [
        (None, "opened"),
        (complained["collector"], "dispute D1 about the collector"),
    ]


async def test_a_collector_away_hands_their_book_to_the_others_and_calls_serve_the_own_book_first(
    pool, sms_client, settings, database_url, tmp_path
):
    queue = "phone_team_1"
    mine, _ = await filed(pool, sms_client, settings, "call_task@6", "Test Lender", "create_call_task")
    theirs, _ = await filed(pool, sms_client, settings, "call_task@6", "Test Lender", "create_call_task")
    # Only these two calls, in a queue of their own.
    team_queue = f"team_{uuid.uuid4().hex[:8]}"
    await pool.execute(
        "UPDATE accounts SET collector_queue = $2, collector = CASE account_id WHEN $3 THEN 'li.wei' ELSE 'chen.jie'"
        " END WHERE account_id = ANY($1)",
        [mine.account_id, theirs.account_id],
        team_queue,
        mine.account_id,
    )
    # chen.jie's call is due an hour before li.wei's ...
    await pool.execute(
        "UPDATE call_tasks SET due_from = due_from - interval '1 hour' WHERE account_id = $1", theirs.account_id
    )
    now = AT_6_DPD
    first = await call_queue.take_next(pool, team_queue, "li.wei", now)
    assert first is not None and first["account_id"] == mine.account_id  # ... but li.wei is served her own

    # li.wei away: her open accounts of phone_team_1 go to the smallest books of the others.
    await pool.execute(
        "UPDATE accounts SET collector_queue = $1, collector = 'li.wei' WHERE account_id = $2", queue, mine.account_id
    )
    away = await collections(
        None,
        database_url,
        None,
        "collectors",
        "away",
        "li.wei",
        "--from",
        "2030-01-01",
        "--to",
        "2030-01-05",
        "--reason",
        "leave",
        home=tmp_path,
    )
    assert away.returncode == 0, away.stderr
    taker = await pool.fetchval("SELECT collector FROM accounts WHERE account_id = $1", mine.account_id)
    assert taker in {"zhang.min", "chen.jie"}
    assert f"{mine.account_id} -> {taker}" in away.stdout
    assert re.search(r"li.wei away 2030-01-01 to 2030-01-05: \d+ open account\(s\) handed on$", away.stdout.strip())
    async with pool.acquire() as conn:  # away that day: never chosen
        assert await books.assign(conn, mine.account_id, "test", date(2030, 1, 3)) != "li.wei"


async def test_a_collectors_day_counts_the_accounts_dialled_against_the_target(
    pool, sms_client, settings, database_url, tmp_path
):
    account, _ = await filed(pool, sms_client, settings, "call_task@6", "Test Lender", "create_call_task")
    day = date(2026, 11, 20)
    for n in range(3):  # three attempts on one account: one account dialled
        await pool.execute(
            "INSERT INTO call_attempts (account_id, outcome_id, call_ref, number, code, collector, at)"
            " VALUES ($1, $2, 'C1', '+8613800138000', 'no_answer', 'chen.jie', $3)",
            account.account_id,
            f"D{n}",
            datetime(2026, 11, 20, 2 + n, tzinfo=UTC),
        )
    shown = await collections(
        None, database_url, None, "collectors", "day", "--queue", "phone_team_1", "--date", str(day), home=tmp_path
    )
    assert shown.returncode == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if line.startswith("chen.jie"))
    assert "dialled   1/50" in line
    nobody = await collections(None, database_url, None, "collectors", "day", "--queue", "nobody", home=tmp_path)
    assert nobody.returncode == 2 and "queue 'nobody' has no named collectors" in nobody.stderr
