"""PostgreSQL unreachable for a while, as when its host restarts: the worker's HTTP server reaches it through a relay
the test cuts. A partner is told to retry (503 with Retry-After, never a 500), and a STOP Twilio sends meanwhile is
answered, kept on disk, and acted on once the database is back."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest

from inbound import server as inbound_http
from inbound.spool import Spool
from infra import db
from infra.twilio_sms import INBOUND_SMS_PATH
from tests.conftest import make_account, server_today
from tests.relay import relay
from tests.test_partner_webhooks import FIELD_SECRET, post_signed
from tests.test_sms_webhooks import (
    CONFIRMATION,
    TWIML_EMPTY,
    eventually,
    mobile_of,
    post,
    signed,
    stack,
    state,
    text_from,
    twiml_confirming,
)

__all__ = ["stack"]  # the served worker the accounts run on, as in test_sms_webhooks


@pytest.fixture
async def network(database_url, tmp_path_factory):
    """A relay between the inbound server and PostgreSQL (the embedded one listens on a Unix socket, and so does the
    relay), and a pool that goes through it."""
    parts = urlsplit(database_url)
    query = parse_qs(parts.query)
    server_dir, port = query["host"][0], parts.port or 5432
    relay_dir = tmp_path_factory.mktemp("pg-relay")
    async with relay(f"{server_dir}/.s.PGSQL.{port}", listen_path=relay_dir / f".s.PGSQL.{port}") as between:
        through = parts._replace(query=urlencode({**{k: v[0] for k, v in query.items()}, "host": str(relay_dir)}))
        pool = await db.create_pool(urlunsplit(through), max_size=4)
        try:
            yield between, pool
        finally:
            pool.terminate()


async def test_while_postgresql_is_unreachable_partners_are_told_to_retry_and_a_stop_is_kept_until_it_is_back(
    env, stack, open_account, pool, settings, network, tmp_path
):
    between, cut_pool = network
    account = await open_account(make_account(due=await server_today(env)))
    await env.sleep(timedelta(hours=1))  # opened: its contact book is on file
    spool = tmp_path / "spool"
    served = replace(settings, inbound_http_port=0, inbound_spool_dir=spool, field_app_secret=FIELD_SECRET)
    async with inbound_http.serve(served, cut_pool, env.client, retry_every=0.1) as url:
        between.sever()
        report = {
            "report_id": "VR1",
            "finding": "not_found",
            "agent": "field-agent-3",
            "visited_at": (await env.get_current_time()).isoformat(),
        }
        status, answer = await post_signed(f"{url}/field/visits/V-1/report", report, FIELD_SECRET)
        assert (status, answer) == (503, "the database is unavailable; retry later")

        inbound = url + INBOUND_SMS_PATH
        stop = text_from(mobile_of(account), "STOP")
        assert await post(inbound, stop, signed(inbound, stop)) == (200, TWIML_EMPTY)
        await asyncio.sleep(0.5)  # rounds of retrying while it is still down
        assert len(list(spool.glob("*.json"))) == 1
        assert await pool.fetchval("SELECT count(*) FROM inbound_sms WHERE message_sid = $1", stop["MessageSid"]) == 0

        between.restore()
        await eventually(lambda: asyncio.sleep(0, result=not list(spool.glob("*.json"))))
    await env.sleep(timedelta(minutes=5))

    assert [c.value for c in (await state(env, account)).ceased_channels] == ["sms"]
    assert (
        await pool.fetchval("SELECT signalled FROM inbound_sms WHERE message_sid = $1", stop["MessageSid"])
        == f"{account.account_id}: cease_contact"
    )


async def test_an_opt_out_texted_while_postgresql_is_unreachable_is_confirmed_at_once_and_recorded_when_it_is_back(
    env, pool, settings, network, tmp_path
):
    between, cut_pool = network
    spool = tmp_path / "spool"
    served = replace(settings, inbound_http_port=0, inbound_spool_dir=spool)
    async with inbound_http.serve(served, cut_pool, env.client, retry_every=0.1) as url:
        between.sever()
        inbound = url + INBOUND_SMS_PATH
        opt_out = text_from("+8613900000002", "退订")
        # The spool sees the opt-out through, so the confirmation need not wait for the database.
        assert await post(inbound, opt_out, signed(inbound, opt_out)) == (200, twiml_confirming(CONFIRMATION.zh))

        between.restore()
        await eventually(lambda: asyncio.sleep(0, result=not list(spool.glob("*.json"))))
        assert await post(inbound, opt_out, signed(inbound, opt_out)) == (200, TWIML_EMPTY)

    assert (
        await pool.fetchval(
            "SELECT opt_out_confirmation FROM inbound_sms WHERE message_sid = $1", opt_out["MessageSid"]
        )
        == CONFIRMATION.zh
    )


def test_a_kept_request_is_written_whole_and_read_back_oldest_first(tmp_path):
    spool = Spool(tmp_path / "spool")
    first = spool.keep("sms_reply", {"MessageSid": "SM1", "Body": "STOP"})
    spool.keep("sms_status", {"MessageSid": "SM2", "MessageStatus": "failed"})
    (tmp_path / "spool" / ".crashed-while-writing.json.partial").write_text('{"route": "sms_re')
    waiting = spool.waiting()
    assert [(k.route, k.form["MessageSid"]) for k in waiting] == [("sms_reply", "SM1"), ("sms_status", "SM2")]
    assert waiting[0].path == first
    spool.handled(waiting[0])
    spool.set_aside(waiting[1])
    assert spool.waiting() == [] and [p.name for p in (tmp_path / "spool" / "failed").iterdir()] == [
        waiting[1].path.name
    ]
