"""The contact guard as a pure function: hard rules hold for any schedule, zone and history (domain §3, §13)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dunning.account import ContactPoint
from dunning.channels import Channel, ThirdParties
from dunning.compliance import ContactMade, RulesError, check, load_rules, may_disclose
from tests.conftest import make_account

RULE_SETS = {name: load_rules(name) for name in ("cn_consumer", "us_reg_f")}
# DST in both hemispheres, half-hour and 45-minute offsets, and the date line.
ZONES = [
    "Asia/Shanghai",
    "America/New_York",
    "Europe/London",
    "Australia/Adelaide",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "America/Los_Angeles",
]
START = datetime(2026, 1, 1, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


instants = st.integers(min_value=0, max_value=365 * 24 * 60).map(lambda m: START + timedelta(minutes=m))
channels = st.sampled_from([Channel.sms, Channel.call, Channel.email, Channel.field_visit, Channel.letter])


@st.composite
def situations(draw):
    rules = RULE_SETS[draw(st.sampled_from(sorted(RULE_SETS)))]
    account = make_account(due=date(2026, 1, 1), account_id="PROP-1", time_zone=draw(st.sampled_from(ZONES)))
    when = draw(instants)
    history = sorted(
        draw(
            st.lists(
                st.builds(
                    ContactMade,
                    channel=channels,
                    attempts=st.integers(1, 3),
                    at=st.integers(0, 10 * 24 * 60).map(lambda m: when - timedelta(minutes=m)),
                ),
                max_size=25,
            )
        ),
        key=lambda c: c.at,
    )
    conversation = draw(st.none() | st.integers(0, 10 * 24 * 60).map(lambda m: when - timedelta(minutes=m)))
    return rules, account, draw(channels), when, history, conversation, draw(st.integers(1, 3))


@settings(max_examples=400, deadline=None)
@given(situations())
def test_a_contact_is_never_placed_outside_its_window_over_a_cap_or_in_a_cool_down(situation):
    rules, account, channel, when, history, conversation, attempts = situation
    verdict = check(rules, account, channel, when, history, conversation, attempts)
    at, zone = verdict.at, ZoneInfo(account.time_zone)
    assert at >= when and (verdict.verdict == "allowed") == (at == when)
    local = at.astimezone(zone).time()
    windows = rules.windows.get(channel)
    assert not windows or any(w.start <= local < w.end for w in windows)
    for cap in (c for c in rules.caps if c.channel is channel):  # whole local days: "a day", "7 consecutive days"
        recent = sum(
            c.attempts
            for c in history
            if c.channel is channel and 0 <= (at.astimezone(zone).date() - c.at.astimezone(zone).date()).days < cap.days
        )
        assert recent + verdict.attempts <= cap.max_attempts
    if channel is Channel.call and rules.conversation_cool_down_days and conversation:
        spoken = conversation.astimezone(zone).date()
        assert (at.astimezone(zone).date() - spoken).days >= rules.conversation_cool_down_days
    # Asked again at the moment it named, the guard lets it go.
    assert check(rules, account, channel, at, history, conversation, attempts).verdict == "allowed"


def test_a_text_due_at_2am_goes_at_8am_and_a_call_at_9am_local():
    rules, account = RULE_SETS["cn_consumer"], make_account(due=date(2026, 3, 2))
    text = check(rules, account, Channel.sms, shanghai(5, 2), [])
    call = check(rules, account, Channel.call, shanghai(5, 2), [])
    assert (text.verdict, text.rule, text.at) == ("deferred", "window:sms", shanghai(5, 8))
    assert (call.verdict, call.rule, call.at) == ("deferred", "window:call", shanghai(5, 9))
    assert text.local_time == "2026-03-05 02:00 Asia/Shanghai"


def test_under_regulation_f_the_eighth_call_in_seven_days_waits_for_the_first_to_leave_the_window():
    rules, account = RULE_SETS["us_reg_f"], make_account(due=date(2026, 3, 2), time_zone="America/New_York")
    new_york = ZoneInfo("America/New_York")
    seven = [ContactMade(channel=Channel.call, at=datetime(2026, 3, day, 10, tzinfo=new_york)) for day in range(1, 8)]
    eighth = check(rules, account, Channel.call, datetime(2026, 3, 7, 15, tzinfo=new_york), seven)
    assert (eighth.verdict, eighth.rule) == ("deferred", "cap:call 7 in 7 days")
    # The 1st leaves the seven days when the 8th begins: calls may resume at its first lawful hour.
    assert eighth.at == datetime(2026, 3, 8, 8, tzinfo=new_york)
    texts = check(rules, account, Channel.sms, datetime(2026, 3, 7, 15, tzinfo=new_york), seven)
    assert texts.verdict == "allowed"  # the presumption counts calls


def test_under_regulation_f_no_call_within_seven_days_of_a_conversation_counting_its_day():
    rules, account = RULE_SETS["us_reg_f"], make_account(due=date(2026, 3, 2), time_zone="America/New_York")
    new_york = ZoneInfo("America/New_York")
    spoke = datetime(2026, 3, 2, 16, tzinfo=new_york)
    call = check(rules, account, Channel.call, datetime(2026, 3, 5, 10, tzinfo=new_york), [], spoke)
    assert call.rule == "cool_down:7 days after a conversation"
    assert call.at == datetime(2026, 3, 9, 8, tzinfo=new_york)  # day 1 is the 2nd: the 9th at the window's start


def test_call_tasks_are_paced_to_what_a_day_may_hold():
    account = make_account(due=date(2026, 3, 2))
    assert check(RULE_SETS["cn_consumer"], account, Channel.call, shanghai(5, 10), [], attempts=5).attempts == 3
    assert check(RULE_SETS["us_reg_f"], account, Channel.call, shanghai(5, 10), [], attempts=3).attempts == 1


@pytest.mark.parametrize(
    "stage_rule, knows, expected",
    [
        (ThirdParties.locate_only, False, False),  # 6-17 dpd: never tell a contact who does not know of the loan
        (ThirdParties.locate_only, True, True),  # ... but one who knows may discuss it
        (ThirdParties.pressure, False, False),
    ],
)
def test_a_contact_person_is_told_of_the_debt_only_as_the_stage_and_what_they_know_allow(stage_rule, knows, expected):
    spouse = ContactPoint(
        kind="mobile", value="+8613800000009", owner="contact", relation="spouse", knows_of_debt=knows
    )
    assert may_disclose(RULE_SETS["cn_consumer"], spouse, stage_rule) is expected
    assert may_disclose(RULE_SETS["us_reg_f"], spouse, stage_rule) is False  # 15 USC 1692c(b)
    assert may_disclose(RULE_SETS["us_reg_f"], ContactPoint(kind="mobile", value="+8613800000001"), stage_rule)


def test_an_unknown_rule_set_is_refused_naming_the_known_ones():
    with pytest.raises(RulesError, match="known rule sets: cn_commercial, cn_consumer, us_reg_f"):
        load_rules("gdpr")


def test_a_rule_set_with_an_empty_window_list_is_refused(tmp_path):
    (tmp_path / "strict.yaml").write_text(
        "name: strict\ntitle: t\nwindows: {sms: []}\nthird_parties: {disclose_to_unaware: false,"
        " disclose_to_aware_from: null}\n",
        encoding="utf-8",
    )
    with pytest.raises(RulesError, match="windows of sms are empty"):
        load_rules("strict", directory=tmp_path)
