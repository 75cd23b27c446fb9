"""End to end on the real Temporal dev server: ops filter accounts by search attribute; the CLI works."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
from datetime import timedelta

from client import CollectionsClient
from dunning.fraud import claim_workflow_id
from infra import operators
from infra.temporal import local_binary
from tests.conftest import make_account, run_cli, server_today


async def starter(dev_env, queue: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """Runs the CLI as a user would, without blocking the loop the worker answers queries on."""
    address = dev_env.client.service_client.config.target_host
    return await run_cli(*args, env={"TEMPORAL_ADDRESS": address, "TASK_QUEUE": queue, **env}, timeout=60)


async def until(predicate, seconds: float = 20):
    for _ in range(int(seconds * 4)):
        if result := await predicate():
            return result
        await asyncio.sleep(0.25)
    raise AssertionError("condition not met in time")


async def test_ops_filter_accounts_by_stage_and_balance_and_the_cli_drives_them(dev_env, run_worker):
    today = await server_today(dev_env)
    big_late = make_account(due=today - timedelta(days=20), amount_minor=800_000)
    small_late = make_account(due=today - timedelta(days=20), amount_minor=120_000)
    early = make_account(due=today - timedelta(days=2), amount_minor=900_000)
    async with run_worker(client=dev_env.client) as queue:
        for account in (big_late, small_late, early):
            await CollectionsClient(dev_env.client, queue).open(account)

        query = 'Stage = "18-29" AND Outstanding > 5000 AND AccountStatus = "open"'

        async def listed():
            ids = {w.id async for w in dev_env.client.list_workflows(query)}
            return ids if big_late.workflow_id in ids else None

        ids = await until(listed)
        assert small_late.workflow_id not in ids and early.workflow_id not in ids
        status = await starter(dev_env, queue, "accounts", "status", big_late.account_id, "--json")
        assert status.returncode == 0, status.stderr
        view = json.loads(status.stdout)
        assert (view["stage"], view["dpd"], view["outstanding_minor"]) == ("18-29", 20, 800_000)

        paid = await starter(
            dev_env, queue, "payments", "pay", big_late.account_id, "--amount", "1500.50", "--payment-id", "CLI-1"
        )
        assert paid.returncode == 0, paid.stderr

        async def balance_lowered():
            view = json.loads(
                (await starter(dev_env, queue, "accounts", "status", big_late.account_id, "--json")).stdout
            )
            return view if view["outstanding_minor"] == 800_000 - 150_050 else None

        await until(balance_lowered)

        # The debtor's answers go in through the CLI too, and show in the account's state.
        for args in (
            ("disputes", "open", small_late.account_id, "--id", "D1", "--subject", "debt", "--details", "paid already"),
            ("contacts", "cease", small_late.account_id, "--channel", "sms", "--reason", "replied STOP"),
            ("debtors", "report", early.account_id, "--id", "R1", "--event", "bankrupt", "--details", "petition"),
        ):
            answered = await starter(dev_env, queue, *args)
            assert answered.returncode == 0, answered.stderr

        async def answers_recorded():
            small = json.loads(
                (await starter(dev_env, queue, "accounts", "status", small_late.account_id, "--json")).stdout
            )
            other = json.loads((await starter(dev_env, queue, "accounts", "status", early.account_id, "--json")).stdout)
            return small["open_disputes"] and small["ceased_channels"] == ["sms"] and other["verifications"]

        await until(answers_recorded)

        for args, expected in (
            (
                ("payments", "pay", "NO-SUCH-ACCOUNT", "--amount", "1", "--payment-id", "X"),
                "unknown account 'NO-SUCH-ACCOUNT'",
            ),
            (
                ("payments", "pay", big_late.account_id, "--amount", "-5", "--payment-id", "X"),
                "--amount must be positive",
            ),
            (
                ("payments", "pay", big_late.account_id, "--amount", "1.234", "--payment-id", "X"),
                "more decimals than CNY",
            ),
            (("accounts", "status", "NO-SUCH-ACCOUNT"), "unknown account"),
            (("disputes", "open", big_late.account_id, "--id", "D2", "--subject", "debt", "--details", ""), "details"),
        ):
            refused = await starter(dev_env, queue, *args)
            assert refused.returncode == 2
            lines = refused.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], refused.stderr


async def test_a_fraud_claim_and_a_plan_go_in_through_the_cli_and_a_claim_outlives_its_paid_off_account(
    dev_env, run_worker, pool, database_url
):
    today = await server_today(dev_env)
    claimed = make_account(due=today - timedelta(days=5), amount_minor=100_000)
    planned = make_account(due=today - timedelta(days=5), amount_minor=100_000)
    async with run_worker(client=dev_env.client) as queue:
        for account in (claimed, planned):
            await CollectionsClient(dev_env.client, queue).open(account)

        opened = await starter(
            dev_env,
            queue,
            "fraud",
            "claim",
            claimed.account_id,
            "--id",
            "F1",
            "--clues",
            "a cousin had her ID card",
            "--taken-by",
            "agent-7",
        )
        assert opened.returncode == 0, opened.stderr
        await until(lambda: pool.fetchval("SELECT status FROM fraud_claims WHERE account_id = $1", claimed.account_id))
        # The debtor pays anyway; the account closes, and the creditor's decision still ends the claim.
        paid = await starter(
            dev_env, queue, "payments", "pay", claimed.account_id, "--amount", "1000", "--payment-id", "P1"
        )
        assert paid.returncode == 0, paid.stderr
        await dev_env.client.get_workflow_handle(claimed.workflow_id).result()
        # The creditor's decision is recorded by a signed-in operator who may decide fraud claims.
        await operators.add_operator(pool, "fraud.desk", "correct horse battery", ["fraud_officer"], None)
        session = await operators.sign_in(pool, "fraud.desk", "correct horse battery") or ""
        decision = ("fraud", "decide", claimed.account_id, "--id", "F1", "--confirmed", "--reference", "BANK-1")
        decided = await starter(dev_env, queue, *decision, DATABASE_URL=database_url, COLLECTIONS_SESSION=session)
        assert decided.returncode == 0, decided.stderr
        claim = await dev_env.client.get_workflow_handle(claim_workflow_id(claimed.account_id, "F1")).result()
        assert claim["outcome"] == "confirmed"

        due = (today + timedelta(days=10)).isoformat()
        refused = await starter(
            dev_env,
            queue,
            "plans",
            "agree",
            planned.account_id,
            "--id",
            "PL1",
            "--instalment",
            f"{due}=300",
            "--cause",
            "job_loss",
            "--agreed-by",
            "agent-7",
        )
        assert refused.returncode == 2
        assert refused.stderr.strip() == (
            "error: plan PL1 refused: instalments add up to 30000 but the account owes 100000"
        )
        agreed = await starter(
            dev_env,
            queue,
            "plans",
            "agree",
            planned.account_id,
            "--id",
            "PL1",
            "--instalment",
            f"{due}=400",
            "--instalment",
            f"{(today + timedelta(days=40)).isoformat()}=600",
            "--cause",
            "job_loss",
            "--agreed-by",
            "agent-7",
        )
        assert agreed.returncode == 0, agreed.stderr
        assert agreed.stdout.strip() == f"plan PL1 agreed on account {planned.account_id}: 2 instalments"

    assert await pool.fetchval("SELECT status FROM accounts WHERE account_id = $1", claimed.account_id) == "cured"
    assert (
        await pool.fetchval("SELECT status FROM fraud_claims WHERE account_id = $1", claimed.account_id) == "confirmed"
    )
    # What ops and the cluster's database see without the codec server: no name, number, e-mail, address or clue.
    for workflow_id in (claimed.workflow_id, claim_workflow_id(claimed.account_id, "F1"), planned.workflow_id):
        shown = await shown_without_codec(dev_env, workflow_id)
        personal = ["Test Debtor", "Test Road", "@example.com", "a cousin had her ID card"]
        personal += [point.value for point in claimed.contact_points + planned.contact_points]
        assert not [text for text in personal if text in shown], workflow_id


async def shown_without_codec(dev_env, workflow_id: str) -> str:
    """`temporal workflow show --output json` as an engineer runs it, with every payload's data base64-decoded."""
    process = await asyncio.create_subprocess_exec(
        local_binary("temporal"),
        "workflow",
        "show",
        "--workflow-id",
        workflow_id,
        "--address",
        dev_env.client.service_client.config.target_host,
        "--output",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    text = stdout.decode()
    assert '"binary/encrypted"' in text or "YmluYXJ5L2VuY3J5cHRlZA==" in text  # sealed payloads are there
    decoded = [base64.b64decode(data).decode(errors="replace") for data in re.findall(r'"data":\s*"([^"]*)"', text)]
    return "\n".join([text, *decoded])
