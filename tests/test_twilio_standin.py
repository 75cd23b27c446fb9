"""The real twilio client, through infra.twilio_sms, against the loopback Twilio stand-in."""

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from email.utils import parsedate_to_datetime

import aiohttp
import pytest
from aiohttp import web
from twilio.request_validator import RequestValidator

from infra.config import Settings
from infra.delivery import NotSent, OutcomeUnknown, Rejected
from infra.twilio_sms import make_client, send_sms
from standins.twilio_api import UNSUBSCRIBED_REPLY, TwilioStandIn

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "stand-in-auth-token"
FROM = "+15005550006"
TO = "+15558675310"


@pytest.fixture
async def standin():
    standin = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN, delivery_delay=0.01)
    await standin.start()
    yield standin
    await standin.stop()


def settings_for(base_url: str, auth_token: str = AUTH_TOKEN) -> Settings:
    return dataclasses.replace(
        Settings.from_env(),
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=auth_token,
        twilio_from_number=FROM,
        twilio_api_base=base_url,
    )


@pytest.fixture
async def client(standin):
    client = make_client(settings_for(standin.base_url))
    yield client
    await client.http_client.close()


@pytest.fixture
async def receiver():
    """A status-callback endpoint on loopback: yields (url, queue of (url, form, headers))."""
    received: asyncio.Queue = asyncio.Queue()

    async def handle(request: web.Request) -> web.Response:
        await received.put((str(request.url), dict(await request.post()), request.headers))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/sms-status", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/sms-status", received
    await runner.cleanup()


async def test_accepted_message_is_stored_fetchable_and_listed(standin, client):
    sent = await send_sms(client, to=TO, from_=FROM, body="Your balance is due.")

    assert sent.sid.startswith("SM") and len(sent.sid) == 34
    assert (sent.status, sent.num_segments) == ("queued", 1)
    assert [(m["sid"], m["to"], m["from"], m["body"]) for m in standin.messages] == [
        (sent.sid, TO, FROM, "Your balance is due.")
    ]
    fetched = await client.messages(sent.sid).fetch_async()
    assert (fetched.to, fetched.from_, fetched.direction, fetched.date_created.tzinfo is not None) == (
        TO,
        FROM,
        "outbound-api",
        True,
    )
    assert [m.sid for m in await client.messages.list_async(to=TO)] == [sent.sid]
    assert await client.messages.list_async(to="+15550000000") == []


async def test_list_pages_through_next_page_uri(standin, client):
    sids = [(await send_sms(client, to=TO, from_=FROM, body=f"notice {i}")).sid for i in range(5)]

    listed = await client.messages.list_async(from_=FROM, page_size=2)

    assert [m.sid for m in listed] == sids[::-1]  # newest first


async def test_list_filters_on_date_sent(standin, client):
    sent = await send_sms(client, to=TO, from_=FROM, body="hi")
    await asyncio.sleep(0.05)  # let it reach "sent", which sets date_sent
    today = parsedate_to_datetime(standin.messages[0]["date_sent"]).date()

    assert [m.sid for m in await client.messages.list_async(date_sent=today)] == [sent.sid]
    assert [m.sid for m in await client.messages.list_async(date_sent_after=today)] == [sent.sid]
    assert await client.messages.list_async(date_sent_before=today - timedelta(days=1)) == []


async def test_segments_follow_sms_encoding(client):
    assert (await send_sms(client, to=TO, from_=FROM, body="x" * 161)).num_segments == 2
    assert (await send_sms(client, to=TO, from_=FROM, body="Zahlung fällig ✓" * 5)).num_segments == 2


async def test_bad_credentials_hold_the_send_until_they_are_fixed(standin):
    # A credentials problem is ours, not the debtor's: retrying (not giving up the step) keeps every text.
    client = make_client(settings_for(standin.base_url, auth_token="wrong"))
    try:
        with pytest.raises(NotSent, match="401"):
            await send_sms(client, to=TO, from_=FROM, body="hi")
    finally:
        await client.http_client.close()

    assert standin.messages == []


@pytest.mark.parametrize(
    ("to", "body", "code"),
    [("555-1234", "hi", 21211), ("", "hi", 21604), (TO, "", 21602)],
)
async def test_malformed_requests_are_rejected(standin, client, to, body, code):
    with pytest.raises(Rejected) as rejected:
        await send_sms(client, to=to, from_=FROM, body=body)

    assert rejected.value.code == code
    assert standin.messages == []


