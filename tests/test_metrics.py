"""The worker's /metrics under time skipping: the SDK's own metrics and the business's, counting what the account did
as its records hold it, with no personal data in any label; and the Grafana dashboard drawn from them."""

from __future__ import annotations

import json
import re
import socket
from collections import Counter
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path

import aiohttp
import pytest
import yaml

from client import CollectionsClient, inputs
from dunning.account import AccountDocument
from infra.config import Settings
from infra.metrics import prometheus_runtime
from tests.conftest import make_account, server_today, time_skipping_env
from tests.test_promises import promise, sleep_until
from worker import build_worker
from workflows.account import AccountWorkflow

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "ops" / "grafana" / "collections.json"
SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Scraped:
    account: AccountDocument
    samples: list[Sample]

    def names(self) -> set[str]:
        return {s.name for s in self.samples}

    def total(self, name: str, *by: str) -> Counter[tuple[str, ...]]:
        """A metric's samples summed by the labels named (the SDK adds namespace, task queue, type ...)."""
        totals: Counter[tuple[str, ...]] = Counter()
        for s in self.samples:
            if s.name == name:
                totals[tuple(s.labels.get(label, "") for label in by)] += s.value
        return totals


def parse(text: str) -> list[Sample]:
    samples = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            match = SAMPLE.match(line)
            assert match, line
            labels = dict(LABEL.findall(match["labels"] or ""))
            samples.append(Sample(match["name"], labels, float(match["value"])))
    return samples


def free_address() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture(scope="module")
async def scraped(pool, sms_client, settings) -> Scraped:
    """One account through its first twelve days on a worker whose client serves /metrics, then one scrape: texts
    and a call, a dispute that defers the catch-up to the morning, a letter that cannot be made (its creditor has
    no letterhead), two refused payments, a promise kept by paying in full. The worker keeps no workflow in its
    cache, so each of the account's workflow tasks replays its history first."""
    address = free_address()
    runtime = prometheus_runtime(address)  # the only one in the test run: a port binds once per process
    async with time_skipping_env(runtime) as env:
        today = await server_today(env)
        account = make_account(due=today, creditor="Nobody Ltd")
        queue = "metrics"
        worker_settings = Settings(**{**settings.__dict__, "task_queue": queue})
        # No cache: every workflow task replays the history so far, which must count nothing again.
        async with build_worker(env.client, worker_settings, pool, sms_client, max_cached_workflows=0):
            collections = CollectionsClient(env.client, queue)
            await collections.open(account)
            await sleep_until(env, today + timedelta(days=2), time(12))
            await collections.signal(account.account_id, "dispute_opened", inputs.parse_dispute("D1", "debt", "paid"))
            handle = env.client.get_workflow_handle(account.workflow_id)
            await handle.signal("payment_received", {"payment_id": "P0"})  # unreadable: no amount
            await collections.pay(account.account_id, inputs.parse_payment("10.00", "P1", "USD"))  # not its currency
            await sleep_until(env, today + timedelta(days=8), time(2))
            await collections.signal(
                account.account_id, "dispute_resolved", inputs.parse_resolution("D1", "debt_confirmed")
            )
            await sleep_until(env, today + timedelta(days=10), time(12))
            promised = today + timedelta(days=12)
            await collections.signal(account.account_id, "promise_made", promise("PTP1", "2500.00", promised))
            await sleep_until(env, promised, time(11))
            await collections.pay(account.account_id, inputs.parse_payment("2500.00", "P2", "CNY"))
            closed = await env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id).result()
            assert closed.state.status == "cured"
            async with aiohttp.ClientSession() as http, http.get(f"http://{address}/metrics") as response:
                assert response.status == 200
                text = await response.text()
    return Scraped(account, parse(text))


async def test_the_sdk_reports_its_workers_on_the_same_endpoint(scraped):
    names = scraped.names()
    assert scraped.total("temporal_workflow_completed", "workflow_type")[("AccountWorkflow",)] == 1
    for histogram in (
        "temporal_activity_execution_latency",
        "temporal_activity_schedule_to_start_latency",
        "temporal_workflow_task_schedule_to_start_latency",
        "temporal_workflow_task_execution_latency",
    ):
        assert {f"{histogram}_bucket", f"{histogram}_sum", f"{histogram}_count"} <= names, histogram


