"""The bureau feed's side of credit-bureau reports: `collections bureau list` is its worklist of ready reports, and
`collections bureau sent` marks one furnished; a report still waiting for the furnishing gate is refused."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

from temporalio.testing import ActivityEnvironment

from activities.accounts import AccountActivities
from dunning.bureau import BureauReport, report_ref
from dunning.orders import AccountRef, BureauReportRecorded
from tests.conftest import make_account, run_cli, step_order

CHICAGO = ZoneInfo("America/Chicago")


async def test_the_bureau_feed_lists_ready_reports_and_marks_them_sent_never_a_waiting_one(
    pool, database_url, tmp_path
):
    account = make_account(due=date(2026, 3, 2), policy="us_consumer_loan", currency="USD", locale="en")
    await step_order(pool, account, "call_task@1")  # the account's row, as after opening
    ref = AccountRef(account_id=account.account_id, workflow_id=account.workflow_id, ladder_life="life")
    filed_at = datetime(2026, 3, 9, 10, tzinfo=CHICAGO)
    activities = AccountActivities(pool, tmp_path)

    def filed(commitment_id: str, status: str, because: str) -> BureauReportRecorded:
        key = f"{account.account_id}:life:bureau_report:{commitment_id}"
        report = BureauReport(
            report_ref=report_ref(key),
            action_key=key,
            reason=f"broken promise {commitment_id}",
            commitment_id=commitment_id,
            filed_at=filed_at,
        )
        return BureauReportRecorded(
            ref=ref,
            report=report,
            event="filed",
            status=status,
            because=because,
            amount_minor=100_000,
            currency="USD",
            dpd=7,
            rule_set="us_reg_f",
            at=filed_at,
        )

    ready, waiting = filed("P1", "ready", "spoke with the debtor"), filed("P2", "waiting", "no letter posted yet")
    for recorded in (ready, waiting, ready):  # a retried activity writes nothing twice
        await ActivityEnvironment().run(activities.record_bureau_report, recorded)
    feed = {"DATABASE_URL": database_url, "XDG_CONFIG_HOME": str(tmp_path)}  # no session: the system

    listed = await run_cli("bureau", "list", "--status", "ready", "--json", env=feed)
    assert listed.returncode == 0, listed.stderr
    mine = [r for r in json.loads(listed.stdout) if r["account_id"] == account.account_id]
    assert [(r["report_ref"], r["reason"], r["released_because"]) for r in mine] == [
        (ready.report.report_ref, "broken promise P1", "spoke with the debtor")
    ]
    sent = await run_cli(
        "bureau", "sent", ready.report.report_ref, "--bureau-ref", "EQ-1", "--by", "bureau-feed", env=feed
    )
    assert (sent.returncode, sent.stdout.strip()) == (
        0,
        f"bureau report {ready.report.report_ref} on account {account.account_id} sent (EQ-1)",
    )
    again = await run_cli("bureau", "sent", ready.report.report_ref, "--bureau-ref", "EQ-2", "--by", "x", env=feed)
    assert (again.returncode, again.stderr.strip()) == (
        2,
        f"error: bureau report {ready.report.report_ref} was sent already (by bureau-feed)",
    )
    held = await run_cli("bureau", "sent", waiting.report.report_ref, "--bureau-ref", "EQ-3", "--by", "x", env=feed)
    assert (held.returncode, held.stderr.strip()) == (
        2,
        f"error: bureau report {waiting.report.report_ref} is waiting: only a ready report may be sent",
    )
    rows = await pool.fetch(
        "SELECT commitment_id, status, sent_by, bureau_ref, waited_because FROM bureau_reports WHERE account_id = $1"
        " ORDER BY commitment_id",
        account.account_id,
    )
    assert [tuple(r) for r in rows] == [
        ("P1", "sent", "bureau-feed", "EQ-1", ""),
        ("P2", "waiting", None, None, "no letter posted yet"),
    ]