async def test_opted_out_and_landline_numbers_are_rejected(standin, client):
    standin.opt_out("+15550000001")
    await standin.inbound_sms("+15550000002", " stop ", to=FROM)
    standin.mark_not_mobile("+15550000003")

    codes = []
    for to in ("+15550000001", "+15550000002", "+15550000003"):
        with pytest.raises(Rejected) as rejected:
            await send_sms(client, to=to, from_=FROM, body="hi")
        codes.append(rejected.value.code)

    assert codes == [21610, 21610, 21614]


@pytest.mark.parametrize("keyword", ["REVOKE", "optout"])
async def test_the_revocation_keywords_twilio_added_in_2025_opt_out_as_stop_does(standin, client, keyword):
    await standin.inbound_sms(TO, keyword, to=FROM)

    with pytest.raises(Rejected) as rejected:
        await send_sms(client, to=TO, from_=FROM, body="hi")
    assert rejected.value.code == 21610


async def test_start_keyword_opts_back_in(standin, client):
    await standin.inbound_sms(TO, "STOP", to=FROM)
    await standin.inbound_sms(TO, "Start", to=FROM)

    assert (await send_sms(client, to=TO, from_=FROM, body="hi")).status == "queued"


async def test_rejection_message_does_not_carry_the_number(client):
    with pytest.raises(Rejected) as rejected:
        await send_sms(client, to="+0123456789", from_=FROM, body="hi")

    assert rejected.value.code == 21211
    assert "123456789" not in str(rejected.value)


@pytest.mark.parametrize("status", [503, 429])
async def test_answers_that_prove_twilio_did_not_take_the_message_allow_a_resend(standin, client, status):
    standin.fail_next(2, status=status)

    for _ in range(2):
        with pytest.raises(NotSent):
            await send_sms(client, to=TO, from_=FROM, body="hi")

    assert (await send_sms(client, to=TO, from_=FROM, body="hi")).status == "queued"
    assert len(standin.messages) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_other_server_errors_leave_the_outcome_unknown(standin, client, status):
    standin.fail_next(1, status=status)
    with pytest.raises(OutcomeUnknown):
        await send_sms(client, to=TO, from_=FROM, body="hi")


async def test_throttling_speaks_twilio_error_shape_with_retry_after(standin):
    standin.fail_next(status=429, retry_after=7)
    auth = aiohttp.encode_basic_auth(ACCOUNT_SID, AUTH_TOKEN)

    async with aiohttp.ClientSession() as session:
        url = f"{standin.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        async with session.post(url, data={"To": TO, "From": FROM, "Body": "hi"}, headers={"Authorization": auth}) as r:
            assert (r.status, r.headers["Retry-After"]) == (429, "7")
            assert await r.json() == {
                "code": 20429,
                "message": "Too Many Requests",
                "more_info": "https://www.twilio.com/docs/errors/20429",
                "status": 429,
            }


async def test_unreachable_api_means_not_sent():
    dead = TwilioStandIn(ACCOUNT_SID, AUTH_TOKEN)
    base_url = await dead.start()
    await dead.stop()
    client = make_client(settings_for(base_url))
    try:
        with pytest.raises(NotSent):
            await send_sms(client, to=TO, from_=FROM, body="hi")
    finally:
        await client.http_client.close()


async def test_status_callbacks_are_signed_like_twilio(client, receiver):
    url, received = receiver

    sent = await send_sms(client, to=TO, from_=FROM, body="hi", status_callback=url)

    validator = RequestValidator(AUTH_TOKEN)
    statuses = []
    for _ in range(2):
        got_url, form, headers = await asyncio.wait_for(received.get(), timeout=5)
        assert validator.validate(got_url, form, headers["X-Twilio-Signature"])
        assert not validator.validate(got_url, {**form, "MessageStatus": "read"}, headers["X-Twilio-Signature"])
        assert (form["MessageSid"], form["AccountSid"], form["To"], form["From"]) == (sent.sid, ACCOUNT_SID, TO, FROM)
        statuses.append(form["MessageStatus"])
    assert statuses == ["sent", "delivered"]
    assert (await client.messages(sent.sid).fetch_async()).status == "delivered"


async def test_undelivered_callback_carries_error_code(standin, client, receiver):
    url, received = receiver
    standin.mark_undeliverable(TO)

    await send_sms(client, to=TO, from_=FROM, body="hi", status_callback=url)

    forms = [(await asyncio.wait_for(received.get(), timeout=5))[1] for _ in range(2)]
    assert [(f["MessageStatus"], f.get("ErrorCode")) for f in forms] == [("sent", None), ("undelivered", "30003")]