async def test_the_business_metrics_count_what_the_account_records_hold(scraped, pool):
    account_id = scraped.account.account_id
    replays = scraped.total("temporal_workflow_task_replay_latency_count", "workflow_type")[("AccountWorkflow",)]
    assert replays > 10  # and the workflow's counts below held through every one
    checks = await pool.fetch(
        "SELECT channel, verdict, count(*) AS n FROM contact_checks WHERE account_id = $1 GROUP BY 1, 2", account_id
    )
    judged = scraped.total("collections_contacts_total", "channel", "verdict")
    assert judged == {(r["channel"], r["verdict"]): r["n"] for r in checks}
    assert judged[("sms", "deferred")] == judged[("call", "deferred")] == 1  # the catch-up resolved at 02:00
    assert scraped.total("collections_steps_failed_total", "channel") == {("letter",): 1}
    assert scraped.total("collections_payments_total", "currency") == {("CNY",): 1}
    assert scraped.total("collections_payment_amount_sum", "currency") == {("CNY",): 2500.0}
    assert scraped.total("collections_payment_amount_bucket", "currency", "le")[("CNY", "5000")] == 1
    assert scraped.total("collections_cures_total", "policy") == {("consumer_loan",): 1}
    assert scraped.total("collections_promises_total", "kind", "outcome") == {
        ("promise", "made"): 1,
        ("promise", "kept"): 1,
    }
    # The unreadable payment and the one in another currency.
    assert scraped.total("collections_signals_refused_total", "kind") == {("payment_received",): 2}
    texts = await pool.fetchval("SELECT count(*) FROM sms_messages WHERE account_id = $1", account_id)
    assert scraped.total("collections_channel_latency_seconds_count", "channel") == {("sms",): texts}


async def test_no_label_carries_an_account_id_or_the_debtors_details(scraped):
    account = scraped.account
    personal = [account.account_id, account.debtor_name, *(point.value for point in account.contact_points)]
    values = {value for sample in scraped.samples for value in sample.labels.values()}
    assert not [value for value in values if any(p.lower() in value.lower() for p in personal)]
    assert not [value for value in values if re.search(r"\+\d", value)]  # nothing like a phone number


def metrics_read(expr: str) -> set[str]:
    """The series an expression reads (names outside braces, functions and the label names inside them aside)."""
    outside = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\bby \([^)]*\)", "", expr)
    return set(re.findall(r"\b(?:collections|temporal)_[a-z0-9_]+", outside))


def test_the_grafana_dashboard_has_what_grafana_needs_and_reads_only_exported_metrics(scraped):
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["title"] and dashboard["uid"] and isinstance(dashboard["schemaVersion"], int)
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    read: set[str] = set()
    for panel in panels:
        assert panel["type"] in {"timeseries", "stat", "barchart", "table"} and panel["title"], panel
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in "hwxy") and 0 < grid["w"] and grid["x"] + grid["w"] <= 24, panel
        columns, rows = range(grid["x"], grid["x"] + grid["w"]), range(grid["y"], grid["y"] + grid["h"])
        area = {(x, y) for x in columns for y in rows}
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
        assert panel["datasource"]["type"] == "prometheus" and panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["refId"] and target["expr"], panel["title"]
            metrics = metrics_read(target["expr"])
            assert metrics, target["expr"]
            read |= metrics
    assert read <= scraped.names(), f"not exported: {sorted(read - scraped.names())}"
    assert {
        "collections_contacts_total",
        "collections_steps_failed_total",
        "collections_payments_total",
        "collections_cures_total",
        "collections_promises_total",
        "collections_signals_refused_total",
        "temporal_activity_schedule_to_start_latency_bucket",
        "temporal_workflow_task_schedule_to_start_latency_bucket",
        "temporal_workflow_task_execution_latency_bucket",
    } <= read


def test_the_alerts_prometheus_evaluates_read_only_exported_metrics(scraped):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    rules = yaml.safe_load(compose["configs"]["prometheus-alerts"]["content"])
    alerts = {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}
    assert len(alerts) == 4  # schedule-to-start of workflow tasks and of activities, failed steps, refused signals
    for alert, expr in alerts.items():
        assert metrics_read(expr) and metrics_read(expr) <= scraped.names(), alert
