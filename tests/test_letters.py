"""Letters as documents: rendered in English and Chinese, batched for the print vendor, and the vendor's delivery
evidence driving the account."""

from __future__ import annotations

import asyncio
import csv
import hashlib
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.print_mail import MANIFEST, LetterBatchRequest, PrintMailActivities
from client import CollectionsClient, inputs
from dunning.channels import Channel
from dunning.ledger import InvoiceBalance
from dunning.letters import LetterDelivery, LetterFacts, letter_ref
from dunning.policy import load_policy
from infra.config import LETTERHEADS
from infra.letters import LetterError, LetterRenderer, load_letterheads
from tests.conftest import TEST_LETTERHEADS, channel_activities, make_account, server_today, step_order
from worker import build_worker
from workflows.account import AccountWorkflow
from workflows.letter_batch import LetterBatchWorkflow

POLICIES = ("consumer_loan", "us_consumer_loan", "b2b_receivables", "property_fees")


def facts(template: str = "collection_letter_first", locale: str = "zh", **changes) -> LetterFacts:
    fields = dict(
        letter_ref="LTESTREF0001",
        template=template,
        letter_kind="first_collection",
        locale=locale,
        delivery="ordinary",
        letter_date=date(2026, 11, 23),
        creditor="Demo Consumer Finance",
        debtor_name="王芳",
        address="上海市徐汇区测试路1号",
        account_id="DEMO1000",
        currency="CNY",
        original_minor=250_000,
        paid_minor=50_000,
        late_fee_minor=12_000,
        outstanding_minor=212_000,
        due_date=date(2026, 10, 14),
        dpd=40,
        next_stage_dpd=60,
        late_fee_rate_per_day=Decimal("0.001"),
        validation_period_ends=date(2026, 12, 30),
    )
    return LetterFacts(**{**fields, **changes})


def text_of(pdf: bytes) -> str:
    document = pdfium.PdfDocument(pdf)
    return "".join(page.get_textpage().get_text_range() for page in document)


@pytest.fixture(scope="module")
def renderer() -> LetterRenderer:
    return LetterRenderer.load(LETTERHEADS)


def policy_letters() -> set[str]:
    templates = set()
    for name in POLICIES:
        policy = load_policy(name)
        actions = [*policy.steps, *([policy.validation_notice] if policy.validation_notice else [])]
        templates |= {a.template for a in actions if a.channel is Channel.letter}
    return templates


@pytest.mark.parametrize("template", sorted(policy_letters()))
@pytest.mark.parametrize("locale", ["en", "zh"])
def test_every_letter_a_policy_sends_renders_in_english_and_chinese(renderer, template, locale):
    letter = renderer.render(facts(template, locale, letter_kind=template))
    text = text_of(letter.pdf)
    # The reader sees who it is to, from whom, about what, and how much.
    for stated in ("王芳", "上海市徐汇区测试路1号", "LTESTREF0001", "DEMO1000", "2,120.00 CNY"):
        assert stated in text.replace("\r\n", "").replace("\n", "")
    assert ("演示消费金融" if locale == "zh" else "Demo Consumer Finance") in text
    assert letter.sha256 == hashlib.sha256(letter.pdf).hexdigest()


@pytest.mark.parametrize(
    ("template", "locale", "rows"),
    [
        (
            "collection_letter_first",
            "en",
            ("Charges and interest billed since", "Credit notes and write-downs", "Waived by agreement"),
        ),
        ("property_fee_notice", "zh", ("此后新增的费用与利息", "红字发票与核减", "经协商减免")),
        ("b2b_statement_of_account", "en", ("Charges and interest billed since", "Waived by agreement")),
    ],
)
def test_the_statement_shows_billings_changes_and_what_was_waived(renderer, template, locale, rows):
    changed = facts(template, locale, charged_minor=5_000, credited_minor=1_000, waived_minor=3_000)
    html = renderer.html(changed)
    for row in rows:
        assert row in html
    assert "- 30.00" in html  # waived, taken off
    plain = renderer.html(facts(template, locale))
    assert not any(row in plain for row in rows)  # none without them


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_a_b2b_statement_lists_each_invoice_with_what_it_still_owes(renderer, locale):
    invoices = [
        InvoiceBalance(invoice_id="INV-2026-0917", due_date=date(2026, 10, 14), billed_minor=150_000, open_minor=0),
        InvoiceBalance(invoice_id="INV-2026-1011", due_date=date(2026, 11, 9), billed_minor=100_000, open_minor=62_000),
    ]
    statement = facts("b2b_statement_of_account", locale, letter_kind="statement_of_account", invoices=invoices)
    text = text_of(renderer.render(statement).pdf).replace("\r\n", "").replace("\n", "")
    for shown in ("INV-2026-0917", "INV-2026-1011", "1,500.00", "1,000.00", "620.00"):
        assert shown in text
    assert "INV-" not in renderer.html(facts("b2b_statement_of_account", locale))  # billed as one amount: no list


