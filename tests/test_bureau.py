"""The furnishing gate (12 CFR 1006.30(a), passive collection) as pure rules: nothing is reported to a credit bureau
before the account has spoken with the debtor, or posted a letter about the debt and waited the rule set's days
without it coming back. The due date is Monday 2026-03-02 in Chicago; US daylight saving starts on 2026-03-08, inside
the 14 days, and the days are the debtor's calendar days all the same."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from dunning import bureau
from dunning.bureau import LetterPosted
from dunning.case import Case
from dunning.compliance import FurnishingRules, load_rules
from dunning.ladder import AgendaStep
from dunning.ledger import Ledger
from dunning.letters import LetterDelivery, letter_ref
from dunning.policy import load_policy
from dunning.state import AccountState
from tests.conftest import make_account

CHICAGO = ZoneInfo("America/Chicago")
REG_F = load_rules("us_reg_f")
DUE = date(2026, 3, 2)


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A business instant in 2026, Chicago time."""
    return datetime(2026, month, day, hour, minute, tzinfo=CHICAGO)


def letter(ref: str = "L1", posted: datetime | None = None, returned: datetime | None = None) -> LetterPosted:
    return LetterPosted(letter_ref=ref, posted_at=posted or at(3, 2), returned_at=returned)


def gate(spoken: datetime | None, letters: list[LetterPosted], now: datetime, rules=REG_F) -> bureau.Gate:
    return bureau.gate(rules, "America/Chicago", spoken, letters, now)


# --- the gate ----------------------------------------------------------------------------------------------------


def test_under_regulation_f_nothing_goes_before_a_conversation_or_a_letter():
    answer = gate(None, [], at(3, 20))
    assert answer.verdict == "shut" and answer.opens_at is None  # only news opens it
    assert answer.reason == "not spoken with the debtor, and no letter about the debt posted yet"


def test_a_letter_opens_the_gate_once_the_fourteen_days_after_the_day_it_was_posted_have_passed():
    posted = [letter(posted=at(3, 2, 10))]
    waiting = gate(None, posted, at(3, 16, 23, 59))
    assert waiting.verdict == "shut"
    assert waiting.opens_at == datetime(2026, 3, 17, tzinfo=CHICAGO)  # 3 March to 16 March are the 14 days
    assert waiting.reason == (
        "not spoken with the debtor; letter L1 posted 2026-03-02: waiting 14 days for it to come back undelivered"
    )
    opened = gate(None, posted, at(3, 17, 0))
    assert opened.verdict == "open"
    assert opened.reason == "letter L1 posted 2026-03-02, not returned in the 14 days after"


def test_a_conversation_opens_the_gate_at_once_even_while_a_letter_waits():
    answer = gate(at(3, 4, 16), [letter()], at(3, 4, 16, 5))
    assert answer.verdict == "open"
    assert answer.reason == "spoke with the debtor at 2026-03-04 16:00 America/Chicago"
    assert gate(at(3, 4, 16), [], at(3, 4, 15)).verdict == "shut"  # not before it happened


def test_a_letter_returned_within_its_days_does_not_count_one_returned_later_does():
    returned_early = letter(returned=at(3, 9))
    answer = gate(None, [returned_early], at(3, 30))
    assert answer.verdict == "shut" and answer.opens_at is None
    assert answer.reason == "not spoken with the debtor, and letter L1 came back undelivered"
    # The next letter's days run from its own day.
    second = letter("L2", posted=at(3, 12))
    assert gate(None, [returned_early, second], at(3, 20)).opens_at == datetime(2026, 3, 27, tzinfo=CHICAGO)
    # Back after its days were over: it already did its work.
    assert gate(None, [letter(returned=at(3, 18))], at(3, 30)).verdict == "open"


def test_the_earliest_letter_whose_days_ran_out_is_the_evidence():
    letters = [letter("L2", posted=at(3, 12)), letter("L1", posted=at(3, 2))]
    assert gate(None, letters, at(4, 1)).reason == "letter L1 posted 2026-03-02, not returned in the 14 days after"
    assert gate(None, letters, at(3, 10)).opens_at == datetime(2026, 3, 17, tzinfo=CHICAGO)


