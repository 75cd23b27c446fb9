"""Personal data sealed in Temporal: what the cluster stores of an account is ciphertext under a named key, keys
rotate without breaking what they sealed, and the codec server opens payloads for signed-in operators only."""

from __future__ import annotations

import base64
import json
import stat
from dataclasses import replace
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import History
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from client import CollectionsClient, inputs
from dunning.account import AccountDocument, ContactPoint
from inbound.codec import CODEC_PATH
from inbound.server import make_app
from infra import operators
from infra.sealing import SEALED as SEALED_ENCODING
from infra.sealing import KeyRing, KeyRingError, SealingCodec, new_ring, read_ring, write_ring
from tests.conftest import SEALED, TEST_KEY_RING, make_account, server_today
from tests.test_replay import REPLAYER

UI_ORIGIN = "http://localhost:8233"
PASSWORD = "correct horse battery"
# What an account's document says of its debtor, none of which may reach Temporal in the clear.
NAME = "Sealtest Zhang"
MOBILE = "+8613912345678"
NEW_MOBILE = "+8613987654321"
EMAIL = "sealtest.zhang@mail.example"
ADDRESS = "88 Cipher Lane, Pudong, Shanghai"
PERSONAL = (NAME, MOBILE, MOBILE.removeprefix("+86"), NEW_MOBILE, EMAIL, ADDRESS, "Cipher Lane")


def plain(*texts: str) -> list[Payload]:
    return pydantic_data_converter.payload_converter.to_payloads(list(texts))


async def test_a_sealed_payload_opens_to_what_was_sealed_and_reads_as_noise():
    codec = SealingCodec(read_ring(None, TEST_KEY_RING))
    [sealed] = await codec.encode(plain(NAME))
    assert sealed.metadata["encoding"] == SEALED_ENCODING and sealed.metadata["encryption-key-id"] == b"test-2"
    assert NAME.encode() not in sealed.SerializeToString()
    # A random nonce each time: the same name sealed twice gives two different payloads.
    assert (await codec.encode(plain(NAME)))[0].data != sealed.data
    assert await codec.decode([sealed]) == plain(NAME)


async def test_after_a_rotation_new_payloads_take_the_new_key_and_old_ones_still_open():
    before = new_ring("2026-01")
    old = await SealingCodec(before).encode(plain(NAME))
    after = before.rotated("2026-07")
    rotated = SealingCodec(after)
    new = await rotated.encode(plain(EMAIL))
    assert new[0].metadata["encryption-key-id"] == b"2026-07"
    assert await rotated.decode(old + new) == plain(NAME, EMAIL)
    with pytest.raises(KeyRingError, match="rotate to a new one before removing it"):
        after.without("2026-07")
    with pytest.raises(KeyRingError, match="already holds a key '2026-01'"):
        after.rotated("2026-01")
    # Once nothing sealed with the old key is needed, it can go; what it sealed then fails with its name.
    with pytest.raises(KeyRingError, match="sealed with key '2026-01', which this key ring does not hold"):
        await SealingCodec(after.without("2026-01")).decode(old)


async def test_an_altered_payload_or_a_replaced_key_fails_clearly_and_a_plain_payload_passes():
    ring = new_ring("k1")
    [sealed] = await SealingCodec(ring).encode(plain(NAME))
    altered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(KeyRingError, match="does not open with this ring's 'k1'"):
        await SealingCodec(ring).decode([altered])
    with pytest.raises(KeyRingError, match="does not open"):
        await SealingCodec(new_ring("k1")).decode([sealed])
    # Histories recorded before sealing hold plain payloads: they pass through unopened.
    assert await SealingCodec(ring).decode(plain(NAME)) == plain(NAME)


