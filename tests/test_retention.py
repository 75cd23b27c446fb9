"""Retention: a closed account's run is kept in PostgreSQL, a payment or reversal reopens it after Temporal has dropped
the history, and its personal data is erased once the rule set's retention has passed, the evidence kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from client import CollectionsClient, InputError
from dunning import retention
from dunning.account import ContactPoint, DemoClock, PaymentReceived, PaymentReversed
from dunning.compliance import RULES_DIR, load_rules
from dunning.disputes import DisputeOpened
from dunning.ledger import Ledger
from dunning.outcomes import ContactBook
from dunning.state import AccountRun, AccountState
from infra import retention as infra_retention
from tests.conftest import make_account, server_today, time_skipping_env
from tests.test_dev_server import starter
from workflows.account import AccountWorkflow
from workflows.retention import PersonalDataRetentionWorkflow, RetentionAsked

CLOSED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def personal_account(due, account_id: str | None = None):
    """An account whose name and address no other test uses, so a scan of the whole database finds only its own."""
    account = make_account(due, account_id)
    points = [
        p if p.kind != "address" else ContactPoint(kind="address", value=f"{account.account_id} Quiet Lane, Suzhou")
        for p in account.contact_points
    ]
    return account.model_copy(update={"debtor_name": f"Retained {account.account_id}", "contact_points": points})


def personal_values(account) -> list[str]:
    return [account.debtor_name, *(p.value for p in account.contact_points)]


@pytest.mark.parametrize(("rule_set", "years"), [("us_reg_f", 3), ("cn_consumer", 5), ("cn_commercial", 5)])
def test_personal_data_may_go_when_the_rule_sets_retention_has_passed(rule_set, years):
    assert retention.erase_after(CLOSED, load_rules(rule_set)) == CLOSED.replace(year=CLOSED.year + years)


def test_every_rule_set_names_its_retention():
    names = [path.stem for path in RULES_DIR.glob("*.yaml")]
    assert names and all(load_rules(name).retention is not None for name in names)


def test_a_close_on_a_leap_day_counts_its_years_to_the_28th_and_no_rule_set_keeps_data():
    leap_day = datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert retention.erase_after(leap_day, load_rules("us_reg_f")) == datetime(2031, 2, 28, 12, tzinfo=UTC)
    assert retention.erase_after(CLOSED, None) is None


def test_an_anonymised_run_names_no_one_and_keeps_the_ledger(consumer):
    account = personal_account(CLOSED.date())
    dispute = DisputeOpened(
        dispute_id="D1", subject="debt", details=f"call {account.contact_points[0].value}", opened_at=CLOSED
    )
    state = AccountState(
        status="cured",
        ledger=Ledger(principal_minor=account.amount_due_minor),
        opened_at=CLOSED - timedelta(days=40),
        closed_at=CLOSED,
        contact_book=ContactBook.of(account),
        open_disputes=[dispute],
        done_steps=["sms_reminder@1"],
    )
    run = AccountRun(account=account, policy=consumer, state=state)

    erased = retention.anonymised(run, CLOSED + timedelta(days=1900))

    dumped = erased.model_dump_json()
    assert not [value for value in personal_values(account) if value in dumped]
    assert erased.account.contact_points == [retention.ERASED_POINT]
    assert erased.state.contact_book.usable() == []  # a reopened account reaches no one
    assert (erased.state.ledger, erased.state.status, erased.state.done_steps) == (
        state.ledger,
        "cured",
        state.done_steps,
    )
    assert erased.policy == consumer


async def test_a_reversal_after_the_history_is_gone_reopens_the_account_from_its_kept_and_erased_run(
    env, run_worker, pool, database_url
):
    account = personal_account(await server_today(env))
    async with run_worker() as queue:
        collections = CollectionsClient(env.client, queue, database_url=database_url)
        await collections.open(account)
        await env.sleep(timedelta(days=4))  # texts and a call task carry the debtor's numbers
        paid_at = await env.get_current_time()
        await collections.pay(
            account.account_id, PaymentReceived(payment_id="P1", amount_minor=250_000, paid_at=paid_at)
        )
        cured = await env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id).result()
        kept = await pool.fetchrow(
            "SELECT closed_at, erase_after FROM closed_runs WHERE account_id = $1", account.account_id
        )
        assert cured.state.status == "cured"
        assert kept["erase_after"] == kept["closed_at"].replace(year=kept["closed_at"].year + 5)  # cn_consumer
        evidence = await evidence_rows(pool, account.account_id)
        held = await columns_holding(pool, personal_values(account))
        assert {"accounts.document", "closed_runs.run", "sms_messages.to_number", "call_tasks.phone_order"} <= set(held)

        # Five years on (the schedule's workflow on a clock set past the retention), the personal data goes.
        past_retention = DemoClock(
            day_seconds=86_400, anchor_real=await env.get_current_time(), anchor_business=kept["erase_after"]
        )
        erased = await env.client.execute_workflow(
            PersonalDataRetentionWorkflow.run,
            RetentionAsked(clock=past_retention),
            id=f"retention-{account.account_id}",
            task_queue=queue,
        )
    assert erased >= 1
    assert await columns_holding(pool, personal_values(account)) == []
    assert await evidence_rows(pool, account.account_id) == evidence
    letters = await pool.fetch(
        "SELECT d.pdf FROM letter_documents d JOIN letter_jobs j USING (action_key) WHERE j.account_id = $1",
        account.account_id,
    )
    assert all(row["pdf"] == b"" for row in letters)

    # Another Temporal server stands for one whose retention dropped the closed run's history.
    async with time_skipping_env() as later:
        await later.sleep(await env.get_current_time() - await later.get_current_time() + timedelta(days=1))
        async with run_worker(client=later.client) as queue:
            collections = CollectionsClient(later.client, queue, database_url=database_url)
            with pytest.raises(InputError, match="not reopened by sending it again"):
                await collections.open(account)
            newcomer = make_account(await server_today(later))
            with pytest.raises(InputError, match=f"accounts '{account.account_id}' are closed"):
                await collections.open_many([newcomer, account])
            with pytest.raises(InputError, match="unknown account"):
                await collections.status(newcomer.account_id)
            shown = await collections.state(account.account_id)  # as it closed, from the kept run
            assert (shown.status, shown.outstanding_minor, shown.invalid_points[0].point) == (
                "cured",
                0,
                retention.ERASED_POINT,
            )
            bounced = PaymentReversed(payment_id="P1", reason="chargeback", reversed_at=await later.get_current_time())
            await collections.reverse(account.account_id, bounced)
            await later.sleep(timedelta(days=5))
            view = await later.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)
    assert (view.status, view.outstanding_minor) == ("open", 250_000)
    texts = await pool.fetchval("SELECT count(*) FROM sms_messages WHERE account_id = $1", account.account_id)
    assert texts == evidence["sms_messages"]  # the reopened account reaches no one
    status = await pool.fetchval("SELECT status FROM accounts WHERE account_id = $1", account.account_id)
    assert status == "open"


async def test_news_for_an_account_nobody_knows_is_refused(env, run_worker, database_url):
    async with run_worker() as queue:
        collections = CollectionsClient(env.client, queue, database_url=database_url)
        with pytest.raises(InputError, match="unknown account 'NOBODY-1'"):
            await collections.pay(
                "NOBODY-1", PaymentReceived(payment_id="P1", amount_minor=100, paid_at=await env.get_current_time())
            )


async def evidence_rows(pool, account_id: str) -> dict[str, int]:
    """What stays after an erasure: the action log, the guard's checks, payments and contact events, counted."""
    tables = ("action_log", "contact_checks", "payments", "contact_events", "sms_messages", "call_tasks")
    return {t: await pool.fetchval(f"SELECT count(*) FROM {t} WHERE account_id = $1", account_id) for t in tables}