def test_a_name_beyond_the_common_characters_is_printed_all_the_same(renderer):
    rare = facts(debtor_name="王䶮")  # 䶮 is not in GB 2312: the letter takes the full font
    assert "王䶮" in text_of(renderer.render(rare).pdf)


def test_the_same_facts_make_the_same_document(renderer):
    first, again = renderer.render(facts()), renderer.render(facts())
    assert first.pdf == again.pdf and first.sha256 == again.sha256
    assert renderer.render(facts(outstanding_minor=1)).sha256 != first.sha256


async def test_the_letter_press_prints_the_bytes_the_worker_would(renderer):
    """Activities render in the press's own processes; the document, and so its checksum, is the same."""
    pressed = await asyncio.gather(*(renderer.render_apart(facts(outstanding_minor=m)) for m in (100, 200)))
    assert [p.pdf for p in pressed] == [renderer.render(facts(outstanding_minor=m)).pdf for m in (100, 200)]


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_optional_facts_may_be_missing(renderer, locale):
    for template in sorted(policy_letters()):
        html = renderer.html(
            facts(
                template,
                locale,
                next_stage_dpd=None,
                late_fee_rate_per_day=None,
                validation_period_ends=None,
                late_fee_minor=0,
                paid_minor=0,
            )
        )
        assert "None" not in html and "2,120.00 CNY" in html


def test_a_letter_for_a_creditor_without_letterhead_is_refused_by_name(renderer):
    with pytest.raises(LetterError, match="no letterhead for creditor 'Nobody Ltd'"):
        renderer.render(facts(creditor="Nobody Ltd"))
    with pytest.raises(LetterError, match="no letter template nope.zh.html"):
        renderer.render(facts("nope"))


def test_a_broken_letterhead_file_says_where(tmp_path):
    bad = tmp_path / "letterheads.yaml"
    bad.write_text("Acme:\n  name: {en: Acme}\n", encoding="utf-8")
    with pytest.raises(LetterError, match="letterheads.yaml"):
        load_letterheads(bad)


def test_returned_letter_evidence_needs_a_reason_and_only_then():
    common = dict(event_id="E1", letter_ref="LX", address="1 Road", occurred_at="2026-11-23T10:00:00+08:00")
    with pytest.raises(ValueError, match="returned letter needs a reason"):
        LetterDelivery(status="returned", **common)
    with pytest.raises(ValueError, match="returned letter needs a reason"):
        LetterDelivery(status="signed", reason="moved", **common)
    assert LetterDelivery(status="returned", reason="moved", **common).address_failure() == "address_invalid"
    assert LetterDelivery(status="returned", reason="refused", **common).address_failure() is None


# --- the channel activity and the print batch -----------------------------------------------------------------


@pytest.fixture
def channels(pool, sms_client, settings):
    return channel_activities(pool, sms_client, settings)


async def test_a_letter_for_an_unknown_creditor_fails_when_queued_not_in_the_batch(pool, channels):
    order = await step_order(pool, make_account(due=date(2026, 1, 1), creditor="Nobody Ltd"), "letter_first@10")
    with pytest.raises(ApplicationError, match="no letterhead for creditor 'Nobody Ltd'") as raised:
        await ActivityEnvironment().run(channels.queue_letter, order)
    assert raised.value.non_retryable
    assert await pool.fetchval("SELECT count(*) FROM letter_jobs WHERE action_key = $1", order.action_key) == 0


