"""History size of a whole ladder: one account per policy from 0 to 181 dpd with no answer from the debtor.

    python -m bench.history_events

Runs under the time-skipping test server with a real worker, PostgreSQL and the Twilio stand-in.
Target: a consumer_loan account stays within 250 history events (the other policies are for information).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from bench.stack import POLICIES, REGIONS, SEALED, account_document, services
from client import CollectionsClient
from client.setup import ensure_search_attributes
from dunning.account import local_date
from dunning.view import AccountView
from infra.temporal import local_binary
from worker import build_worker
from workflows.account import AccountWorkflow

DAYS = 181
TARGET_POLICY, TARGET_EVENTS = "consumer_loan", 250


async def main() -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=SEALED, test_server_existing_path=local_binary("temporal-test-server")
    )
    try:
        await ensure_search_attributes(env.client, "default")
        async with services() as stack:
            queue = f"bench-{uuid.uuid4().hex[:8]}"
            async with build_worker(env.client, stack.worker_settings(queue), stack.pool, stack.sms_client):
                # Due "today" in the server's clock, which time skipping moves away from the wall clock.
                now = await env.get_current_time()
                accounts = []
                for variant, policy in enumerate(POLICIES):
                    due = local_date(now, REGIONS[variant][0])
                    account = account_document(f"H{variant}{uuid.uuid4().hex[:8]}", policy, due, variant)
                    await CollectionsClient(env.client, queue).open(account)
                    accounts.append(account)
                await env.sleep(timedelta(days=DAYS))
                for account in accounts:
                    handle = env.client.get_workflow_handle(account.workflow_id)
                    view = await handle.query(AccountWorkflow.state)
                    history = await handle.fetch_history()
                    report(account.policy, view, [EventType.Name(e.event_type) for e in history.events])
    finally:
        await env.shutdown()


def report(policy: str, view: AccountView, event_types: list[str]) -> None:
    total = len(event_types)
    if policy == TARGET_POLICY:
        target = f"   target <= {TARGET_EVENTS}: {'OK' if total <= TARGET_EVENTS else 'ABOVE TARGET'}"
    else:
        target = "   (for information)"
    # A query sees the workflow as of its last task; the run number tells whether it continued-as-new (the
    # history fetched is the current run's only).
    print(f"{policy}: 0 to {DAYS} dpd, no answer (last wake-up at dpd {view.dpd}, stage {view.stage}, run {view.runs})")
    print(f"  history events     {total:5d}{target}")
    print(f"  ladder actions     {view.actions_taken:5d}")
    print(f"  events per action  {total / max(view.actions_taken, 1):7.1f}")
    for name, count in Counter(event_types).most_common():
        print(f"    {count:5d}  {name.removeprefix('EVENT_TYPE_')}")


if __name__ == "__main__":
    asyncio.run(main())