async def columns_holding(pool, values: list[str]) -> list[str]:
    """Every text, json or array column of every table (the opt-out lists aside: a number's or an address's opt-out
    outlives its accounts) that holds one of the values anywhere."""
    columns = await pool.fetch(
        """
        SELECT c.table_name, c.column_name FROM information_schema.columns c
          JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
           AND c.table_name NOT IN ('sms_opt_outs', 'email_opt_outs')
           AND (c.data_type IN ('text', 'jsonb', 'ARRAY', 'character varying'))
        """
    )
    found = []
    for column in columns:
        table, name = column["table_name"], column["column_name"]
        hits = await pool.fetchval(
            f'SELECT count(*) FROM "{table}" WHERE "{name}"::text LIKE ANY ($1::text[])', [f"%{v}%" for v in values]
        )
        if hits:
            found.append(f"{table}.{name}")
    return found


async def test_an_upgrade_keeps_the_accounts_that_closed_before_it(dev_env, run_worker, pool, database_url):
    today = await server_today(dev_env)
    closed, running = make_account(due=today - timedelta(days=3)), make_account(due=today - timedelta(days=3))
    async with run_worker(client=dev_env.client) as queue:
        collections = CollectionsClient(dev_env.client, queue)
        for account in (closed, running):
            await collections.open(account)
        paid = PaymentReceived(payment_id="P1", amount_minor=250_000, paid_at=await dev_env.get_current_time())
        await collections.pay(closed.account_id, paid)
        await dev_env.client.get_workflow_handle(closed.workflow_id).result()
    # As if it had closed on the version before: Temporal holds its result, PostgreSQL not.
    await pool.execute("DELETE FROM closed_runs WHERE account_id = $1", closed.account_id)

    upgraded = await starter(dev_env, queue, "deploys", "keep-closed-runs", DATABASE_URL=database_url)
    again = await starter(dev_env, queue, "deploys", "keep-closed-runs", DATABASE_URL=database_url)

    assert upgraded.stdout.strip() == "1 closed accounts kept, 0 kept before, 0 reopened since (kept when they close)"
    assert again.stdout.strip().startswith("0 closed accounts kept, 1 kept before")
    kept = await pool.fetchrow("SELECT run, erase_after FROM closed_runs WHERE account_id = $1", closed.account_id)
    assert kept["erase_after"] is not None and '"status": "cured"' in kept["run"]