async def test_a_failure_message_and_its_stack_trace_are_sealed_too():
    failure = Failure()
    try:
        raise ApplicationError(f"Twilio refused {MOBILE}")
    except ApplicationError as err:
        await SEALED.encode_failure(err, failure)
    assert MOBILE.encode() not in failure.SerializeToString() and failure.message == "Encoded failure"
    assert MOBILE in str(await SEALED.decode_failure(failure))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "a key ring is JSON"),
        ('{"keys": {}}', "a key ring is JSON"),
        ('{"active": "k1", "keys": {"k1": "***"}}', "key 'k1' is not base64"),
        ('{"active": "k1", "keys": {"k1": "AAAA"}}', "key 'k1' has 3 bytes; AES-256 needs 32"),
        ('{"active": "k9", "keys": {"k1": "' + base64.b64encode(bytes(32)).decode() + '"}}', "'k9' is not among"),
        ('{"active": "a b", "keys": {"a b": "' + base64.b64encode(bytes(32)).decode() + '"}}', "key id 'a b'"),
    ],
)
def test_a_key_ring_file_with_a_mistake_is_refused_saying_what_is_wrong(tmp_path, text, problem):
    file = tmp_path / "ring.json"
    file.write_text(text)
    with pytest.raises(KeyRingError, match=problem):
        read_ring(None, file)


def test_a_key_ring_comes_from_the_variable_or_a_file_and_nothing_runs_without_one(tmp_path):
    ring = new_ring("k1").rotated("k2")
    from_variable = KeyRing.from_variable(ring.to_variable())
    assert (from_variable.active, dict(from_variable.keys)) == ("k2", dict(ring.keys))
    file = tmp_path / "keys" / "ring.json"
    write_ring(ring, file)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600  # the owner's alone
    assert read_ring(None, file) == ring
    with pytest.raises(KeyRingError, match="PAYLOAD_KEYS must list id=<base64 key> pairs"):
        KeyRing.from_variable("just-a-key")
    with pytest.raises(KeyRingError, match="no payload key ring: set PAYLOAD_KEYS_FILE"):
        read_ring(None, None)
    with pytest.raises(KeyRingError, match="No such file"):
        read_ring(None, tmp_path / "missing.json")


def sealed_account(today) -> AccountDocument:
    points = [
        ContactPoint(kind="mobile", value=MOBILE),
        ContactPoint(kind="email", value=EMAIL),
        ContactPoint(kind="address", value=ADDRESS),
    ]
    document = make_account(due=today - timedelta(days=3)).model_dump()
    return AccountDocument.model_validate({**document, "debtor_name": NAME, "contact_points": points})


async def raw_history(env, workflow_id: str) -> History:
    """The history as the cluster stores it: fetched over gRPC with no data converter at all."""
    history, token = History(), b""
    while True:
        page = await env.client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace="default", execution={"workflow_id": workflow_id}, next_page_token=token
            )
        )
        history.events.extend(page.history.events)
        if not (token := page.next_page_token):
            return history


