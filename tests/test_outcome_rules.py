"""Contact outcomes as pure rules (domain §3, §6): points that turn invalid after their failures, the contact book
kept up to date, the outcome tree's strategies and what the no-answer strategy does next."""

from __future__ import annotations

from datetime import date, datetime
from typing import get_args
from zoneinfo import ZoneInfo

import pytest

from dunning import contact
from dunning.account import AccountDocument, ContactPoint
from dunning.actions import Strategy
from dunning.channels import Channel
from dunning.outcomes import (
    STRATEGY_OF,
    ContactBook,
    ContactOutcome,
    ContactUpdated,
    OutcomeCode,
    outcome_problem,
    reactions,
)
from tests.conftest import make_account

SHANGHAI = ZoneInfo("Asia/Shanghai")
ACCOUNT = make_account(due=date(2026, 3, 1), account_id="LOAN-0001")
MOBILE = ACCOUNT.points("mobile")[0].value
HOME = ACCOUNT.points("home_phone")[0].value
ADDRESS = ACCOUNT.points("address")[0].value
SPOUSE = ACCOUNT.points("mobile", owner="contact")[0].value
NEW_MOBILE = "+8613700000077"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def fail(book: ContactBook, policy, value: str, code: str, times: int) -> list[bool]:
    return [book.record_failure(policy, value, code, at(2026, 3, 4, 11)) for _ in range(times)]


def update(point: ContactPoint, replaces: str | None = None) -> ContactUpdated:
    return ContactUpdated(
        update_id="U1", point=point, replaces=replaces, source="tracing", updated_at=at(2026, 3, 5, 9)
    )


def outcome(code: str, point: str | None) -> ContactOutcome:
    return ContactOutcome(
        outcome_id="O1",
        code=code,
        source="dialer",
        contact_point=point,
        reported_by="dialer-1",
        occurred_at=at(2026, 3, 4, 11),
    )


# --- points that turn invalid ---------------------------------------------------------------------------------


def test_the_book_starts_with_every_point_of_the_account_usable():
    book = ContactBook.of(ACCOUNT)
    assert book.usable() == ACCOUNT.contact_points
    assert book.invalid() == []


@pytest.mark.parametrize(
    ("code", "limit", "value"),
    [
        ("line_dead", 2, MOBILE),
        ("no_such_person", 3, MOBILE),
        ("resigned", 3, HOME),
        ("moved", 3, ADDRESS),
        ("wrong_number", 1, MOBILE),
        ("address_invalid", 1, ADDRESS),
    ],
)
def test_a_point_turns_invalid_exactly_at_the_policys_count(consumer, code, limit, value):
    book = ContactBook.of(ACCOUNT)
    assert fail(book, consumer, value, code, limit) == [False] * (limit - 1) + [True]
    record = book.find(value)
    assert record.invalid_because == f"{code} {limit} times"
    assert record.invalid_since == at(2026, 3, 4, 11)


@pytest.mark.parametrize(("code", "limit"), [("line_dead", 2), ("no_such_person", 3), ("moved", 3)])
def test_a_point_stays_usable_one_failure_short_of_the_count(consumer, code, limit):
    book = ContactBook.of(ACCOUNT)
    fail(book, consumer, MOBILE, code, limit - 1)
    assert MOBILE in [p.value for p in book.usable()]


def test_an_invalid_point_is_no_longer_used_and_further_failures_change_nothing(consumer):
    book = ContactBook.of(ACCOUNT)
    fail(book, consumer, MOBILE, "line_dead", 2)
    assert MOBILE not in [p.value for p in book.usable()]
    assert [r.point.value for r in book.invalid()] == [MOBILE]
    assert fail(book, consumer, MOBILE, "wrong_number", 1) == [False]
    assert book.find(MOBILE).invalid_because == "line_dead 2 times"


def test_failures_of_different_kinds_do_not_add_up(consumer):
    book = ContactBook.of(ACCOUNT)
    fail(book, consumer, MOBILE, "line_dead", 1)
    fail(book, consumer, MOBILE, "no_such_person", 2)
    fail(book, consumer, MOBILE, "resigned", 2)
    fail(book, consumer, MOBILE, "moved", 2)
    assert MOBILE in [p.value for p in book.usable()]