async def test_accounts_closed_before_runs_were_kept_are_erased_by_their_policys_rule_set(own_pool):
    now = datetime(2032, 6, 1, tzinfo=UTC)
    accounts = {  # cn_consumer keeps 5 years
        "OLD-CLOSED": ("cured", now - timedelta(days=5 * 366)),
        "RECENT-CLOSED": ("cured", now - timedelta(days=2 * 365)),
        "OLD-OPEN": ("open", None),
        "UNREADABLE": ("cured", now - timedelta(days=5 * 366)),
    }
    for account_id, (status, closed_at) in accounts.items():
        document = personal_account(CLOSED.date(), account_id).model_dump_json()
        await own_pool.execute(
            "INSERT INTO accounts (account_id, workflow_id, policy_ref, policy_digest, currency, amount_due_minor,"
            " outstanding_minor, due_date, segment, time_zone, status, document, opened_at, closed_at)"
            " VALUES ($1, $2, 'consumer_loan@v5', '', 'CNY', 100, 0, '2026-01-01', 'standard', 'Asia/Shanghai', $3,"
            " $4::jsonb, $5, $6)",
            account_id,
            f"account-{account_id}",
            status,
            document,
            now - timedelta(days=6 * 366),
            closed_at,
        )

    # A kept run this code cannot read holds only itself back.
    await own_pool.execute(
        "INSERT INTO closed_runs (account_id, run, closed_at, erase_after) VALUES ('UNREADABLE', '{}', $1, $1)",
        now - timedelta(days=5 * 366),
    )

    assert await infra_retention.erase_due(own_pool, now, limit=10) == ["OLD-CLOSED"]
    names = await own_pool.fetch("SELECT account_id, document->>'debtor_name' AS name FROM accounts ORDER BY 1")
    assert {row["account_id"]: row["name"] for row in names} == {
        "OLD-CLOSED": retention.ERASED,
        "OLD-OPEN": "Retained OLD-OPEN",
        "RECENT-CLOSED": "Retained RECENT-CLOSED",
        "UNREADABLE": "Retained UNREADABLE",
    }
    assert await infra_retention.erase_due(own_pool, now, limit=10) == []  # done once


async def test_evidence_carries_its_rule_sets_retention_class_and_is_not_deleted_while_the_class_holds_it(
    env, run_worker, pool
):
    account = make_account(due=await server_today(env))  # consumer_loan, under cn_consumer: 5 years
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=2))
    classes = {
        row["retention_class"]
        for table in ("accounts", "action_log", "contact_checks")
        for row in await pool.fetch(f"SELECT retention_class FROM {table} WHERE account_id = $1", account.account_id)
    }
    assert classes == {"cn_consumer:5"}

    kept = f"evidence of account {account.account_id} is kept under retention class cn_consumer:5: not deleted"
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match=f"{kept} \\(action_log\\)"):
        await pool.execute("DELETE FROM action_log WHERE account_id = $1", account.account_id)
    # Closed four years ago, its class holds it still; six years ago, its evidence may go.
    close = "UPDATE accounts SET status = 'cured', closed_at = now() - $2::interval WHERE account_id = $1"
    await pool.execute(close, account.account_id, timedelta(days=4 * 365))
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match=f"{kept} \\(contact_checks\\)"):
        await pool.execute("DELETE FROM contact_checks WHERE account_id = $1", account.account_id)
    await pool.execute(close, account.account_id, timedelta(days=6 * 366))
    assert await pool.execute("DELETE FROM contact_checks WHERE account_id = $1", account.account_id) != "DELETE 0"


async def test_an_account_opened_before_classes_gets_its_class_and_its_evidence_too_when_it_closes(own_pool):
    await own_pool.execute(
        "INSERT INTO accounts (account_id, workflow_id, policy_ref, policy_digest, currency, amount_due_minor,"
        " outstanding_minor, due_date, segment, time_zone, status, document, opened_at)"
        " VALUES ('OLD-1', 'account-OLD-1', 'us_consumer_loan@v2', '', 'USD', 100, 0, '2026-01-01', 'standard',"
        " 'America/Chicago', 'open', '{}', now())"
    )
    await own_pool.execute(
        "INSERT INTO action_log (action_key, account_id, workflow_id, step_id, channel, dpd, stage, due_at, result)"
        " VALUES ('OLD-1:sms@1', 'OLD-1', 'account-OLD-1', 'sms', 'sms', 1, '1-5', now(), 'done')"
    )
    await own_pool.execute("SELECT set_retention_class('OLD-1', 'us_reg_f:3')")
    assert await own_pool.fetchval("SELECT retention_class FROM action_log WHERE account_id = 'OLD-1'") == "us_reg_f:3"
    assert await own_pool.fetchval("SELECT retention_class FROM accounts WHERE account_id = 'OLD-1'") == "us_reg_f:3"
