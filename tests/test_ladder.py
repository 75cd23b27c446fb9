"""The ladder as pure functions: dpd in the debtor's zone, the planned steps and their times, catching up an account
onboarded late, what comes next, agency placement and the order phones are dialled in."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dunning import contact, ladder
from dunning.account import AccountDocument, ContactPoint
from dunning.channels import Channel
from dunning.policy import load_policy

UTC = UTC


def account(
    *,
    due: date = date(2026, 1, 1),
    zone: str = "Asia/Shanghai",
    policy: str = "consumer_loan",
    account_id: str = "LOAN-0001",
) -> AccountDocument:
    return AccountDocument(
        account_id=account_id,
        debtor_name="Li Lei",
        contact_points=[
            ContactPoint(kind="work_phone", value="+862150000003"),
            ContactPoint(kind="mobile", value="+8613800000001"),
            ContactPoint(kind="home_phone", value="+862150000002"),
            ContactPoint(kind="mobile", value="+8613900000009", owner="contact", relation="spouse"),
            ContactPoint(kind="work_phone", value="+862160000008", owner="contact", relation="employer"),
            ContactPoint(kind="address", value="1 Test Road, Shanghai"),
        ],
        time_zone=zone,
        currency="CNY",
        amount_due_minor=250_000,
        due_date=due,
        policy=policy,
    )


def local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))


# --- dpd ------------------------------------------------------------------------------------------------------


def test_day_1_is_the_first_day_after_the_due_date():
    due = date(2026, 1, 31)
    assert ladder.dpd_on(due, date(2026, 1, 30)) == -1
    assert ladder.dpd_on(due, due) == 0
    assert ladder.dpd_on(due, date(2026, 2, 1)) == 1
    assert ladder.dpd_on(due, date(2026, 3, 2)) == 30


def test_dpd_follows_the_debtors_local_date_not_utc():
    instant = datetime(2026, 1, 16, 10, 30, tzinfo=UTC)
    # Same instant: already 17 Jan 00:30 on Kiritimati (UTC+14), still 16 Jan 00:30 on Adak (UTC-10).
    assert ladder.dpd_at(account(due=date(2026, 1, 15), zone="Pacific/Kiritimati"), instant) == 2
    assert ladder.dpd_at(account(due=date(2026, 1, 15), zone="America/Adak"), instant) == 1


def test_dpd_turns_over_at_local_midnight_in_a_half_hour_zone():
    kolkata = account(due=date(2026, 3, 10), zone="Asia/Kolkata")  # UTC+05:30
    assert ladder.dpd_at(kolkata, datetime(2026, 3, 10, 18, 29, tzinfo=UTC)) == 0  # 23:59 local on the due date
    assert ladder.dpd_at(kolkata, datetime(2026, 3, 10, 18, 30, tzinfo=UTC)) == 1  # 00:00 local the next day


# --- the plan -------------------------------------------------------------------------------------------------


def test_plan_lists_every_step_in_the_order_it_falls_due(consumer):
    keys = [p.key for p in ladder.plan(consumer, account())]
    assert keys == [
        "sms_reminder@1",
        "call_task@1",
        "sms_reminder@3",
        "call_task@6",
        "sms_urge@6",
        "letter_first@10",
        "sms_urge@12",
        "call_task@18",
        "sms_firm@18",
        "letter_second@20",
        "call_task@30",
        "sms_severe@30",
        "letter_final@35",
        "field_visit@45",
        "call_task@60",
        "lawyer_letter@60",
        "call_task@90",
        "agency_placement@90",
        "write_off_review@180",
    ]


def test_each_step_is_placed_at_the_policy_send_time_on_its_dpd_local_day(consumer):
    acc = account(due=date(2026, 1, 1), zone="Asia/Shanghai")
    for p in ladder.plan(consumer, acc):
        at = p.due_at.astimezone(ZoneInfo("Asia/Shanghai"))
        assert at.date() == date(2026, 1, 1) + timedelta(days=p.dpd), p.key
        assert at.time() == consumer.send_time == time(10, 0), p.key
        assert p.stage == consumer.stage_at(p.dpd).id


def test_steps_stay_at_10_local_across_the_march_dst_change(consumer):
    new_york = ZoneInfo("America/New_York")
    acc = account(due=date(2026, 3, 1), zone="America/New_York")  # clocks go forward on 8 March 2026 (dpd 7)
    planned = {p.key: p.due_at for p in ladder.plan(consumer, acc)}
    before, after = planned["sms_reminder@1"], planned["letter_first@10"]
    assert before.astimezone(new_york).time() == after.astimezone(new_york).time() == time(10, 0)
    assert before.astimezone(UTC).hour == 15  # EST, UTC-5
    assert after.astimezone(UTC).hour == 14  # EDT, UTC-4
    on_the_day = ladder.step_time(consumer, acc, 7)
    assert on_the_day.astimezone(UTC) == datetime(2026, 3, 8, 14, 0, tzinfo=UTC)


def test_steps_stay_at_10_local_across_the_november_dst_change(consumer):
    new_york = ZoneInfo("America/New_York")
    acc = account(due=date(2026, 10, 25), zone="America/New_York")  # clocks go back on 1 November 2026
    planned = {p.key: p.due_at for p in ladder.plan(consumer, acc)}
    before, after = planned["sms_reminder@1"], planned["letter_first@10"]
    assert before.astimezone(new_york).time() == after.astimezone(new_york).time() == time(10, 0)
    assert before.astimezone(UTC) == datetime(2026, 10, 26, 14, 0, tzinfo=UTC)
    assert after.astimezone(UTC) == datetime(2026, 11, 4, 15, 0, tzinfo=UTC)


def test_b2b_plan_starts_a_week_before_the_due_date_at_0930(b2b):
    first = ladder.plan(b2b, account(due=date(2026, 5, 29), policy="b2b_receivables"))[0]
    assert first.key == "pre_due_reminder@-7"
    assert first.due_at == local("Asia/Shanghai", 2026, 5, 22, 9, 30)
    assert first.stage == "pre_due"


# --- onboarding late ------------------------------------------------------------------------------------------


def test_an_account_onboarded_at_40_dpd_takes_only_the_latest_missed_step_per_channel(consumer):
    acc = account(due=date(2026, 1, 1))
    opened = local("Asia/Shanghai", 2026, 2, 10, 12, 0)
    assert ladder.dpd_at(acc, opened) == 40
    take, skip = ladder.triage_missed(consumer, acc, ladder.plan(consumer, acc), opened)
    assert [p.key for p in take] == ["call_task@30", "sms_severe@30", "letter_final@35"]
    # The final letter only, not all three letters; every earlier step is recorded as skipped.
    assert {"letter_first@10", "letter_second@20"} <= {p.key for p in skip}
    assert {p.key for p in take} | {p.key for p in skip} == {p.key for p in ladder.plan(consumer, acc) if p.dpd <= 40}
    assert not {p.key for p in take} & {p.key for p in skip}


def test_a_step_due_later_on_the_opening_day_is_not_missed(consumer):
    acc = account(due=date(2026, 1, 1))
    opened = local("Asia/Shanghai", 2026, 2, 5, 9, 0)  # 35 dpd, before the 10:00 send time
    take, skip = ladder.triage_missed(consumer, acc, ladder.plan(consumer, acc), opened)
    missed = {p.key for p in take + skip}
    assert "letter_final@35" not in missed
    assert "letter_second@20" in {p.key for p in take}


def test_an_account_opened_before_its_first_step_misses_nothing(consumer):
    acc = account(due=date(2026, 1, 1))
    assert ladder.triage_missed(consumer, acc, ladder.plan(consumer, acc), local("Asia/Shanghai", 2026, 1, 2, 9)) == (
        [],
        [],
    )


def test_a_late_onboarded_account_gets_only_channels_its_current_stage_allows(consumer):
    acc = account(due=date(2026, 1, 1))
    opened = local("Asia/Shanghai", 2026, 4, 11, 12)
    assert ladder.dpd_at(acc, opened) == 100
    take, _ = ladder.triage_missed(consumer, acc, ladder.plan(consumer, acc), opened)
    allowed = consumer.stage_at(100).channels
    assert [p.key for p in take if Channel(p.channel) not in allowed] == []


def test_a_b2b_account_onboarded_after_100_dpd_gets_both_letters_due_that_day(b2b):
    acc = account(due=date(2026, 1, 1), policy="b2b_receivables")
    opened = local("Asia/Shanghai", 2026, 4, 21, 12)
    assert ladder.dpd_at(acc, opened) == 110
    take, _ = ladder.triage_missed(b2b, acc, ladder.plan(b2b, acc), opened)
    assert {"demand_letter@100", "statement_letter@100"} <= {p.key for p in take}


# --- what comes next ------------------------------------------------------------------------------------------


def test_next_step_is_the_first_planned_step_not_yet_done(consumer):
    planned = ladder.plan(consumer, account())
    assert ladder.next_step(planned, set()).key == "sms_reminder@1"
    assert ladder.next_step(planned, {"sms_reminder@1", "call_task@1"}).key == "sms_reminder@3"
    assert ladder.next_step(planned, {p.key for p in planned}) is None


def test_next_stage_change_lands_at_send_time_on_the_next_stages_first_day(consumer):
    acc = account(due=date(2026, 1, 1))
    assert ladder.next_stage_change(consumer, acc, local("Asia/Shanghai", 2026, 1, 4, 15)) == local(
        "Asia/Shanghai", 2026, 1, 7, 10
    )  # 3 dpd -> stage 6-17 at 10:00 on 6 dpd
    assert ladder.next_stage_change(consumer, acc, local("Asia/Shanghai", 2026, 1, 1, 23)) == local(
        "Asia/Shanghai", 2026, 1, 2, 10
    )  # on the due date -> stage 1-5 at 10:00 on 1 dpd


def test_next_stage_change_uses_local_send_time_across_dst(consumer):
    acc = account(due=date(2026, 3, 1), zone="America/New_York")
    change = ladder.next_stage_change(consumer, acc, local("America/New_York", 2026, 3, 7, 12))  # 6 dpd, EST
    assert change == datetime(2026, 3, 19, 14, 0, tzinfo=UTC)  # 18 dpd, 10:00 EDT


def test_there_is_no_stage_change_after_the_last_stage(consumer):
    acc = account(due=date(2026, 1, 1))
    assert ladder.next_stage_change(consumer, acc, local("Asia/Shanghai", 2026, 6, 1, 12)) is None


def test_b2b_account_before_the_reminder_window_changes_stage_7_days_before_due(b2b):
    acc = account(due=date(2026, 1, 1), policy="b2b_receivables")
    assert ladder.next_stage_change(b2b, acc, local("Asia/Shanghai", 2025, 12, 1, 8)) == local(
        "Asia/Shanghai", 2025, 12, 25, 9, 30
    )


# --- agencies -------------------------------------------------------------------------------------------------


def test_an_account_always_goes_to_the_same_agency(consumer):
    first = ladder.agency_for(consumer, "LOAN-0001")
    assert all(ladder.agency_for(load_policy("consumer_loan"), "LOAN-0001") == first for _ in range(5))


def test_placements_spread_over_the_agencies(consumer):
    counts = Counter(ladder.agency_for(consumer, f"LOAN-{n:05d}").id for n in range(1000))
    assert set(counts) == {a.id for a in consumer.agencies}
    assert all(400 <= count <= 600 for count in counts.values()), counts


def test_a_policy_without_agencies_places_nowhere(b2b):
    assert ladder.agency_for(b2b, "LOAN-0001") is None


# --- phones ---------------------------------------------------------------------------------------------------


def dialled(acc: AccountDocument, stage) -> list[tuple[str, str]]:
    return [(p.owner, p.kind) for p in contact.phone_order(acc.contact_points, stage)]


def test_stage_1_5_dials_only_the_debtors_phones_mobile_first(consumer):
    assert dialled(account(), consumer.stage_at(3)) == [
        ("debtor", "mobile"),
        ("debtor", "home_phone"),
        ("debtor", "work_phone"),
    ]


def test_stage_6_17_dials_contact_persons_after_the_debtor(consumer):
    assert dialled(account(), consumer.stage_at(10)) == [
        ("debtor", "mobile"),
        ("debtor", "home_phone"),
        ("debtor", "work_phone"),
        ("contact", "mobile"),
        ("contact", "work_phone"),
    ]


def test_texts_go_to_the_debtors_mobile_never_to_a_contact(consumer):
    for dpd in (1, 10, 30):
        points = contact.contact_points_for(account().contact_points, Channel.sms, consumer.stage_at(dpd))
        assert [(p.owner, p.value) for p in points] == [("debtor", "+8613800000001")]
