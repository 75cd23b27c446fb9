"""The Temporal Web UI in a real browser (Debian's Chromium, headless) opens an account's sealed history through the
codec server, as ops do under `make run`: sign in at the worker's HTTP server, then in the UI's codec settings use
the browser's setting with cross-origin credentials, so the session cookie goes with each decode."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import async_playwright
from temporalio.testing import WorkflowEnvironment

from client import CollectionsClient
from client.setup import dev_server_flags
from inbound.codec import CODEC_PATH
from inbound.reports import LOGIN_PATH
from inbound.server import make_app
from infra import operators
from infra.temporal import local_binary
from tests.conftest import SEALED
from tests.test_local_stack import free_port
from tests.test_report_browser import CHROMIUM, FLAGS
from tests.test_sealing import MOBILE, NAME, PASSWORD, sealed_account

# What the UI's codec settings dialog keeps in the browser's local storage when ops choose "use my browser setting"
# and tick "Include cross-origin credentials".
BROWSER_CODEC_SETTINGS = """endpoint => {
    localStorage.setItem('overrideRemoteCodecConfiguration', 'true');
    localStorage.setItem('endpoint', JSON.stringify(endpoint));
    localStorage.setItem('includeCredentials', 'true');
}"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="make test installs Debian's chromium; run it through make")
async def test_the_web_ui_shows_a_signed_in_operator_the_debtor_the_history_seals(own_pool, settings):
    ui_port, http_port = free_port(), free_port()
    codec = f"http://localhost:{http_port}{CODEC_PATH}"  # by the UI's own host name, as make run points it
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=local_binary("temporal"),
        dev_server_extra_args=[*dev_server_flags(), "--ui-codec-endpoint", codec],
        data_converter=SEALED,
        ui=True,
        ui_port=ui_port,
    )
    ui = f"http://localhost:{ui_port}"
    served = replace(settings, public_base_url=f"http://localhost:{http_port}", temporal_ui_origin=ui)
    app = make_app(served, own_pool, env.client, SEALED.payload_codec)
    site = TestServer(app, host="127.0.0.1", port=http_port)
    await site.start_server()
    try:
        account = sealed_account((await env.get_current_time()).date())
        await CollectionsClient(env.client, "no-worker").open(account)  # its input alone carries the debtor
        run_id = (await env.client.get_workflow_handle(account.workflow_id).describe()).run_id
        await operators.add_operator(own_pool, "ops.lead", PASSWORD, roles=["support_engineer"])
        history = f"{ui}/namespaces/default/workflows/{account.workflow_id}/{run_id}/history"

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await page.goto(history)
            await page.wait_for_selector("text=AccountWorkflow")
            before_sign_in = await page.inner_text("body")
            await page.evaluate(BROWSER_CODEC_SETTINGS, codec)

            await page.goto(f"http://localhost:{http_port}{LOGIN_PATH}")
            await page.fill("input[name=name]", "ops.lead")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.goto(history)
            await page.wait_for_selector(f"text={NAME}", timeout=30_000)
            after_sign_in = await page.inner_text("body")
            await browser.close()
    finally:
        await site.close()
        await env.shutdown()

    assert NAME not in before_sign_in and MOBILE not in before_sign_in  # the codec server refused the anonymous page
    assert NAME in after_sign_in and MOBILE in after_sign_in