@pytest.mark.parametrize(
    "rule_set, days",
    [("us_reg_f", 14), ("cn_consumer", 7), ("cn_commercial", None)],
)
def test_each_rule_set_names_its_days_or_no_gate(rule_set, days):
    furnishing = load_rules(rule_set).furnishing
    assert (furnishing.wait_after_letter_days if furnishing else None) == days


def test_no_gate_without_one_in_the_rule_set_as_for_rule_sets_pinned_before_it():
    pinned_before = REG_F.model_copy(update={"furnishing": None})
    answer = gate(None, [], at(3, 2), rules=pinned_before)
    assert answer.verdict == "open" and answer.reason == "no furnishing gate under rule set us_reg_f"
    assert gate(None, [], at(3, 2), rules=load_rules("cn_commercial")).verdict == "open"
    assert gate(None, [], at(3, 2), rules=None).verdict == "open"


# --- a case under Regulation F -----------------------------------------------------------------------------------


def us_case() -> Case:
    account = make_account(
        due=DUE,
        account_id="BUREAU-1",
        policy="us_consumer_loan",
        time_zone="America/Chicago",
        currency="USD",
        locale="en",
    )
    state = AccountState(ledger=Ledger(principal_minor=account.amount_due_minor), opened_at=at(3, 2, 9))
    return Case(account, load_policy("us_consumer_loan"), state)


def post_validation_notice(case: Case, now: datetime) -> str:
    """Takes the validation notice as the workflow does (the guard's check, then the step taken); returns its ref."""
    case.open_at(now)
    notice = next(p for p in case.state.agenda if p.step_id == "validation_notice")
    check = case.contact_check(notice, now)
    assert check is not None and check.verdict == "allowed"
    case.step_taken(notice, check, now, action_key="BUREAU-1:life:validation_notice")
    return letter_ref("BUREAU-1:life:validation_notice")


def test_a_report_filed_before_any_conversation_waits_and_goes_when_the_letters_days_are_over():
    case = us_case()
    ref = post_validation_notice(case, at(3, 2))
    assert [p.letter_ref for p in case.state.letters_posted] == [ref]

    filed = case.file_bureau_report("BUREAU-1:life:bureau_report:P1", "broken promise P1", at(3, 9), "P1")
    assert filed.verdict == "waiting"
    assert filed.detail is not None and filed.detail.waited_because == filed.reason
    assert filed.reason.startswith(f"not spoken with the debtor; letter {ref} posted 2026-03-02")
    assert [r.reason for r in case.state.bureau_reports] == ["broken promise P1"]
    opens = datetime(2026, 3, 17, tzinfo=CHICAGO)
    assert case.wake_at(None, at(3, 9)) == opens  # a durable timer for the gate

    assert case.release_bureau_report(at(3, 16, 23)) is None
    released = case.release_bureau_report(opens)
    assert released is not None and released.detail is not None
    assert released.detail.report_ref == bureau.report_ref("BUREAU-1:life:bureau_report:P1")
    assert released.reason == f"letter {ref} posted 2026-03-02, not returned in the 14 days after"
    assert case.state.bureau_reports == [] and case.wake_at(None, opens) != opens


def test_a_waiting_report_goes_right_after_a_conversation():
    case = us_case()
    post_validation_notice(case, at(3, 2))
    case.file_bureau_report("K1", "broken promise P1", at(3, 9), "P1")
    case.spoke_with_debtor(at(3, 10, 15), at(3, 10, 15, 1))
    released = case.release_bureau_report(at(3, 10, 15, 1))
    assert released is not None
    assert released.reason == "spoke with the debtor at 2026-03-10 15:00 America/Chicago"


