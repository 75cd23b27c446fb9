"""`/reports` on the worker's HTTP server: only signed-in operators read the latest report; a session is a cookie
scripts cannot read and other sites cannot send, and it ends at sign-out or with a new password."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from inbound.reports import CSV_PATH, LOGIN_PATH, LOGOUT_PATH, REPORTS_PATH, SESSION_COOKIE
from inbound.server import make_app
from infra import operators
from tests.conftest import server_today
from workflows.strategy_report import ReportAsked, StrategyReportWorkflow

PASSWORD = "correct horse battery"


@pytest.fixture
async def browser(own_pool, settings):
    app = make_app(replace(settings, public_base_url="http://127.0.0.1"), own_pool, temporal=None)  # type: ignore[arg-type]
    async with TestClient(TestServer(app)) as client:
        yield client


async def write_report(pool, report_id: str, html: str) -> None:
    await pool.execute(
        "INSERT INTO strategy_reports (report_id, period_start, period_end, html, csv) VALUES ($1, $2, $3, $4, $5)",
        report_id,
        date(2026, 11, 1),
        date(2026, 11, 30),
        html,
        f"measure,value\ncure_rate,{report_id}\n",
    )


async def sign_in(browser: TestClient, name: str, password: str):
    return await browser.post(LOGIN_PATH, data={"name": name, "password": password}, allow_redirects=False)


async def test_a_visitor_is_sent_to_sign_in_and_a_wrong_password_opens_nothing(browser, own_pool):
    await operators.add_operator(own_pool, "head.of.collections", PASSWORD, roles=["collections_head"])
    response = await browser.get(REPORTS_PATH, allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, LOGIN_PATH)
    for name, password in (("head.of.collections", "wrong password!"), ("nobody", PASSWORD)):
        refused = await sign_in(browser, name, password)
        # Which of the two was wrong is not told.
        assert refused.status == 401 and "Wrong operator name or password." in await refused.text()
        assert SESSION_COOKIE not in refused.cookies
    assert await own_pool.fetchval("SELECT count(*) FROM operator_sessions") == 0


async def test_an_operator_reads_the_latest_report_and_its_csv_until_signing_out(browser, own_pool):
    await operators.add_operator(own_pool, "head.of.collections", PASSWORD, roles=["collections_head"])
    page = await browser.get(REPORTS_PATH)  # followed to the sign-in form
    assert '<input name="password" type="password"' in await page.text()
    signed = await sign_in(browser, "head.of.collections", PASSWORD)
    assert (signed.status, signed.headers["Location"]) == (303, REPORTS_PATH)
    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/;" in cookie

    empty = await browser.get(REPORTS_PATH)
    assert "No report has been written yet" in await empty.text()
    await write_report(own_pool, "R-1", "<html><body>first</body></html>")
    await write_report(own_pool, "R-2", "<html><body>second</body></html>")
    shown = await browser.get(REPORTS_PATH)
    assert (shown.status, await shown.text()) == (200, "<html><body>second</body></html>")
    assert shown.headers["Cache-Control"] == "no-store"
    table = await browser.get(CSV_PATH)
    assert await table.text() == "measure,value\ncure_rate,R-2\n"
    assert table.headers["Content-Disposition"] == 'attachment; filename="R-2.csv"'

    await browser.post(LOGOUT_PATH, allow_redirects=False)
    assert await own_pool.fetchval("SELECT count(*) FROM operator_sessions") == 0
    after = await browser.get(REPORTS_PATH, allow_redirects=False)
    assert after.status == 303


async def test_a_new_password_ends_the_sessions_the_old_one_opened(browser, own_pool):
    await operators.add_operator(own_pool, "ops.lead", PASSWORD, roles=["analyst"])
    await sign_in(browser, "ops.lead", PASSWORD)
    assert (await browser.get(REPORTS_PATH, allow_redirects=False)).status == 200
    await operators.add_operator(own_pool, "ops.lead", "another long password", roles=["analyst"])
    assert (await browser.get(REPORTS_PATH, allow_redirects=False)).status == 303


async def test_an_operator_whose_roles_do_not_read_reports_is_refused_with_the_reason(browser, own_pool):
    await operators.add_operator(own_pool, "collector.one", PASSWORD, roles=["collector"])
    await operators.add_operator(own_pool, "analyst.a", PASSWORD, roles=["analyst"], creditors=["Lender A"])
    for name, why in (
        ("collector.one", "operator collector.one may not read the reports (roles: collector)"),
        ("analyst.a", "operator analyst.a may not read the reports: that takes an operator of all creditors"),
    ):
        await sign_in(browser, name, PASSWORD)
        for path in (REPORTS_PATH, CSV_PATH):
            refused = await browser.get(path, allow_redirects=False)
            assert (refused.status, await refused.text()) == (403, why)
        await browser.post(LOGOUT_PATH, allow_redirects=False)


async def test_weak_passwords_and_odd_names_are_refused_and_no_password_is_kept_in_the_clear(own_pool):
    with pytest.raises(operators.OperatorError, match="at least 12 characters"):
        await operators.add_operator(own_pool, "ops.lead", "short", roles=["analyst"])
    with pytest.raises(operators.OperatorError, match="unknown role\\(s\\) bookkeeper; standard has collector, "):
        await operators.add_operator(own_pool, "ops.lead", PASSWORD, roles=["bookkeeper"])
    with pytest.raises(operators.OperatorError, match="operator name 'Ops Lead'"):
        await operators.add_operator(own_pool, "Ops Lead", PASSWORD, roles=["analyst"])
    await operators.add_operator(own_pool, "ops.lead", PASSWORD, roles=["analyst"])
    stored = await own_pool.fetchval("SELECT password_hash FROM operators WHERE name = 'ops.lead'")
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    assert operators.password_matches(PASSWORD, stored) and not operators.password_matches(PASSWORD + "x", stored)


async def collections(database_url: str, *args: str) -> subprocess.CompletedProcess:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "starter.py",
        *args,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    return subprocess.CompletedProcess(args, process.returncode or 0, stdout.decode(), stderr.decode())


async def test_the_command_line_adds_an_operator_and_refuses_a_weak_password(database_url, pool):
    head = ("--role", "collections_head", "--all-creditors")
    weak = await collections(database_url, "operators", "add", "cli.operator", *head, "--password", "short")
    assert (weak.returncode, weak.stderr.strip()) == (2, "error: the password must have at least 12 characters")
    unscoped = await collections(
        database_url, "operators", "add", "cli.operator", "--role", "collector", "--password", PASSWORD
    )
    assert (unscoped.returncode, unscoped.stderr.strip()) == (
        2,
        "error: name the operator's creditors (--creditor, repeat) or give --all-creditors",
    )
    added = await collections(database_url, "operators", "add", "cli.operator", *head, "--password", PASSWORD)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "operator cli.operator (collections_head; every creditor) may sign in"
    assert await operators.sign_in(pool, "cli.operator", PASSWORD) is not None


async def test_one_command_writes_the_report_as_html_and_csv_and_for_reports(database_url, pool, tmp_path):
    backwards = await collections(database_url, "reports", "write", "--from", "2026-11-30", "--to", "2026-11-01")
    assert (backwards.returncode, backwards.stderr.strip()) == (2, "error: --to 2026-11-01 is before --from 2026-11-30")
    written = await collections(
        database_url, "reports", "write", "--from", "2026-01-01", "--to", "2026-12-31", "--out", str(tmp_path)
    )
    assert written.returncode == 0, written.stderr
    html_file, csv_file = (Path(line) for line in written.stdout.split())
    page = html_file.read_text(encoding="utf-8")
    for chart in ("roll_rates", "promise_outcomes", "cost_per_cure", "agency_yield"):
        assert f'<figure data-chart="{chart}"><svg' in page
    assert "<script" not in page and "http" not in page.split("<svg", 1)[0]  # self-contained
    assert csv_file.read_text(encoding="utf-8").startswith("section,slice,currency,measure,value\n")
    latest = await pool.fetchval("SELECT report_id FROM strategy_reports ORDER BY written_at DESC LIMIT 1")
    assert latest == html_file.stem


async def test_the_scheduled_job_writes_the_report_over_the_days_up_to_today(env, run_worker, pool):
    today = await server_today(env)
    async with run_worker() as queue:
        report_id = await env.client.execute_workflow(
            StrategyReportWorkflow.run, ReportAsked(period_days=30), id="strategy-report-test", task_queue=queue
        )
    row = await pool.fetchrow(
        "SELECT period_start, period_end, html FROM strategy_reports WHERE report_id = $1", report_id
    )
    assert (row["period_start"], row["period_end"]) == (today - timedelta(days=29), today)
    assert "<h1>Strategy report</h1>" in row["html"]