async def test_unreachable_callback_url_does_not_break_the_stand_in(standin, client):
    await send_sms(client, to=TO, from_=FROM, body="hi", status_callback="http://127.0.0.1:9/nowhere")
    await asyncio.sleep(0.1)

    sent = await send_sms(client, to=TO, from_=FROM, body="again")
    assert (await client.messages(sent.sid).fetch_async()).status in ("queued", "sent", "delivered")


async def test_a_handsets_text_is_posted_signed_to_the_numbers_sms_url(standin, client, receiver):
    url, received = receiver
    standin.sms_url = url
    await send_sms(client, to=TO, from_=FROM, body="Your balance is due.")

    assert await standin.inbound_sms(TO, "STOP") == 204

    got_url, form, headers = await asyncio.wait_for(received.get(), timeout=5)
    assert RequestValidator(AUTH_TOKEN).validate(got_url, form, headers["X-Twilio-Signature"])
    assert form["MessageSid"].startswith("SM") and len(form["MessageSid"]) == 34
    assert {k: v for k, v in form.items() if k != "MessageSid" and not k.startswith("Sms")} == {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "From": TO,
        "To": FROM,
        "Body": "STOP",
        "NumMedia": "0",
        "NumSegments": "1",
    }
    assert form["SmsStatus"] == "received"
    with pytest.raises(Rejected) as rejected:  # Twilio itself honours the STOP
        await send_sms(client, to=TO, from_=FROM, body="hi")
    assert rejected.value.code == 21610


@asynccontextmanager
async def answering(twiml: str) -> AsyncIterator[str]:
    """An incoming-message endpoint on loopback that answers every text with `twiml`; yields its URL."""

    async def handle(request: web.Request) -> web.Response:
        return web.Response(text=twiml, content_type="text/xml")

    app = web.Application()
    app.router.add_post("/sms", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/sms"
    finally:
        await runner.cleanup()


def received_by(standin: TwilioStandIn, handset: str) -> list[tuple[str, str, str]]:
    """(from, body, direction) of each text Twilio took for the handset, oldest first."""
    return [(m["from"], m["body"], m["direction"]) for m in standin.messages if m["to"] == handset]


CONFIRMING = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>You are unsubscribed.</Message></Response>'


async def test_an_opt_out_keyword_is_answered_with_twilios_own_confirmation(standin):
    await standin.inbound_sms(TO, " Stop ", to=FROM)  # no sms_url: Twilio confirms whatever the webhook does

    assert received_by(standin, TO) == [(FROM, UNSUBSCRIBED_REPLY, "outbound-reply")]


async def test_each_message_of_the_twiml_answer_is_texted_to_the_handset_as_a_send_is(standin, client):
    twiml = (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Message>No fees &amp; no calls</Message>'
        "<Message><Body>您已退订</Body></Message></Response>"
    )
    async with answering(twiml) as url:
        standin.sms_url = url
        assert await standin.inbound_sms(TO, "opt out", to=FROM) == 200

    assert received_by(standin, TO) == [
        (FROM, "No fees & no calls", "outbound-reply"),
        (FROM, "您已退订", "outbound-reply"),
    ]
    for message in standin.messages:
        assert message["sid"].startswith("SM") and len(message["sid"]) == 34
        for _ in range(500):  # queued, then sent, then delivered, as any text Twilio takes
            if message["status"] == "delivered":
                break
            await asyncio.sleep(0.01)
        fetched = await client.messages(message["sid"]).fetch_async()
        assert (fetched.status, fetched.direction, fetched.from_, fetched.to) == (
            "delivered",
            "outbound-reply",
            FROM,
            TO,
        )


async def test_a_twiml_reply_to_a_handset_that_opted_out_is_refused_as_a_send_would_be(standin):
    async with answering(CONFIRMING) as url:
        standin.sms_url = url
        assert await standin.inbound_sms(TO, "STOP", to=FROM) == 200

    # Twilio's own confirmation only: ours meets error 21610, and Twilio keeps no message for it.
    assert received_by(standin, TO) == [(FROM, UNSUBSCRIBED_REPLY, "outbound-reply")]


async def test_an_answer_that_is_not_twiml_texts_nothing(standin):
    async with answering("thanks!") as url:
        standin.sms_url = url
        assert await standin.inbound_sms(TO, "hello", to=FROM) == 200

    assert standin.messages == []