def test_after_a_conversation_a_report_is_ready_when_filed():
    case = us_case()
    case.spoke_with_debtor(at(3, 3, 11), at(3, 3, 11))
    filed = case.file_bureau_report("K1", "broken promise P1", at(3, 9), "P1")
    assert filed.verdict == "applied" and case.state.bureau_reports == []


def test_a_waiting_report_is_withdrawn_when_the_account_closes_first():
    case = us_case()
    case.file_bureau_report("K1", "broken promise P1", at(3, 9), "P1")
    assert [r.action_key for r in case.withdraw_bureau_reports()] == ["K1"]
    assert case.state.bureau_reports == [] and case.release_bureau_report(at(5, 1)) is None


def test_the_mail_vendors_evidence_moves_a_letters_days_or_takes_it_out_of_the_count():
    case = us_case()
    ref = post_validation_notice(case, at(3, 2))

    def delivery(event_id: str, status: str, when: datetime, reason: str | None = None) -> LetterDelivery:
        return LetterDelivery(
            event_id=event_id, letter_ref=ref, status=status, reason=reason, address="1 Test Road", occurred_at=when
        )

    case.apply_letter_delivery(delivery("E1", "sent", at(3, 4, 8)), at(3, 4, 9))  # posted two days after queued
    assert case.state.letters_posted[0].posted_at == at(3, 4, 8)
    assert bureau.gate_now(case, at(3, 10)).opens_at == datetime(2026, 3, 19, tzinfo=CHICAGO)
    case.apply_letter_delivery(delivery("E2", "returned", at(3, 12), "unclaimed"), at(3, 13))
    assert case.state.letters_posted[0].returned_at == at(3, 12)
    assert bureau.gate_now(case, at(3, 30)).verdict == "shut"


def test_only_letters_count_not_texts_nor_a_letter_that_waits_for_an_approver():
    case = us_case()
    post_validation_notice(case, at(3, 2))
    sms = AgendaStep(
        key="broken_promise_sms:P1",
        step_id="broken_promise_sms",
        channel="sms",
        dpd=9,
        stage="6-17",
        due_at=at(3, 11),
        cause="promise P1",
    )
    case.step_taken(sms, case.contact_check(sms, at(3, 11)), at(3, 11), action_key="BUREAU-1:life:sms")
    assert len(case.state.letters_posted) == 1

    # The receivables' lawyer's letter waits for the owner's approval: under a gate it would not count yet.
    b2b = load_policy("b2b_receivables")
    assert b2b.contact_rules is not None
    gated = b2b.contact_rules.model_copy(update={"furnishing": FurnishingRules(wait_after_letter_days=7)})
    account = make_account(due=DUE, account_id="BUREAU-2", policy="b2b_receivables")
    held = Case(
        account,
        b2b.model_copy(update={"contact_rules": gated}),
        AccountState(ledger=Ledger(principal_minor=account.amount_due_minor), opened_at=at(3, 2, 9)),
    )
    lawyer = next(p for p in held.plan if p.step_id == "lawyer_letter")
    check = held.contact_check(lawyer, lawyer.due_at)
    held.step_taken(lawyer, check, lawyer.due_at, action_key="BUREAU-2:life:lawyer_letter")
    assert check is not None and held.state.letters_posted == []


def test_under_a_rule_set_without_a_gate_no_letters_are_kept_and_reports_are_ready_at_once():
    case = us_case()
    rules = case.policy.contact_rules
    assert rules is not None
    case.policy = case.policy.model_copy(update={"contact_rules": rules.model_copy(update={"furnishing": None})})
    post_validation_notice(case, at(3, 2))
    assert case.state.letters_posted == []
    assert case.file_bureau_report("K1", "broken promise P1", at(3, 9)).verdict == "applied"


def test_letter_days_are_calendar_days_in_the_debtors_zone():
    late_evening = at(3, 2, 23, 30)
    end = bureau.letter_days_end(REG_F.furnishing, "America/Chicago", late_evening)
    assert end == datetime.combine(date(2026, 3, 17), time(0), CHICAGO)
    assert end - late_evening < timedelta(days=15)