async def test_the_batch_drops_each_queued_letter_with_a_manifest_and_checksums(
    own_pool, sms_client, settings, tmp_path
):
    pool = own_pool
    channels = channel_activities(pool, sms_client, settings)
    orders = [
        await step_order(pool, make_account(due=date(2026, 1, 1), locale=locale), "letter_first@10")
        for locale in ("en", "zh")
    ]
    paid = await step_order(pool, make_account(due=date(2026, 1, 1)), "letter_first@10")
    for order in (*orders, paid):
        await ActivityEnvironment().run(channels.queue_letter, order)
    # This debtor paid after the letter was queued and before the batch: the letter is not printed.
    await pool.execute("UPDATE accounts SET status = 'cured' WHERE account_id = $1", paid.account.account_id)
    print_mail = PrintMailActivities(pool, LetterRenderer.load(TEST_LETTERHEADS), tmp_path)
    # A crashed earlier attempt left half a folder: it is discarded, never shown to the vendor.
    (tmp_path / "B1.partial").mkdir()
    (tmp_path / "B1.partial" / "junk.pdf").write_bytes(b"half")

    def produce(batch_id: str):
        return ActivityEnvironment().run(print_mail.produce_letter_batch, LetterBatchRequest(batch_id=batch_id))

    batch = await produce("B1")

    folder = tmp_path / "B1"
    assert batch.folder == str(folder) and not (tmp_path / "B1.partial").exists()
    rows = {r["letter_ref"]: r for r in csv.DictReader((folder / MANIFEST).open(encoding="utf-8"))}
    refs = [letter_ref(o.action_key) for o in orders]
    assert set(refs) <= set(rows) and batch.letters == len(rows)
    for ref in refs:
        pdf = (folder / rows[ref]["file"]).read_bytes()
        stored = await pool.fetchrow("SELECT sha256 FROM letter_documents WHERE letter_ref = $1", ref)
        assert hashlib.sha256(pdf).hexdigest() == rows[ref]["sha256"] == stored["sha256"]
        assert rows[ref]["recipient"] == "Test Debtor" and rows[ref]["delivery"] == "ordinary"
        assert "Test Debtor" in text_of(pdf)
    assert hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest() == batch.manifest_sha256
    assert letter_ref(paid.action_key) not in rows and batch.withdrawn == 1
    assert await pool.fetchval("SELECT status FROM letter_jobs WHERE action_key = $1", paid.action_key) == "withdrawn"
    statuses = await pool.fetch("SELECT status, batch_id FROM letter_jobs WHERE letter_ref = ANY($1)", refs)
    assert {(r["status"], r["batch_id"]) for r in statuses} == {("batched", "B1")}

    assert await produce("B1") == batch  # a retry: the same batch
    assert (await produce("B2")).letters == 0  # nothing left to send


# --- end to end: ladder -> letter -> batch -> evidence -> the account -------------------------------------------


async def test_a_letter_returned_as_moved_stops_the_letters_to_that_address(env, own_pool, sms_client, settings):
    account = make_account(due=await server_today(env))
    address = account.points("address")[0].value
    pool, queue = own_pool, f"letters-{account.account_id}"
    async with build_worker(env.client, replace(settings, task_queue=queue), pool, sms_client):
        await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=11))  # the first letter went at 10 dpd
        batch = await env.client.execute_workflow(
            LetterBatchWorkflow.run, id=f"letter-batch-{account.account_id}", task_queue=queue
        )
        first = await pool.fetchrow(
            "SELECT letter_ref, status FROM letter_jobs WHERE account_id = $1", account.account_id
        )
        assert first["status"] == "batched"
        assert (settings.letter_drop_dir / batch.batch_id / f"{first['letter_ref']}.pdf").is_file()
        for event_id, status, reason in (("E1", "sent", None), ("E2", "returned", "moved")):
            delivery = inputs.parse_letter_delivery(event_id, first["letter_ref"], status, reason, "RR1", address, None)
            await CollectionsClient(env.client).signal(account.account_id, "letter_delivery", delivery)
        await env.sleep(timedelta(days=10))  # the second letter falls due at 20 dpd
        handle = env.client.get_workflow_handle(account.workflow_id)
        view = await handle.query(AccountWorkflow.state)

    assert [r.invalid_because for r in view.invalid_points if r.point.value == address] == ["address_invalid 1 times"]
    second = await pool.fetchrow(
        "SELECT result, detail FROM action_log WHERE account_id = $1 AND step_id = 'letter_second'", account.account_id
    )
    assert (second["result"], second["detail"]) == ("skipped", "no postal address on file")
    job = await pool.fetchrow("SELECT delivery_status FROM letter_jobs WHERE letter_ref = $1", first["letter_ref"])
    assert job["delivery_status"] == "returned"
    point = await pool.fetchrow(
        "SELECT status, invalid_because FROM contact_points WHERE account_id = $1 AND value = $2",
        account.account_id,
        address,
    )
    assert point["status"] == "invalid" and point["invalid_because"] == "address_invalid 1 times"
