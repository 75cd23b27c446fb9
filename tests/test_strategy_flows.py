"""Segments and experiments through the real workflow and worker: the worker chooses the policy, the arm is pinned
at opening and recorded, ops filter by Segment and Strategy, and a broken promise re-segments the account."""

from __future__ import annotations

import json
import shutil
from datetime import date, time, timedelta
from pathlib import Path

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest

from client import CollectionsClient, InputError
from infra import audit
from infra.config import Settings
from tests.conftest import make_account, server_today
from tests.test_promises import promise, sleep_until
from worker import build_worker
from workflows.account import AccountWorkflow


async def search_attributes(env, workflow_id: str) -> dict[str, object]:
    described = await env.client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace="default", execution=WorkflowExecution(workflow_id=workflow_id))
    )
    fields = described.workflow_execution_info.search_attributes.indexed_fields
    return {name: json.loads(payload.data) for name, payload in fields.items()}


async def assignment(pool, account_id: str) -> dict:
    row = await pool.fetchrow(
        "SELECT segmentation, segment, billing_segment, experiment, arm, policy_ref FROM strategy_assignments"
        " WHERE account_id = $1",
        account_id,
    )
    return dict(row) if row else {}


async def test_the_worker_chooses_and_pins_the_arm_and_ops_filter_by_it(env, pool, sms_client, settings, tmp_path):
    experiments = tmp_path / "experiments"
    shutil.copytree(Path("experiments"), experiments)
    today = await server_today(env)
    queue = "strategy"
    worker_settings = Settings(**{**settings.__dict__, "task_queue": queue, "experiment_dir": experiments})
    # Four accounts billing says little about: potential payers, split by the running experiment.
    drawn = {"S-1": "champion", "S-2": "holdout", "S-3": "champion", "S-4": "plan_offer"}
    accounts = {
        account_id: make_account(today, account_id, policy=None, product="consumer_loan") for account_id in drawn
    }
    async with build_worker(env.client, worker_settings, pool, sms_client):
        collections = CollectionsClient(env.client, queue)
        for account in accounts.values():
            await collections.open(account)
        await env.sleep(timedelta(hours=1))
        # Stopping the experiment changes only accounts opened from now on.
        path = experiments / "consumer_plan_offer.yaml"
        path.write_text(path.read_text().replace("status: running", "status: stopped"))
        late = make_account(today, "S-9", policy=None, product="consumer_loan")
        await collections.open(late)
        await env.sleep(timedelta(days=5))
        views = {a: await collections.state(a) for a in [*drawn, "S-9"]}
        attributes = {a: await search_attributes(env, f"account-{a}") for a in [*drawn, "S-9"]}

    for account_id, arm in drawn.items():
        assert await assignment(pool, account_id) == {
            "segmentation": "standard@v1",
            "segment": "potential",
            "billing_segment": "standard",
            "experiment": "consumer_plan_offer@v1",
            "arm": arm,
            "policy_ref": "consumer_loan_plan_offer@v1" if arm == "plan_offer" else "consumer_loan@v8",
        }
        assert views[account_id].strategy == f"consumer_plan_offer@v1/{arm}"
        assert attributes[account_id]["Strategy"] == f"consumer_plan_offer@v1/{arm}"
        assert attributes[account_id]["Segment"] == "potential"
    assert (await assignment(pool, "S-9"))["experiment"] is None and views["S-9"].strategy == "champion"
    assert views["S-9"].segment_reason.startswith("score 15: ")

    # What each arm did in the reminder stage (1-5 dpd): the hold-out nothing, the challenger its plan offer.
    sent = {
        account_id: [
            r["step_id"]
            for r in await pool.fetch(
                "SELECT step_id FROM action_log WHERE account_id = $1 AND result = 'done' AND dpd <= 5 ORDER BY dpd",
                account_id,
            )
        ]
        for account_id in drawn
    }
    assert sent["S-2"] == []
    assert "plan_offer_potential_sms" in sent["S-4"] and "plan_offer_potential_sms" not in sent["S-3"]
    # The same reminder-stage steps for both champions (a text and a call task share a day: in either order).
    assert sorted(sent["S-1"]) == sorted(sent["S-3"]) == ["call_task", "sms_reminder", "sms_reminder"]


async def test_a_broken_promise_re_segments_the_account_and_the_trail_shows_it(env, run_worker, pool):
    today = await server_today(env)
    # 10,000 CNY owed, one promise broken before: 40 points, a potential payer; one more broken makes 55.
    account = make_account(today, policy=None, product="consumer_loan", amount_minor=1_000_000, prior_broken_promises=1)
    promised = today + timedelta(days=4)
    async with run_worker() as queue:
        collections = CollectionsClient(env.client, queue)
        await collections.open(account)
        await sleep_until(env, today + timedelta(days=2), time(9))
        await collections.signal(account.account_id, "promise_made", promise("PTP1", "1000.00", promised, "15:00"))
        await sleep_until(env, today + timedelta(days=12), time(12))
        view = await collections.state(account.account_id)
        attributes = await search_attributes(env, account.workflow_id)
        handle = env.client.get_workflow_handle(account.workflow_id)
        plan = await handle.query(AccountWorkflow.state)

    assert view.broken_promises == 1 and view.segment == "high_risk" and plan.segment == "high_risk"
    assert attributes["Segment"] == "high_risk"
    change = await pool.fetchrow(
        "SELECT event, from_segment, to_segment FROM segment_changes WHERE account_id = $1", account.account_id
    )
    assert dict(change) == {"event": "broken_promise", "from_segment": "potential", "to_segment": "high_risk"}
    assert await pool.fetchval("SELECT segment FROM accounts WHERE account_id = $1", account.account_id) == "high_risk"
    trail = [line for line in await audit.trail(pool, account.account_id) if " segment " in line]
    assert [line.split()[4:6] for line in trail] == [["opened", "potential"], ["broken_promise", "high_risk"]]


async def test_a_document_built_in_code_with_a_policy_or_product_no_one_knows_is_refused_before_temporal(env):
    collections = CollectionsClient(env.client, "nobody-listens")
    for fields, says in (
        ({"policy": "mortgage"}, "unknown policy 'mortgage'"),
        ({"policy": None, "product": "car_loan"}, "segmentation standard@v1 treats no 'car_loan'"),
    ):
        with pytest.raises(InputError, match=says):
            await collections.open(make_account(date(2026, 11, 2), "S-BAD", **fields))
    with pytest.raises(InputError, match="unknown account 'S-BAD'"):
        await collections.status("S-BAD")  # nothing was started