def test_a_failure_of_a_point_not_on_file_counts_for_nothing(consumer):
    book = ContactBook.of(ACCOUNT)
    assert fail(book, consumer, "+8613999999999", "wrong_number", 1) == [False]
    assert book.usable() == ACCOUNT.contact_points


def test_contact_is_lost_only_when_every_debtor_phone_is_invalid(consumer):
    book = ContactBook.of(ACCOUNT)
    fail(book, consumer, MOBILE, "wrong_number", 1)
    assert not book.debtor_phones_lost()
    fail(book, consumer, HOME, "line_dead", 2)
    assert book.debtor_phones_lost()  # the spouse's phone does not count


def test_losing_a_contacts_phone_does_not_lose_the_debtor(consumer):
    book = ContactBook.of(ACCOUNT)
    fail(book, consumer, SPOUSE, "wrong_number", 1)
    fail(book, consumer, ADDRESS, "address_invalid", 1)
    assert not book.debtor_phones_lost()


def test_an_account_with_no_debtor_phone_is_not_lost():
    account = AccountDocument(
        **{
            **ACCOUNT.model_dump(),
            "contact_points": [
                ContactPoint(kind="address", value="1 Test Road, Shanghai"),
                ContactPoint(kind="mobile", value=SPOUSE, owner="contact", relation="spouse"),
            ],
        }
    )
    assert not ContactBook.of(account).debtor_phones_lost()


# --- keeping the book up to date ------------------------------------------------------------------------------


def test_a_new_point_is_added_and_usable():
    book = ContactBook.of(ACCOUNT)
    assert book.update(update(ContactPoint(kind="work_phone", value=NEW_MOBILE))).text == "added"
    assert book.find(NEW_MOBILE).point.kind == "work_phone"
    assert len(book.usable()) == len(ACCOUNT.contact_points) + 1


def test_a_correction_replaces_the_point_it_corrects():
    book = ContactBook.of(ACCOUNT)
    assert book.update(update(ContactPoint(kind="mobile", value=NEW_MOBILE), replaces=MOBILE)).text == "corrected"
    assert book.find(MOBILE) is None
    assert NEW_MOBILE in [p.value for p in book.usable()]
    assert len(book.records) == len(ACCOUNT.contact_points)


def test_an_invalid_point_given_again_is_valid_again_with_its_counts_cleared(consumer):
    book = ContactBook.of(ACCOUNT)
    fail(book, consumer, MOBILE, "line_dead", 2)
    fail(book, consumer, MOBILE, "no_such_person", 1)
    assert book.update(update(ContactPoint(kind="mobile", value=MOBILE))).text == "revalidated"
    record = book.find(MOBILE)
    assert (record.invalid_since, record.failures) == (None, {})
    assert [r.point.value for r in book.records].count(MOBILE) == 1
    assert fail(book, consumer, MOBILE, "line_dead", 1) == [False]  # the count starts again


def test_a_correction_of_a_point_not_on_file_is_rejected_and_changes_nothing():
    book = ContactBook.of(ACCOUNT)
    change = book.update(update(ContactPoint(kind="mobile", value=NEW_MOBILE), replaces="+8613999999999"))
    assert change.verdict == "refused"
    assert book.find(NEW_MOBILE) is None
    assert book.usable() == ACCOUNT.contact_points


# --- outcomes that cannot be recorded -------------------------------------------------------------------------


def test_a_failed_point_outcome_must_name_the_point():
    assert (
        outcome_problem(ContactBook.of(ACCOUNT), outcome("line_dead", None))
        == "outcome line_dead needs the contact point it is about"
    )


def test_an_outcome_about_a_point_not_on_file_is_refused():
    assert (
        outcome_problem(ContactBook.of(ACCOUNT), outcome("no_answer", "+8613999999999"))
        == "outcome O1 names a contact point that is not on file"
    )


