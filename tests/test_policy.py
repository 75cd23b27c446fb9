"""The shipped policies carry the numbers of domain.md, and a bad policy file is refused with a clear reason.

No Temporal, no database: policies are plain data read from YAML.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from dunning.channels import Channel
from dunning.messages import TEMPLATE_FILE, MessageFacts, Templates
from dunning.policy import Policy, PolicyError, load_policy, parse_policy

SHIPPED = ("consumer_loan", "b2b_receivables", "property_fees")
CADENCE = {"attempts_per_day": 1, "min_numbers": 1}


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates.load()


@pytest.fixture(scope="module")
def texts() -> dict:
    """templates/messages.yaml as written: {channel: {template: {locale: text}}}."""
    return yaml.safe_load(TEMPLATE_FILE.read_text(encoding="utf-8"))


def dpds_of(policy: Policy, step_id: str) -> list[int]:
    return next(step for step in policy.steps if step.id == step_id).schedule.dpds()


def step(policy: Policy, step_id: str):
    return next(s for s in policy.steps if s.id == step_id)


# --- the shipped policies -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_policy_loads_and_is_traceable_to_its_file(name):
    policy = load_policy(name)
    assert policy.name == name
    assert policy.ref == f"{name}@v{policy.version}"
    assert len(policy.digest) == 64  # sha256 of the file, so a pinned copy can be traced to its source


def test_consumer_loan_sends_collection_letters_at_10_20_35_and_a_lawyers_letter_at_60(consumer):
    letters = {s.letter_kind: s.schedule.dpds() for s in consumer.steps if s.channel is Channel.letter}
    assert letters == {
        "first_collection": [10],
        "second_collection": [20],
        "final_collection": [35],
        "lawyer": [60],
    }


def test_consumer_loan_stages_are_1_5_then_6_17_then_18_29_then_30_plus(consumer):
    first_four = [(s.from_dpd, s.to_dpd) for s in consumer.stages[:4]]
    assert first_four == [(1, 5), (6, 17), (18, 29), (30, 59)]
    # 30+ continues (split further into legal and placement stages) up to an open-ended last stage.
    assert consumer.stages[-1].to_dpd is None
    assert all(consumer.stage_at(dpd) is not None for dpd in range(1, 400))


def test_consumer_loan_calls_3_times_a_day_on_2_numbers_in_6_to_17(consumer):
    stage = consumer.stage_at(6)
    assert stage is consumer.stage_at(17)
    assert stage.call_cadence is not None
    assert (stage.call_cadence.attempts_per_day, stage.call_cadence.min_numbers) == (3, 2)


def test_consumer_loan_early_stage_allows_neither_letters_nor_agency(consumer):
    early = consumer.stage_at(1)
    assert (early.from_dpd, early.to_dpd) == (1, 5)
    assert Channel.letter not in early.channels
    assert Channel.agency not in early.channels
    early_channels = {s.channel for s in consumer.steps if any(1 <= d <= 5 for d in s.schedule.dpds())}
    assert early_channels <= {Channel.sms, Channel.call}


def test_consumer_loan_early_texts_never_mention_lawyers_agencies_or_litigation(consumer, texts):
    early_templates = {s.template for s in consumer.steps if s.template and min(s.schedule.dpds()) <= 5}
    assert early_templates  # the reminder
    forbidden = ("lawyer", "legal", "court", "litigation", "agency", "律师", "法律", "法院", "诉讼", "起诉", "委外")
    for name in early_templates:
        for locale in ("en", "zh"):
            text = texts["sms"][name][locale]
            assert not [word for word in forbidden if word in text.lower()], (name, locale, text)


def test_b2b_reminds_once_7_days_before_the_due_date(b2b):
    pre_due = [s for s in b2b.steps if any(d <= 0 for d in s.schedule.dpds())]
    assert [(s.id, s.channel, s.schedule.dpds()) for s in pre_due] == [("pre_due_reminder", Channel.email, [-7])]


def test_b2b_chases_every_2_days_in_week_1_then_daily_from_week_2(b2b):
    email_days = sorted(d for s in b2b.steps if s.template == "b2b_payment_chase" for d in s.schedule.dpds() if d >= 1)
    assert [d for d in email_days if d <= 7] == [1, 3, 5, 7]
    assert [d for d in email_days if 8 <= d <= 30] == list(range(8, 31))
    # Week 1 chasing is e-mail and phone on the same days.
    assert dpds_of(b2b, "chase_call_week_1") == [1, 3, 5, 7]


def test_b2b_escalates_to_supervisor_15_manager_30_general_manager_60_and_locks_at_90(b2b):
    internal = {s.task: s.schedule.dpds() for s in b2b.steps if s.channel is Channel.internal}
    assert internal == {"supervisor": [15], "manager": [30], "general_manager": [60], "customer_lock": [90]}
    assert step(b2b, "customer_lock").requires_approval
    assert not step(b2b, "escalate_supervisor").requires_approval


def test_b2b_lawyers_letter_needs_the_owners_approval_and_comes_after_the_lock(b2b):
    lawyer = [s for s in b2b.steps if s.channel is Channel.letter and s.letter_kind == "lawyer"]
    assert len(lawyer) == 1
    assert lawyer[0].requires_approval
    assert min(lawyer[0].schedule.dpds()) > 90


def test_property_fees_charge_a_late_fee_of_0_1_percent_a_day():
    policy = load_policy("property_fees")
    assert policy.late_fee is not None
    assert policy.late_fee.rate_per_day == Decimal("0.001")
    assert policy.late_fee.waivable


def test_only_property_fees_charge_a_late_fee(consumer, b2b):
    assert consumer.late_fee is None and b2b.late_fee is None


FACTS = MessageFacts(
    creditor="ACME Lending",
    account_id="LOAN-0042",
    outstanding_minor=250_050,
    currency="CNY",
    due_date=date(2026, 1, 15),
    dpd=12,
    promised_minor=100_000,
    promised_date=date(2026, 1, 30),
)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_message_template_a_policy_names_exists_in_english_and_chinese(name, templates):
    policy = load_policy(name)
    named = {(s.channel.value, s.template) for s in policy.actions() if s.channel in (Channel.sms, Channel.email)}
    assert named
    for channel, template in named:
        assert template in templates.names(channel), f"{name}: no {channel} template {template!r}"
        for locale in ("en", "zh"):
            if channel == "sms":
                rendered = templates.sms(template, locale, FACTS)
            else:
                rendered = templates.email(template, locale, FACTS).body
            assert "{" not in rendered and "}" not in rendered  # every placeholder filled in


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_every_sms_carries_a_stop_opt_out(texts, locale):
    for name, text in texts["sms"].items():
        assert "STOP" in text[locale], name


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_every_email_carries_an_opt_out_by_reply_and_by_its_own_link(templates, texts, locale):
    link = "https://collections.example/mail/opt-out/T0KEN"
    for name in texts["email"]:
        by_reply, by_link = (templates.email(name, locale, FACTS, opt_out_link) for opt_out_link in (None, link))
        assert by_reply.body.endswith("UNSUBSCRIBE。" if locale == "zh" else "UNSUBSCRIBE."), name
        assert "UNSUBSCRIBE" in by_link.body and by_link.body.endswith(link), name


# --- bad policy files -----------------------------------------------------------------------------------------


def valid_policy(name: str = "custom") -> dict:
    return {
        "name": name,
        "version": 1,
        "title": "A small valid ladder",
        "send_time": "10:00",
        "collector_queues": ["team_1"],
        "stages": [
            {
                "id": "early",
                "from_dpd": 1,
                "to_dpd": 5,
                "tone": "reminder",
                "channels": ["sms", "call"],
                "call_cadence": CADENCE,
            },
            {
                "id": "late",
                "from_dpd": 6,
                "tone": "firm",
                "channels": ["sms", "call", "letter"],
                "call_cadence": CADENCE,
            },
        ],
        "steps": [
            {"id": "reminder", "channel": "sms", "template": "reminder", "schedule": {"at": [1]}},
            {
                "id": "first_letter",
                "channel": "letter",
                "template": "collection_letter_first",
                "letter_kind": "first_collection",
                "delivery": "ordinary",
                "schedule": {"at": [10]},
            },
        ],
    }


def write(directory: Path, data: dict, file_name: str = "custom") -> Path:
    path = directory / f"{file_name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(PolicyError) as caught:
        parse_policy(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message  # names the file
    return message


def test_the_valid_example_loads(tmp_path):
    write(tmp_path, valid_policy())
    policy = load_policy("custom", directory=tmp_path)
    assert [s.id for s in policy.stages] == ["early", "late"]
    assert policy.send_time == time(10, 0)


def test_a_gap_between_stages_is_refused(tmp_path):
    data = valid_policy()
    data["stages"][1]["from_dpd"] = 8  # dpd 6 and 7 belong to no stage
    message = refusal(write(tmp_path, data))
    assert "stages" in message
    assert "stage 'late' starts at dpd 8; it must start at 6" in message


def test_overlapping_stages_are_refused(tmp_path):
    data = valid_policy()
    data["stages"][1]["from_dpd"] = 4  # dpd 4 and 5 in both stages
    message = refusal(write(tmp_path, data))
    assert "stages" in message
    assert "stage 'late' starts at dpd 4; it must start at 6" in message


def test_an_inverted_stage_is_refused(tmp_path):
    data = valid_policy()
    data["stages"] = [
        {
            "id": "early",
            "from_dpd": 1,
            "to_dpd": 5,
            "tone": "reminder",
            "channels": ["sms", "call"],
            "call_cadence": CADENCE,
        },
        {
            "id": "middle",
            "from_dpd": 6,
            "to_dpd": 3,
            "tone": "urging",
            "channels": ["sms", "call"],
            "call_cadence": CADENCE,
        },
        {"id": "late", "from_dpd": 4, "tone": "firm", "channels": ["sms", "call", "letter"], "call_cadence": CADENCE},
    ]
    refusal(write(tmp_path, data))


def test_a_last_stage_that_ends_is_refused(tmp_path):
    data = valid_policy()
    data["stages"][1]["to_dpd"] = 60
    message = refusal(write(tmp_path, data))
    assert "stages" in message
    assert "the last stage 'late' must be open-ended" in message


def test_a_step_in_a_stage_that_does_not_allow_its_channel_is_refused(tmp_path):
    data = valid_policy()
    data["steps"][1]["schedule"] = {"at": [3]}  # a letter at 3 dpd, in a stage of sms and calls
    message = refusal(write(tmp_path, data))
    assert "step 'first_letter' uses channel 'letter' at dpd 3, which stage 'early' does not allow" in message


def test_a_duplicated_step_id_is_refused(tmp_path):
    data = valid_policy()
    data["steps"][1]["id"] = "reminder"
    message = refusal(write(tmp_path, data))
    assert "step ids must be unique across steps, reactions and reminders; repeated: reminder" in message


def test_a_letter_step_without_letter_kind_is_refused(tmp_path):
    data = valid_policy()
    del data["steps"][1]["letter_kind"]
    message = refusal(write(tmp_path, data))
    assert "steps.1" in message
    assert "a letter step needs letter_kind" in message


def test_a_schedule_with_both_at_and_every_is_refused(tmp_path):
    data = valid_policy()
    data["steps"][0]["schedule"] = {"at": [1], "start": 1, "end": 5, "every": 2}
    message = refusal(write(tmp_path, data))
    assert "steps.0.schedule" in message
    assert "use either 'at' or 'start'/'end'/'every', not both" in message


def test_a_misspelt_field_is_refused_not_ignored(tmp_path):
    data = valid_policy()
    data["steps"][0]["shedule"] = data["steps"][0].pop("schedule")
    message = refusal(write(tmp_path, data))
    assert "steps.0.shedule: Extra inputs are not permitted" in message
    assert "steps.0.schedule: Field required" in message


def test_a_name_that_does_not_match_the_file_name_is_refused(tmp_path):
    path = write(tmp_path, valid_policy(name="consumer_loan"), file_name="custom")
    message = refusal(path)
    assert "field 'name' is 'consumer_loan' but the file is named 'custom'" in message


def test_invalid_yaml_is_refused(tmp_path):
    path = tmp_path / "custom.yaml"
    path.write_text("name: custom\nstages: [unclosed\n", encoding="utf-8")
    assert "not valid YAML" in refusal(path)


def test_an_unknown_policy_name_lists_the_known_ones(tmp_path):
    write(tmp_path, valid_policy())
    write(tmp_path, valid_policy(name="other"), file_name="other")
    with pytest.raises(PolicyError) as caught:
        load_policy("custm", directory=tmp_path)
    assert "unknown policy 'custm'" in str(caught.value)
    assert "known policies: custom, other" in str(caught.value)


def test_an_unknown_shipped_policy_name_lists_the_shipped_ones():
    with pytest.raises(
        PolicyError,
        match="known policies: b2b_receivables, consumer_loan, consumer_loan_plan_offer, property_fees, "
        "us_consumer_loan",
    ):
        load_policy("mortgage")


def test_a_stage_that_allows_calls_without_a_cadence_is_refused(tmp_path):
    data = valid_policy()
    del data["stages"][0]["call_cadence"]
    assert "stages.0: Value error, a stage that allows calls needs a call_cadence" in refusal(write(tmp_path, data))
