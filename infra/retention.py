"""Closed accounts' kept runs, and the erasure of their personal data once their retention has passed."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg
import structlog

from dunning import retention
from dunning.compliance import load_rules
from dunning.policy import POLICY_DIR, load_policy
from dunning.state import AccountRun

log = structlog.get_logger()

# Every column that holds the debtor's (or a contact person's) name, number, e-mail, address, words or letters, by
# the account, marked 'erased'. The evidence around them (when, which channel, the verdicts, the letter's sha256) stays.
ERASE_PERSONAL_COLUMNS = (
    "UPDATE sms_messages SET to_number = 'erased', body = 'erased' WHERE account_id = $1",
    "UPDATE email_jobs SET to_address = 'erased', subject = 'erased', body = 'erased', attachment = NULL"
    " WHERE account_id = $1",
    "UPDATE call_tasks SET phone_order = '[]' WHERE account_id = $1",
    "UPDATE call_attempts SET number = 'erased' WHERE account_id = $1",
    "UPDATE letter_documents SET pdf = 'erased'::bytea"
    " WHERE action_key IN (SELECT action_key FROM letter_jobs WHERE account_id = $1)",
    "UPDATE letter_jobs SET address = 'erased', facts = NULL WHERE account_id = $1",
    "UPDATE field_visit_orders SET address = 'erased', invalid_addresses = '[]', notes = 'erased', photos = '[]'"
    " WHERE account_id = $1",
    "UPDATE contact_events SET contact_point = NULL, note = 'erased' WHERE account_id = $1",
    # A hash keeps each point's row (and its failure counts) apart without the number itself.
    "UPDATE contact_points SET value = 'erased:' || encode(sha256(convert_to(value, 'UTF8')), 'hex'), relation = NULL"
    " WHERE account_id = $1 AND value NOT LIKE 'erased:%'",
    "UPDATE contact_ceases SET reason = 'erased' WHERE account_id = $1",
    "UPDATE disputes SET details = 'erased' WHERE account_id = $1",
    "UPDATE debtor_events SET details = 'erased' WHERE account_id = $1",
    "UPDATE fraud_claims SET clues = 'erased' WHERE account_id = $1",
    "UPDATE approvals SET note = 'erased' WHERE account_id = $1",
    "UPDATE agency_reports SET note = 'erased'"
    " WHERE placement_ref IN (SELECT placement_ref FROM agency_placements WHERE account_id = $1)",
    # A text or mail from a sender several accounts share goes with the last of them.
    "UPDATE inbound_sms i SET from_number = 'erased', body = 'erased' WHERE $1 = ANY (i.account_ids) AND NOT EXISTS"
    " (SELECT 1 FROM accounts a WHERE a.account_id = ANY (i.account_ids) AND a.personal_data_erased_at IS NULL)",
    "UPDATE inbound_email i SET sender = 'erased', subject = 'erased', body = 'erased' WHERE $1 = ANY (i.account_ids)"
    " AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.account_id = ANY (i.account_ids)"
    " AND a.personal_data_erased_at IS NULL)",
    "UPDATE debtor_replies SET answer_note = 'erased' WHERE account_id = $1",
    "UPDATE statements SET note = 'erased' WHERE account_id = $1",
    "UPDATE third_party_checks SET contact_point = 'erased:' || encode(sha256(convert_to(contact_point, 'UTF8')),"
    " 'hex') WHERE account_id = $1 AND contact_point NOT LIKE 'erased:%'",
)


async def keep(pool: asyncpg.Pool, run: AccountRun) -> datetime | None:
    """Keeps the closed run's result with the day its personal data may be erased, which it returns. A later close of
    a reopened account replaces it and starts the retention again (what the account learnt meanwhile goes then)."""
    assert run.state is not None and run.state.closed_at is not None and run.policy is not None
    rules = run.policy.contact_rules
    if rules is not None and rules.retention is None:  # pinned before rule sets named one: the file's applies
        rules = load_rules(rules.name)
    erase_after = retention.erase_after(run.state.closed_at, rules)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """
            INSERT INTO closed_runs (account_id, run, closed_at, erase_after) VALUES ($1, $2::jsonb, $3, $4)
            ON CONFLICT (account_id) DO UPDATE
               SET run = excluded.run, closed_at = excluded.closed_at, erase_after = excluded.erase_after,
                   kept_at = now()
            """,
            run.account.account_id,
            run.model_dump_json(),
            run.state.closed_at,
            erase_after,
        )
        await conn.execute(
            "UPDATE accounts SET personal_data_erased_at = NULL WHERE account_id = $1", run.account.account_id
        )
        # An account opened before retention classes: its evidence gets the class its rule set requires now.
        await conn.execute(
            "SELECT set_retention_class($1, $2)", run.account.account_id, retention.retention_class(rules)
        )
    return erase_after


async def kept_run(conn: asyncpg.Connection | asyncpg.Pool, account_id: str) -> AccountRun | None:
    run = await conn.fetchval("SELECT run FROM closed_runs WHERE account_id = $1", account_id)
    return None if run is None else AccountRun.model_validate_json(run)


async def kept_accounts(conn: asyncpg.Connection | asyncpg.Pool, account_ids: list[str]) -> set[str]:
    """Which of these accounts are closed now (and kept), in one query for a batch of openings."""
    rows = await conn.fetch(
        "SELECT account_id FROM closed_runs JOIN accounts USING (account_id)"
        " WHERE account_id = ANY ($1::text[]) AND status <> 'open'",
        account_ids,
    )
    return {row["account_id"] for row in rows}


async def erase_due(pool: asyncpg.Pool, now: datetime, limit: int) -> list[str]:
    """Erases the personal data of up to `limit` closed accounts whose retention has passed by `now`, one
    transaction each (an account is erased whole or not at all); returns their ids. Retention runs from the close,
    by the kept run's rule set or, for an account closed before runs were kept, by its policy file's. An account
    reopened since is open, so it waits for its next close."""
    years = policy_retention_years()
    due = await pool.fetch(
        """
        SELECT a.account_id FROM accounts a
          LEFT JOIN closed_runs c USING (account_id)
          LEFT JOIN unnest($3::text[], $4::int[]) AS p (policy, years) ON p.policy = split_part(a.policy_ref, '@', 1)
         WHERE a.status <> 'open' AND a.personal_data_erased_at IS NULL
           AND coalesce(c.erase_after, a.closed_at + make_interval(years => p.years)) <= $1
         ORDER BY a.closed_at LIMIT $2
        """,
        now,
        limit,
        list(years),
        list(years.values()),
    )
    erased = []
    for row in due:
        try:
            async with pool.acquire() as conn, conn.transaction():
                if await _erase(conn, row["account_id"], now):
                    erased.append(row["account_id"])
        except ValueError as err:  # a kept run this code cannot read: the others still go, this one is said
            log.error("erasure failed", account_id=row["account_id"], error=str(err).splitlines()[0])
    return erased


def policy_retention_years() -> dict[str, int]:
    """Each policy file's retention, from its rule set (policies without one keep their accounts' data)."""
    policies = [load_policy(path.stem) for path in sorted(POLICY_DIR.glob("*.yaml"))]
    return {
        policy.name: policy.contact_rules.retention.evidence_years
        for policy in policies
        if policy.contact_rules is not None and policy.contact_rules.retention is not None
    }


async def _erase(conn: asyncpg.Connection, account_id: str, now: datetime) -> bool:
    locked = await conn.fetchval(
        "SELECT 1 FROM accounts WHERE account_id = $1 AND personal_data_erased_at IS NULL FOR UPDATE", account_id
    )
    if locked is None:  # another worker's run erased it first
        return False
    kept = await conn.fetchval("SELECT run FROM closed_runs WHERE account_id = $1", account_id)
    if kept is not None:
        erased_run = retention.anonymised(AccountRun.model_validate_json(kept), now)
        await conn.execute(
            "UPDATE closed_runs SET run = $2::jsonb WHERE account_id = $1", account_id, erased_run.model_dump_json()
        )
    await conn.execute(
        "UPDATE accounts SET document = document || $2::jsonb, personal_data_erased_at = $3 WHERE account_id = $1",
        account_id,
        json.dumps(retention.ERASED_IDENTITY),
        now,
    )
    for statement in ERASE_PERSONAL_COLUMNS:
        await conn.execute(statement, account_id)
    return True
