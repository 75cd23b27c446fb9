"""The report page in a real browser: Debian's Chromium, headless, signs in at /reports as an operator would and
finds every chart drawn. RECORD_SCREENSHOT=1 writes the page to docs/strategy_report.png for the README."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright

from dunning.measures import Period
from inbound.server import make_app
from infra import db, operators
from infra.strategy_report import write_report
from tests import measures_portfolio

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "strategy_report.png"
# As root on a closed network: no sandbox, and none of the browser's own calls home.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CHARTS = ("cure_curves_0", "roll_rates", "promise_outcomes", "cost_per_cure", "agency_yield")


@pytest.fixture
async def reports_site(database_url, settings):
    """The worker's HTTP server over a database holding the hand-built portfolio of tests/measures_portfolio.py and
    its report, with one operator."""
    name = f"collections_report_{uuid.uuid4().hex[:8]}"
    pool = await db.create_pool(await db.create_database(database_url, name))
    await db.migrate(pool)
    await measures_portfolio.build(pool)
    await write_report(pool, Period(first=date(2026, 3, 1), last=date(2026, 5, 31)), datetime.now(UTC))
    await operators.add_operator(pool, "head.of.collections", "correct horse battery", roles=["collections_head"])
    app = make_app(replace(settings, public_base_url="http://127.0.0.1"), pool, temporal=None)  # type: ignore[arg-type]
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url(""))
    await server.close()
    await pool.close()
    await db.drop_database(database_url, name)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="make test installs Debian's chromium; run it through make")
async def test_an_operator_signs_in_and_every_chart_is_drawn(reports_site, tmp_path):
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(f"{reports_site}/reports")
        assert page.url.endswith("/reports/login")  # sent to sign in first
        await page.fill("input[name=name]", "head.of.collections")
        await page.fill("input[name=password]", "correct horse battery")
        await page.click("button[type=submit]")
        await page.wait_for_selector("h1:text('Strategy report')")
        drawn = {}
        for chart in CHARTS:
            svg = page.locator(f"figure[data-chart={chart}] svg")
            box = await svg.bounding_box()
            drawn[chart] = (
                box is not None and box["width"] > 300 and box["height"] > 100,
                await svg.locator("path").count(),
            )
        verdicts = await page.locator("td span.small").all_inner_texts()
        shot = SCREENSHOT if os.environ.get("RECORD_SCREENSHOT") else tmp_path / "report.png"
        await page.screenshot(path=str(shot), full_page=True)
        await browser.close()
    # Each chart is laid out at a readable size and has its lines, bars or cells drawn.
    assert {chart: shown for chart, (shown, _) in drawn.items()} == dict.fromkeys(CHARTS, True)
    assert all(paths > 5 for _, paths in drawn.values()), drawn
    # Seven accounts cannot tell champion from challenger, and the page says so.
    assert verdicts and all(v.startswith("too small to tell") for v in verdicts)
