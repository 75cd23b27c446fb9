"""Agency placement (domain §1): at the policy's dpd the account is handed to an agency, in the agency's file
format, for a commission until the recall date; its payments and news come back, and it is recalled at the date or
on demand."""

from __future__ import annotations

import csv
from datetime import timedelta

import pytest

from client import CollectionsClient, inputs
from dunning.placements import AgencyReport
from dunning.policy import load_policy
from infra import agency_report
from tests.conftest import make_account, server_today
from workflows.account import AccountWorkflow

POLICY = load_policy("consumer_loan")


def test_a_payment_report_carries_its_amount_and_nothing_else_does():
    common = dict(report_id="R1", placement_ref="P1", occurred_at="2026-11-23T10:00:00+08:00")
    with pytest.raises(ValueError, match="a payment report needs amount_minor"):
        AgencyReport(kind="payment", **common)
    with pytest.raises(ValueError, match="only a payment report has one"):
        AgencyReport(kind="update", amount_minor=100, **common)


def read_csv(path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


async def placement_of(pool, account_id: str):
    return await pool.fetchrow("SELECT * FROM agency_placements WHERE account_id = $1", account_id)


async def test_a_placed_account_gets_its_agency_file_payments_back_and_a_recall_on_demand(
    env, run_worker, pool, settings
):
    account = make_account(due=await server_today(env), amount_minor=100_000)
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=91))
        placed = await placement_of(pool, account.account_id)
        agency = next(a for a in POLICY.agencies if a.id == placed["agency_id"])
        assert placed["status"] == "placed" and placed["placed_minor"] == 100_000
        assert placed["recall_at"] - placed["placed_at"] == timedelta(days=agency.recall_after_days)
        handed = read_csv(settings.agency_drop_dir / agency.id / f"placement-{placed['placement_ref']}.csv")
        assert list(handed[0]) == agency.file_columns  # the agency's own format
        assert handed[0]["account_id"] == account.account_id and handed[0]["placed_amount"] == "1000.00"
        assert handed[0]["mobile"] == account.points("mobile")[0].value

        ref = placed["placement_ref"]
        for report in (
            inputs.parse_agency_report("R1", ref, "payment", "300", "CNY", "", None),
            inputs.parse_agency_report("R1", ref, "payment", "300", "CNY", "", None),  # resent
            inputs.parse_agency_report("R2", ref, "update", None, "CNY", "debtor located", None),
        ):
            await CollectionsClient(env.client).signal(account.account_id, "agency_reported", report)
        await env.sleep(timedelta(hours=1))
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)
        assert view.placement.recovered_minor == 30_000 and view.outstanding_minor == 70_000

        await CollectionsClient(env.client).signal(
            account.account_id,
            "recall_placement",
            inputs.parse_recall("RC1", "the debtor complained of the agency", "ops7"),
        )
        await env.sleep(timedelta(hours=1))
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    assert view.placement is None
    ended = await placement_of(pool, account.account_id)
    assert (ended["status"], ended["recovered_minor"], ended["end_reason"]) == (
        "recalled",
        30_000,
        "the debtor complained of the agency (ops7)",
    )
    recall = read_csv(settings.agency_drop_dir / agency.id / f"recall-{ref}.csv")
    assert recall == [
        {"placement_ref": ref, "account_id": account.account_id, "reason": "the debtor complained of the agency (ops7)"}
    ]
    reports = await pool.fetch(
        "SELECT report_id, kind, amount_minor, commission_minor FROM agency_reports"
        " WHERE placement_ref = $1 ORDER BY report_id",
        ref,
    )
    assert [tuple(r) for r in reports] == [
        ("R1", "payment", 30_000, int(30_000 * agency.commission_rate)),
        ("R2", "update", None, None),
    ]
    lines = await agency_report.performance(pool)
    assert any(line.startswith(f"{agency.id} CNY:") and "recovered" in line for line in lines)


async def test_a_placement_is_recalled_at_its_date_and_settled_when_the_agency_collects_it_all(env, run_worker, pool):
    today = await server_today(env)
    kept, paid = make_account(due=today, amount_minor=50_000), make_account(due=today, amount_minor=50_000)
    async with run_worker() as queue:
        for account in (kept, paid):
            await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=91))
        ref = (await placement_of(pool, paid.account_id))["placement_ref"]
        await CollectionsClient(env.client).signal(
            paid.account_id,
            "agency_reported",
            inputs.parse_agency_report("R1", ref, "payment", "500", "CNY", "", None),
        )
        await env.sleep(timedelta(days=181))  # past the recall date of 180 days

    assert [(p["status"], p["end_reason"]) for p in [await placement_of(pool, kept.account_id)]] == [
        ("recalled", "the recall date came")
    ]
    assert [(p["status"], p["end_reason"]) for p in [await placement_of(pool, paid.account_id)]] == [
        ("settled", "the account closed as cured")
    ]