@pytest.fixture
async def codec_server(own_pool, settings, env):
    app = make_app(
        replace(settings, public_base_url="http://127.0.0.1", temporal_ui_origin=UI_ORIGIN),
        own_pool,
        env.client,
        SEALED.payload_codec,
    )
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_what_temporal_stores_of_an_account_names_no_one_and_the_codec_server_opens_it_for_operators(
    env, run_worker, own_pool, codec_server
):
    today = await server_today(env)
    account = sealed_account(today)
    async with run_worker() as queue:
        collections = CollectionsClient(env.client, queue)
        await collections.open(account)
        await env.sleep(timedelta(days=2))
        update = inputs.parse_contact_update("U1", "mobile", NEW_MOBILE, "debtor", None, MOBILE, "called in")
        await collections.signal(account.account_id, "contact_updated", update)
        await env.sleep(timedelta(days=30))  # texts, e-mails, call tasks and letters to the old and new numbers

    history = await raw_history(env, account.workflow_id)
    steps = [e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")]
    assert len(steps) >= 5, "texts, e-mails, letters and call tasks went out"
    stored = history.SerializeToString()
    assert not [text for text in PERSONAL if text.encode() in stored]
    assert SEALED_ENCODING in stored and b"test-2" in stored
    await REPLAYER.replay_workflow(WorkflowHistory(account.workflow_id, list(history.events)))

    started = history.events[0].workflow_execution_started_event_attributes.input
    body = json_format.MessageToJson(started)
    refused = await codec_server.post(f"{CODEC_PATH}/decode", data=body, headers={"Content-Type": "application/json"})
    assert refused.status == 401

    await operators.add_operator(own_pool, "ops.lead", PASSWORD, roles=["support_engineer"])
    token = await operators.sign_in(own_pool, "ops.lead", PASSWORD)
    opened = await codec_server.post(
        f"{CODEC_PATH}/decode",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}", "Origin": UI_ORIGIN},
    )
    assert opened.status == 200 and opened.headers["Access-Control-Allow-Origin"] == UI_ORIGIN
    decoded = json_format.Parse(await opened.text(), Payloads())
    document = json.loads(decoded.payloads[0].data)["account"]
    assert (document["debtor_name"], document["contact_points"][0]["value"]) == (NAME, MOBILE)

    # The CLI's templated path ({namespace}) works the same; encoding seals what the UI sends.
    sealed = await codec_server.post(
        f"{CODEC_PATH}/default/encode",
        data=json_format.MessageToJson(Payloads(payloads=plain(NAME))),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    [payload] = json_format.Parse(await sealed.text(), Payloads()).payloads
    assert payload.metadata["encoding"] == SEALED_ENCODING and NAME.encode() not in payload.data


async def test_only_the_web_ui_page_may_call_the_codec_server_from_a_browser(codec_server):
    asked = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}
    allowed = await codec_server.options(f"{CODEC_PATH}/decode", headers={"Origin": UI_ORIGIN, **asked})
    assert allowed.headers["Access-Control-Allow-Origin"] == UI_ORIGIN
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert "x-namespace" in allowed.headers["Access-Control-Allow-Headers"]
    other = await codec_server.options(f"{CODEC_PATH}/decode", headers={"Origin": "https://evil.example", **asked})
    assert "Access-Control-Allow-Origin" not in other.headers


async def test_the_codec_server_says_what_is_wrong_with_a_request(codec_server, own_pool):
    await operators.add_operator(own_pool, "ops.lead", PASSWORD, roles=["support_engineer"])
    token = await operators.sign_in(own_pool, "ops.lead", PASSWORD)
    auth = {"Authorization": f"Bearer {token}"}
    wrong_type = await codec_server.post(
        f"{CODEC_PATH}/decode", data="x", headers={**auth, "Content-Type": "text/plain"}
    )
    assert wrong_type.status == 415
    garbled = await codec_server.post(
        f"{CODEC_PATH}/decode", data='{"payloads": 3}', headers={**auth, "Content-Type": "application/json"}
    )
    assert garbled.status == 400 and "not a list of payloads" in (await garbled.json())["error"]
    [foreign] = await SealingCodec(new_ring("someone-else")).encode(plain(NAME))
    unknown = await codec_server.post(
        f"{CODEC_PATH}/decode",
        data=json_format.MessageToJson(Payloads(payloads=[foreign])),
        headers={**auth, "Content-Type": "application/json"},
    )
    assert unknown.status == 422 and "key 'someone-else'" in (await unknown.json())["error"]


async def test_the_codec_server_refuses_an_operator_whose_roles_do_not_open_payloads(codec_server, own_pool):
    """Opening payloads is the support engineer's role, and only for one who sees every creditor: a payload may be
    any creditor's account."""
    body = json_format.MessageToJson(Payloads(payloads=plain(NAME)))
    await operators.add_operator(own_pool, "collector.one", PASSWORD, roles=["collector"])
    await operators.add_operator(own_pool, "support.one", PASSWORD, roles=["support_engineer"], creditors=["Lender A"])
    for name, why in (
        ("collector.one", "operator collector.one may not open sealed payloads (roles: collector)"),
        ("support.one", "operator support.one may not open sealed payloads: that takes an operator of all creditors"),
    ):
        token = await operators.sign_in(own_pool, name, PASSWORD)
        refused = await codec_server.post(
            f"{CODEC_PATH}/decode",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        assert (refused.status, (await refused.json())["error"]) == (403, why)
