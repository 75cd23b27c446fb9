"""Settings from the environment: a bad value stops the worker with one line naming the variable."""

from __future__ import annotations

import pytest

from infra.config import Settings


@pytest.mark.parametrize(
    "value, problem",
    [("many", "WORKFLOW_TASK_SLOTS 'many' is not a whole number"), ("1", "WORKFLOW_TASK_SLOTS 1 must be 2 or more")],
)
def test_a_worker_takes_at_least_two_workflow_tasks_at_once(monkeypatch, value, problem):
    monkeypatch.setenv("WORKFLOW_TASK_SLOTS", value)
    with pytest.raises(ValueError, match=problem):
        Settings.from_env()


def test_the_worker_takes_eight_workflow_tasks_at_once_unless_told(monkeypatch):
    monkeypatch.delenv("WORKFLOW_TASK_SLOTS", raising=False)
    assert Settings.from_env().workflow_task_slots == 8


@pytest.mark.parametrize(
    "value, address",
    [(None, "127.0.0.1:9464"), ("0.0.0.0:9100", "0.0.0.0:9100"), ("[::1]:9464", "[::1]:9464"), ("", None)],
)
def test_the_worker_serves_metrics_on_loopback_unless_told_where_or_told_not_to(monkeypatch, value, address):
    if value is None:
        monkeypatch.delenv("METRICS_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("METRICS_ADDRESS", value)
    assert Settings.from_env().metrics_address == address


@pytest.mark.parametrize("value", ["9464", "localhost:9464", "127.0.0.1:", "127.0.0.1:http", "0.0.0.0:70000"])
def test_a_metrics_address_without_host_and_port_stops_the_worker_naming_it(monkeypatch, value):
    monkeypatch.setenv("METRICS_ADDRESS", value)
    with pytest.raises(ValueError, match=f"METRICS_ADDRESS '{value}' is not an IP address and port"):
        Settings.from_env()
