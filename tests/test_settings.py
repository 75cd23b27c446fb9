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
