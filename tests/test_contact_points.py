"""Phone numbers and e-mail addresses are checked by the libraries made for them where billing's input enters: a
national number is read in the account's country into E.164, a number its country does not use is refused naming the
field, a known landline is kept with its line type and never texted. Stored documents are never checked again."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from client import CollectionsClient, InputError, inputs
from dunning.account import AccountDocument, ContactPoint
from dunning.channels import Channel
from dunning.contact import contact_points_for
from dunning.contact_points import checked_document, country_of_zone
from dunning.state import AccountRun
from tests.conftest import make_account, server_today
from tests.test_promises import sleep_until
from workflows.account import AccountWorkflow


def document(*points: ContactPoint, time_zone: str = "Asia/Shanghai", **fields) -> AccountDocument:
    return AccountDocument(
        account_id="LOAN-0001",
        debtor_name="Li Lei",
        contact_points=list(points),
        time_zone=time_zone,
        currency="CNY",
        amount_due_minor=250_050,
        due_date=date(2026, 1, 15),
        policy="consumer_loan",
        **fields,
    )


def opened(*points: ContactPoint, time_zone: str = "Asia/Shanghai", **fields) -> AccountDocument:
    """The document as the billing edge keeps it."""
    return inputs.check_contact_points(document(*points, time_zone=time_zone, **fields))


def refusal(*points: ContactPoint, time_zone: str = "Asia/Shanghai", **fields) -> str:
    with pytest.raises(InputError) as caught:
        opened(*points, time_zone=time_zone, **fields)
    return str(caught.value)


def mobile(value: str, **fields) -> ContactPoint:
    return ContactPoint(kind="mobile", value=value, **fields)


# --- phones ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "time_zone", "e164", "line_type"),
    [
        ("138 0013 8000", "Asia/Shanghai", "+8613800138000", "mobile"),
        ("(021) 6123-4567", "Asia/Shanghai", "+862161234567", "fixed_line"),
        ("(212) 555-0100", "America/New_York", "+12125550100", "fixed_line_or_mobile"),
        ("+1 212 555 0100", "Asia/Shanghai", "+12125550100", "fixed_line_or_mobile"),  # a foreign number, as written
    ],
)
def test_a_number_in_national_format_is_read_in_the_accounts_country_into_e164(written, time_zone, e164, line_type):
    (point,) = opened(mobile(written), time_zone=time_zone).contact_points
    assert (point.value, point.line_type) == (e164, line_type)


def test_the_country_defaults_from_the_time_zone_and_one_named_is_kept():
    assert opened(mobile("+8613800138000")).country == "CN"
    assert opened(mobile("(212) 555-0100"), time_zone="Pacific/Honolulu").country == "US"
    assert opened(mobile("(416) 555-0100"), time_zone="America/New_York", country="CA").country == "CA"
    assert country_of_zone("Asia/Urumqi") == country_of_zone("PRC") == "CN"  # zones of tzdata, and their old names


def test_a_number_not_valid_for_its_country_is_refused_naming_the_field():
    address = ContactPoint(kind="address", value="1 Test Road")
    message = refusal(address, address, mobile("(212) 555-01"), time_zone="America/New_York")
    assert message == "account document: contact_points.2.value: not a valid phone number for US"
    assert "555" not in message  # the number itself is personal data


def test_every_bad_point_is_named_in_one_line():
    message = refusal(mobile("138 0013 800"), ContactPoint(kind="home_phone", value="call me"))
    assert message == (
        "account document: contact_points.0.value: not a valid phone number for CN; "
        "contact_points.1.value: not a phone number"
    )


def test_a_national_number_needs_a_country():
    message = refusal(mobile("138 0013 8000"), time_zone="UTC")
    assert "contact_points.0.value: a national number, and the account's country is not known" in message
    assert opened(mobile("+8613800138000"), time_zone="UTC").country is None  # E.164 needs none


def test_an_unknown_country_is_refused():
    assert refusal(mobile("+8613800138000"), country="XX") == (
        "account document: country: unknown country 'XX' (an ISO 3166-1 alpha-2 code such as CN)"
    )


def test_an_account_id_that_is_the_debtors_number_written_nationally_is_refused():
    with pytest.raises(InputError, match="account_id repeats a phone number of the account"):
        inputs.check_contact_points(document(mobile("138 0013 8000")).model_copy(update={"account_id": "13800138000"}))


def test_a_known_landline_is_never_texted_and_a_number_that_may_be_either_is_tried():
    landline, real = mobile("021 6123 4567"), mobile("139 0000 0001")
    assert [p.value for p in sms_points(landline, real)] == ["+8613900000001"]  # the first that takes texts
    # Only a landline: it is handed on, for the text step to skip with that reason (activities/messages.py).
    (only,) = sms_points(landline)
    assert only.line_type == "fixed_line"
    (us,) = opened(mobile("(212) 555-0100"), time_zone="America/New_York").contact_points
    assert contact_points_for([us], Channel.sms, None) == [us]
    # Calls still dial it.
    assert [p.value for p in contact_points_for(opened(landline).contact_points, Channel.call, None)] == [
        "+862161234567"
    ]


def sms_points(*points: ContactPoint) -> list[ContactPoint]:
    return contact_points_for(opened(*points).contact_points, Channel.sms, None)


# --- e-mail ---------------------------------------------------------------------------------------------------


def test_an_email_address_is_kept_in_its_normal_form():
    (point,) = opened(ContactPoint(kind="email", value="Li.Lei@Example.COM")).contact_points
    assert point.value == "Li.Lei@example.com"


@pytest.mark.parametrize("value", ["li@@example.com", "li@localhost", "li@example"])
def test_a_bad_email_address_is_refused_naming_the_field(value):
    message = refusal(mobile("+8613800138000"), ContactPoint(kind="email", value=value))
    assert message.startswith("account document: contact_points.1.value: not a valid e-mail address: "), message


# --- stored documents -----------------------------------------------------------------------------------------

OLD_RUN = """{"account": {"account_id": "LOAN-0001", "debtor_name": "Li Lei", "contact_points": [
    {"kind": "mobile", "value": "+15550000001", "owner": "debtor", "relation": null, "knows_of_debt": false},
    {"kind": "email", "value": "Li@Example.COM", "owner": "debtor", "relation": null, "knows_of_debt": false}],
  "time_zone": "Asia/Shanghai", "currency": "CNY", "amount_due_minor": 250050, "due_date": "2026-01-15",
  "segment": "standard", "policy": "consumer_loan", "product": null, "locale": "en", "creditor": "Creditor"}}"""


def test_a_stored_document_from_before_decodes_as_it_was_even_where_the_rules_now_refuse_it():
    run = AccountRun.model_validate_json(OLD_RUN)
    assert run.account.country is None
    assert [(p.value, p.line_type) for p in run.account.contact_points] == [
        ("+15550000001", None),  # not a number the US plan uses: refused at the edge today, kept as stored
        ("Li@Example.COM", None),
    ]
    with pytest.raises(ValueError, match="not a valid phone number for US"):
        checked_document(run.account)


# --- the client: nothing is written when a point is refused ------------------------------------------------


async def test_open_refuses_a_bad_number_and_starts_nothing(env):
    collections = CollectionsClient(env.client, "nowhere")
    good = make_account(due=date(2026, 1, 15))
    bad = good.model_copy(update={"account_id": "LOAN-BAD", "contact_points": [mobile("138 0013 800")]})
    with pytest.raises(InputError, match=r"^account LOAN-BAD: contact_points.0.value: not a valid phone number for CN"):
        await collections.open(bad)
    with pytest.raises(InputError, match="account LOAN-BAD: contact_points.0.value"):
        await collections.open_many([good, bad])
    for account_id in (good.account_id, bad.account_id):
        with pytest.raises(InputError, match="unknown account"):
            await collections.status(account_id)


async def test_open_keeps_the_checked_document(env, run_worker, pool):
    account = make_account(due=await server_today(env))
    account = account.model_copy(update={"contact_points": [*account.contact_points, mobile("021 6123 4567")]})
    async with run_worker() as queue:
        kept = await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(minutes=1))
    assert kept.country == "CN" and kept.contact_points[-1].value == "+862161234567"
    rows = await pool.fetch(
        "SELECT kind, line_type FROM contact_points WHERE account_id = $1 AND owner = 'debtor' ORDER BY kind, value",
        account.account_id,
    )
    assert [tuple(r) for r in rows] == [
        ("address", None),
        ("email", None),
        ("home_phone", "fixed_line"),
        ("mobile", "mobile"),
        ("mobile", "fixed_line"),
    ]


async def test_a_contact_update_is_read_in_the_accounts_country_and_a_bad_one_writes_nothing(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(due=today)
    async with run_worker() as queue:
        collections = CollectionsClient(env.client, queue)
        await collections.open(account)
        await sleep_until(env, today + timedelta(days=2), time(12))
        found = inputs.parse_contact_update("U1", "work_phone", "021 6188 0001", "debtor", None, None, "tracing")
        sent = await collections.update_contact(account.account_id, found)
        refused = []
        for update_id, kind, value in [("U2", "mobile", "138 0013 800"), ("U3", "email", "li@@example.com")]:
            with pytest.raises(InputError) as caught:  # the address is refused as typed, the number in CN
                typed = inputs.parse_contact_update(update_id, kind, value, "debtor", None, None, "tracing")
                await collections.update_contact(account.account_id, typed)
            refused.append(str(caught.value))
        old_mobile = account.points("mobile")[0].value
        national = old_mobile.removeprefix("+86")  # the one it corrects, typed as people write it
        fix = inputs.parse_contact_update("U4", "mobile", "139 0000 0002", "debtor", None, national, "debtor")
        corrected = await collections.update_contact(account.account_id, fix)
        await env.sleep(timedelta(minutes=5))
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    assert (sent.point.value, sent.point.line_type) == ("+862161880001", "fixed_line")
    assert (corrected.point.value, corrected.replaces) == ("+8613900000002", old_mobile)
    assert refused[0] == "contact update: point.value: not a valid phone number for CN"
    assert refused[1].startswith("contact update: point.value: not a valid e-mail address: ")
    assert view.rejected_signals == []
    events = await pool.fetch("SELECT event_id FROM contact_events WHERE account_id = $1", account.account_id)
    assert sorted(e["event_id"] for e in events) == ["U1", "U4"]
    assert (
        await pool.fetchval(
            "SELECT status FROM contact_points WHERE account_id = $1 AND value = $2", account.account_id, old_mobile
        )
        == "replaced"
    )
    assert (
        await pool.fetchval(
            "SELECT line_type FROM contact_points WHERE account_id = $1 AND value = '+862161880001'", account.account_id
        )
        == "fixed_line"
    )