def test_outcomes_about_the_debtor_or_a_known_point_are_recorded():
    book = ContactBook.of(ACCOUNT)
    assert outcome_problem(book, outcome("unable_to_pay", None)) == ""
    assert outcome_problem(book, outcome("wrong_number", MOBILE)) == ""


# --- the outcome tree -----------------------------------------------------------------------------------------


def test_every_outcome_code_has_a_place_in_the_tree():
    assert set(STRATEGY_OF) == set(get_args(OutcomeCode))


def test_the_tree_sends_each_answer_to_its_strategy():
    assert STRATEGY_OF["unable_to_pay"] is Strategy.unable_to_pay
    assert STRATEGY_OF["unwilling_to_pay"] is Strategy.unwilling_to_pay
    assert STRATEGY_OF["death"] is STRATEGY_OF["bankruptcy"] is Strategy.death_or_bankruptcy
    assert STRATEGY_OF["reached"] is STRATEGY_OF["promised"] is None  # the promise itself is followed
    not_reached = (
        "no_answer",
        "busy",
        "not_found",
        "line_dead",
        "wrong_number",
        "no_such_person",
        "resigned",
        "moved",
        "address_invalid",
    )
    assert {STRATEGY_OF[code] for code in not_reached} == {Strategy.no_answer}


# --- no answer: a text now, another call tomorrow evening -----------------------------------------------------


def test_no_answer_before_the_send_time_texts_at_the_send_time_and_calls_tomorrow_at_19(consumer):
    planned = reactions(consumer, ACCOUNT, Strategy.no_answer, at(2026, 3, 4, 9), "outcome O1", MOBILE)
    assert [(p.step_id, p.channel, p.due_at) for p in planned] == [
        ("missed_you_sms", "sms", at(2026, 3, 4, 10)),
        ("no_answer_call", "call", at(2026, 3, 5, 19)),
    ]
    assert {p.tried_last for p in planned} == {MOBILE}
    assert {p.cause for p in planned} == {"outcome O1"}
    assert [p.key for p in planned] == ["missed_you_sms:outcome-O1", "no_answer_call:outcome-O1"]


def test_no_answer_after_the_send_time_texts_at_once(consumer):
    now = at(2026, 3, 4, 15, 20)
    planned = reactions(consumer, ACCOUNT, Strategy.no_answer, now, "outcome O1", MOBILE)
    assert [(p.step_id, p.due_at) for p in planned] == [
        ("missed_you_sms", now),
        ("no_answer_call", at(2026, 3, 5, 19)),
    ]


def test_reactions_carry_the_dpd_and_stage_of_their_day(consumer):
    planned = reactions(consumer, ACCOUNT, Strategy.no_answer, at(2026, 3, 5, 15), "outcome O1", MOBILE)
    assert [(p.dpd, p.stage) for p in planned] == [(4, "1-5"), (5, "1-5")]
    planned = reactions(consumer, ACCOUNT, Strategy.no_answer, at(2026, 3, 6, 15), "outcome O1", MOBILE)
    assert [(p.dpd, p.stage) for p in planned] == [(5, "1-5"), (6, "6-17")]


# --- the next call dials the unanswered number last -----------------------------------------------------------


def test_the_next_call_dials_the_number_that_went_unanswered_last(consumer):
    points = contact.contact_points_for(ACCOUNT.contact_points, Channel.call, consumer.stage_at(10), MOBILE)
    assert [p.value for p in points] == [HOME, SPOUSE, MOBILE]


def test_without_an_unanswered_number_the_stage_order_stands(consumer):
    points = contact.contact_points_for(ACCOUNT.contact_points, Channel.call, consumer.stage_at(10))
    assert [p.value for p in points] == [MOBILE, HOME, SPOUSE]


def test_an_early_stage_call_never_moves_a_contacts_phone_in(consumer):
    points = contact.contact_points_for(ACCOUNT.contact_points, Channel.call, consumer.stage_at(3), MOBILE)
    assert [p.value for p in points] == [HOME, MOBILE]
