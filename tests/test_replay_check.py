"""The pre-deploy replay check (`make replay-check`) on the real dev server: accounts running on today's code replay
on it, and a deliberately non-deterministic change fails naming each account and the command that differs; the runs
that have not recorded a patch are listed; the runs in flight are told to ask for announced days."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from cli import deploys
from cli.app import main
from client import CollectionsClient
from tests.conftest import make_account, server_today
from tests.nondeterministic_account import AccountWorkflowWaitingBeforeSteps
from tests.test_dev_server import starter, until
from workflows.fraud_claim import FraudClaimWorkflow


async def test_running_accounts_replay_and_a_non_deterministic_change_fails_naming_them(
    dev_env, run_worker, pool, monkeypatch, capsys
):
    today = await server_today(dev_env)
    accounts = [make_account(due=today - timedelta(days=3)) for _ in range(3)]
    async with run_worker(client=dev_env.client) as queue:
        for account in accounts:
            await CollectionsClient(dev_env.client, queue).open(account)

        async def all_took_a_step():  # the reminder of 1 or 3 dpd, taken on arrival
            taken = await pool.fetchval(
                "SELECT count(DISTINCT account_id) FROM action_log WHERE account_id = ANY($1::text[])",
                [account.account_id for account in accounts],
            )
            return taken == len(accounts)

        await until(all_took_a_step)
    # The worker is stopped, as for a deploy; the accounts are still running, asleep until their next step.

    passed = await starter(dev_env, queue, "deploys", "replay-check")
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.strip() == "3 histories replayed, 0 failed"

    # The same check on a tree whose account workflow waits an hour before each step, unguarded.
    capsys.readouterr()  # the worker's log so far
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_env.client.service_client.config.target_host)
    monkeypatch.setattr(deploys, "WORKFLOWS", (AccountWorkflowWaitingBeforeSteps, FraudClaimWorkflow))
    status = await asyncio.to_thread(main, ["deploys", "replay-check"])  # a loop of its own, as from a shell
    printed = capsys.readouterr().out.strip().splitlines()
    assert status == 1
    assert printed[-1] == "3 histories replayed, 3 failed"
    failures = printed[:-1]
    assert sorted(line.split(" ")[0] for line in failures) == sorted(account.workflow_id for account in accounts)
    for line in failures:  # the timer the code gave where the history has the step's activity
        assert "Nondeterminism error: Timer machine does not handle this event" in line, line
        assert "ActivityTaskScheduled" in line, line

    # Every account recorded the patch its opening passes; none has reached the agency placement's yet.
    recorded = await starter(dev_env, queue, "deploys", "without-patch", "treatment-replaces-catch-up")
    assert recorded.stdout.strip() == "3 histories read, 3 recorded treatment-replaces-catch-up, 0 did not"
    not_reached = await starter(dev_env, queue, "deploys", "without-patch", "agency-placements")
    *runs, summary = not_reached.stdout.strip().splitlines()
    assert summary == "3 histories read, 0 recorded agency-placements, 3 did not"
    assert sorted(run.split(" ")[0] for run in runs) == sorted(account.workflow_id for account in accounts)

    refused = await starter(dev_env, queue, "deploys", "replay-check", "--query", "ExecutionStatus = ")
    assert refused.returncode == 2
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error: --query 'ExecutionStatus = ': "), line


async def test_running_accounts_are_told_to_ask_for_announced_days_and_record_it(dev_env, run_worker, pool):
    today = await server_today(dev_env)
    accounts = [make_account(due=today - timedelta(days=3)) for _ in range(2)]
    ids = ", ".join(f'"{account.workflow_id}"' for account in accounts)
    query = f'WorkflowId IN ({ids}) AND ExecutionStatus = "Running"'
    async with run_worker(client=dev_env.client) as queue:
        for account in accounts:
            await CollectionsClient(dev_env.client, queue).open(account)

        async def listed():  # visibility catches up with the starts
            return (await dev_env.client.count_workflows(query)).count == len(accounts)

        await until(listed)
        told = await starter(dev_env, queue, "deploys", "announce-calendars", "--query", query)
        assert told.returncode == 0, told.stderr
        assert told.stdout.strip() == "2 running workflows told to ask for announced days"

        async def recorded():  # the worker takes the signal, and the run its patch marker
            answer = await starter(dev_env, queue, "deploys", "without-patch", "calendar-told", "--query", query)
            return answer.stdout.strip() == "2 histories read, 2 recorded calendar-told, 0 did not"

        await until(recorded, seconds=60)
