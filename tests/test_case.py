"""The transitions of a case (dunning/case.py) as pure rules: what each piece of news does to one account under
collection, without Temporal or a database. The due date is Monday 2026-03-02 under consumer_loan, whose cn_mainland
calendar has no holiday in March 2026, so every step time, reminder and grace period below is fixed."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dunning.account import ContactPoint, PaymentReceived, PaymentReversed
from dunning.actions import Strategy
from dunning.case import Case
from dunning.change import Change
from dunning.channels import Channel
from dunning.commitments import Instalment, PlanProposed, PromiseMade
from dunning.contact import CeaseContact
from dunning.disputes import DisputeOpened, DisputeResolved, first_collector_queue
from dunning.fraud import FraudClaimDecided, FraudClaimed
from dunning.ledger import Ledger
from dunning.outcomes import ContactOutcome, ContactUpdated
from dunning.state import AccountState
from dunning.verification import DebtorEventReported, DocumentsVerified
from tests.conftest import UNIT_TESTS_TODAY, make_account, pinned

SHANGHAI = ZoneInfo("Asia/Shanghai")
DUE = date(2026, 3, 2)  # a Monday
OWED = 250_000
POLICY = pinned("consumer_loan", UNIT_TESTS_TODAY)


def at(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A business instant in 2026, Shanghai time."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def case_due(due: date = DUE, treatment_replaces_catch_up: bool = True, **account) -> Case:
    acc = make_account(due=due, account_id="CASE-1", amount_minor=OWED, **account)
    opened = datetime.combine(due, time(9), tzinfo=SHANGHAI)
    return Case(
        acc,
        POLICY,
        AccountState(ledger=Ledger(principal_minor=acc.amount_due_minor), opened_at=opened),
        treatment_replaces_catch_up=treatment_replaces_catch_up,
    )


def phone(case: Case, kind: str) -> str:
    return next(p.value for p in case.account.contact_points if p.kind == kind and p.owner == "debtor")


def spouse_phone(case: Case) -> str:
    return next(p.value for p in case.account.contact_points if p.owner == "contact")


def answer(change: Change) -> tuple[str, list]:
    """A dispute's verdict as its record writes it, and the steps it skipped."""
    return change.text, change.skipped


def keys(steps) -> list[str]:
    return [p.key for p in steps]


# --- payloads, at fixed business times --------------------------------------------------------------------------


def dispute(dispute_id: str = "D1", subject: str = "debt", when: datetime | None = None) -> DisputeOpened:
    return DisputeOpened(
        dispute_id=dispute_id, subject=subject, details="says the loan was repaid", opened_at=when or at(3, 2)
    )


def resolution(
    dispute_id: str = "D1", outcome: str = "debt_confirmed", when: datetime | None = None
) -> DisputeResolved:
    return DisputeResolved(dispute_id=dispute_id, outcome=outcome, resolved_at=when or at(3, 10))


def report(report_id: str = "R1", event: str = "deceased", when: datetime | None = None) -> DebtorEventReported:
    return DebtorEventReported(
        report_id=report_id, event=event, details="reported by the spouse", reported_at=when or at(3, 2)
    )


def documents(report_id: str = "R1", confirmed: bool = True, when: datetime | None = None) -> DocumentsVerified:
    return DocumentsVerified(report_id=report_id, confirmed=confirmed, verified_at=when or at(3, 9))


def cease(*channels: str, request_id: str = "C1") -> CeaseContact:
    return CeaseContact(request_id=request_id, channels=list(channels), reason="asked to stop", received_at=at(3, 4))


def promise(
    promise_id: str = "P1", day: date = date(2026, 3, 9), amount_minor: int = OWED, hour: time | None = None
) -> PromiseMade:
    return PromiseMade(
        promise_id=promise_id,
        amount_minor=amount_minor,
        promised_date=day,
        promised_hour=hour,
        channel="call",
        taken_by="agent-7",
        made_at=at(3, 4, 11),
    )


def repayment_plan(plan_id: str = "PLAN1") -> PlanProposed:
    return PlanProposed(
        plan_id=plan_id,
        cause="job_loss",
        agreed_by="agent-7",
        agreed_at=at(3, 4, 11),
        instalments=[
            Instalment(due_date=date(2026, 3, 20), amount_minor=100_000),
            Instalment(due_date=date(2026, 4, 20), amount_minor=150_000),
        ],
    )


def payment(amount_minor: int, payment_id: str = "PAY1", when: datetime | None = None) -> PaymentReceived:
    return PaymentReceived(payment_id=payment_id, amount_minor=amount_minor, currency="CNY", paid_at=when or at(3, 5))


def reversal(payment_id: str = "PAY1") -> PaymentReversed:
    return PaymentReversed(payment_id=payment_id, reason="debit bounced", reversed_at=at(3, 6))


def outcome(outcome_id: str, code: str, point: str | None = None, when: datetime | None = None) -> ContactOutcome:
    return ContactOutcome(
        outcome_id=outcome_id,
        code=code,
        source="dialer",
        contact_point=point,
        reported_by="dialer-1",
        occurred_at=when or at(3, 4),
    )


def claim(claim_id: str = "F1", when: datetime | None = None) -> FraudClaimed:
    return FraudClaimed(
        claim_id=claim_id, clues="a former flatmate had my ID card", taken_by="agent-7", claimed_at=when or at(3, 2)
    )


def decision(outcome: str, claim_id: str = "F1", when: datetime | None = None) -> FraudClaimDecided:
    return FraudClaimDecided(claim_id=claim_id, outcome=outcome, decided_at=when or at(3, 10))


# --- disputes and complaints ------------------------------------------------------------------------------------


def test_a_dispute_of_the_debt_pauses_collection():
    case = case_due()
    assert answer(case.apply_dispute(dispute(), at(3, 2))) == ("applied", [])
    assert case.state.paused_since == at(3, 2)
    assert case.pauses_collection()
    assert [d.dispute_id for d in case.state.open_disputes] == ["D1"]


def test_a_complaint_about_the_collector_moves_the_account_to_the_other_queue_without_pausing():
    case = case_due()
    first = first_collector_queue(POLICY, "CASE-1")
    assert case.state.collector_queue == first
    assert answer(case.apply_dispute(dispute("K1", subject="collector"), at(3, 4))) == ("applied", [])
    other = next(q for q in POLICY.collector_queues if q != first)
    assert case.state.collector_queue == other
    assert case.state.paused_since is None
    assert not case.pauses_collection()


def test_a_resolution_before_its_dispute_is_held_then_settled_right_after_the_dispute():
    case = case_due()
    early = resolution(when=at(3, 3))
    assert answer(case.apply_dispute(early, at(3, 3))) == ("held: its dispute has not arrived yet", [])
    assert case.state.early_resolutions == [early]
    assert case.state.open_disputes == []
    # Held again when resent before its dispute: still waiting once.
    assert answer(case.apply_dispute(early, at(3, 3, 13)))[0] == "held: its dispute has not arrived yet"
    assert case.state.early_resolutions == [early]

    # The dispute brings the resolution as news, which the workflow settles right after it.
    opened = dispute(when=at(3, 4))
    change = case.apply_dispute(opened, at(3, 4))
    assert answer(change) == ("applied", [])
    assert change.news == [early]
    assert case.state.early_resolutions == []

    verdict, _ = answer(case.apply_dispute(change.news[0], at(3, 4)))
    assert verdict == "applied"
    assert case.state.decided_disputes == ["D1"]
    assert case.state.paused_since is None


def test_a_resent_dispute_or_resolution_is_a_duplicate():
    case = case_due()
    case.apply_dispute(dispute(), at(3, 2))
    assert answer(case.apply_dispute(dispute(), at(3, 3))) == ("duplicate", [])
    assert len(case.state.open_disputes) == 1
    case.apply_dispute(resolution(), at(3, 4))
    assert answer(case.apply_dispute(resolution(), at(3, 5))) == ("duplicate", [])
    assert answer(case.apply_dispute(dispute(), at(3, 5))) == ("duplicate", [])
    assert case.state.open_disputes == []
    assert case.state.rejected_signals == []


def test_an_outcome_that_does_not_fit_the_dispute_is_rejected_and_the_dispute_stays_open():
    case = case_due()
    case.apply_dispute(dispute(), at(3, 2))
    verdict, skipped = answer(case.apply_dispute(resolution(outcome="complaint_closed"), at(3, 4)))
    assert verdict == "rejected: outcome complaint_closed does not fit a dispute about the debt"
    assert skipped == []
    assert case.state.rejected_signals == ["dispute D1: outcome complaint_closed does not fit a dispute about the debt"]
    assert [d.dispute_id for d in case.state.open_disputes] == ["D1"]
    assert case.state.paused_since == at(3, 2)


def test_a_complaint_cannot_be_settled_by_confirming_the_debt():
    case = case_due()
    case.apply_dispute(dispute("K1", subject="approval"), at(3, 2))
    verdict, _ = answer(case.apply_dispute(resolution("K1", outcome="debt_confirmed"), at(3, 4)))
    assert verdict == "rejected: outcome debt_confirmed does not fit a dispute about the approval"
    assert case.state.rejected_signals == [
        "dispute K1: outcome debt_confirmed does not fit a dispute about the approval"
    ]


def test_a_debt_confirmed_days_later_resumes_the_ladder_skipping_all_but_the_latest_step_of_each_channel():
    case = case_due()
    case.apply_dispute(dispute(), at(3, 2))  # dpd 0: before any step
    verdict, skipped = answer(case.apply_dispute(resolution(), at(3, 10)))  # dpd 8, stage 6-17
    assert verdict == "applied"
    assert keys(skipped) == ["sms_reminder@1", "call_task@1", "sms_reminder@3"]
    assert case.state.paused_since is None
    assert case.state.status == "open"
    # The latest missed call and SMS (both at 6 dpd) are still to be taken, at once.
    nxt = case.next_step()
    assert nxt is not None and nxt.key == "call_task@6"
    assert set(case.state.done_steps) == {"sms_reminder@1", "call_task@1", "sms_reminder@3"}


def test_a_debt_confirmed_while_another_debt_dispute_is_open_keeps_collection_paused():
    case = case_due()
    case.apply_dispute(dispute("D1"), at(3, 2))
    case.apply_dispute(dispute("D2"), at(3, 3))
    assert answer(case.apply_dispute(resolution("D1"), at(3, 10))) == ("applied", [])
    assert case.state.paused_since == at(3, 2)
    assert case.state.done_steps == []


def test_a_cancelled_debt_closes_the_case_as_cancelled():
    case = case_due()
    case.apply_dispute(dispute(), at(3, 2))
    verdict, skipped = answer(case.apply_dispute(resolution(outcome="debt_cancelled"), at(3, 10)))
    assert (verdict, skipped) == ("applied", [])
    assert case.state.status == "cancelled"
    assert case.state.closed_at == at(3, 10)
    assert case.state.paused_since is None


# --- death and bankruptcy ---------------------------------------------------------------------------------------


def test_a_death_report_pauses_collection_and_awaits_documents_for_30_days():
    case = case_due()
    change = case.apply_verification(report(), at(3, 4)).detail
    assert change is not None
    assert change.status == "awaiting_documents"
    assert change.verification.report.report_id == "R1"
    assert change.verification.review_by == at(3, 4) + timedelta(days=30)
    assert case.state.paused_since == at(3, 4)
    assert case.documents_due() == at(4, 3)
    # The same report again changes nothing.
    assert case.apply_verification(report(), at(3, 5)).verdict == "duplicate"
    assert len(case.state.verifications) == 1


def test_documents_before_their_report_are_held_then_settled_right_after_the_report():
    case = case_due()
    early = documents(when=at(3, 3))
    assert case.apply_verification(early, at(3, 3)).verdict == "waiting"
    assert case.state.early_documents == [early]
    assert case.state.paused_since is None
    assert case.view(at(3, 3)).waiting_for_their_event == ["documents for report R1"]

    reported = report(when=at(3, 4))
    change = case.apply_verification(reported, at(3, 4))
    assert change.detail is not None and change.detail.status == "awaiting_documents"
    assert change.news == [early]  # settled by the workflow right after the report
    assert case.state.early_documents == []

    settled = case.apply_verification(change.news[0], at(3, 4)).detail
    assert settled is not None and settled.status == "confirmed"
    assert case.state.status == "estate"


def test_confirmed_death_documents_close_the_case_for_the_estate():
    case = case_due()
    case.apply_verification(report(), at(3, 2))
    change = case.apply_verification(documents(when=at(3, 9)), at(3, 9, 15)).detail
    assert change is not None
    assert change.status == "confirmed"
    assert change.decided_at == at(3, 9)
    assert case.state.status == "estate"
    assert case.state.closed_at == at(3, 9, 15)
    assert case.state.paused_since is None
    assert case.state.verifications == []
    assert case.state.decided_reports == ["R1"]
    # A resend of the documents changes nothing.
    assert case.apply_verification(documents(), at(3, 10)).verdict == "duplicate"


def test_confirmed_bankruptcy_papers_close_the_case_for_the_bankruptcy():
    case = case_due()
    case.apply_verification(report(event="bankrupt"), at(3, 2))
    change = case.apply_verification(documents(), at(3, 9)).detail
    assert change is not None and change.status == "confirmed"
    assert case.state.status == "bankruptcy"


def test_documents_that_do_not_confirm_the_report_resume_collection():
    case = case_due()
    case.apply_verification(report(), at(3, 2))
    change = case.apply_verification(documents(confirmed=False), at(3, 10))
    assert change.detail is not None
    assert change.detail.status == "not_confirmed"
    assert keys(change.skipped) == ["sms_reminder@1", "call_task@1", "sms_reminder@3"]
    assert case.state.status == "open"
    assert case.state.paused_since is None


def test_without_documents_within_30_days_the_report_expires_and_collection_resumes():
    case = case_due()
    case.apply_verification(report(), at(3, 2))  # documents due by 1 April, 12:00 (30 dpd)
    assert case.expire_verifications(at(4, 1, 11, 59)) == []
    assert case.state.paused_since == at(3, 2)

    changes = case.expire_verifications(at(4, 1))
    assert [c.detail.status for c in changes if c.detail] == ["expired"]
    assert changes[0].detail and changes[0].detail.decided_at == at(4, 1)
    # At 30 dpd (stage 30-59) the latest missed SMS, call and letter are still taken; the rest are skipped.
    assert keys(changes[0].skipped) == [
        "sms_reminder@1",
        "call_task@1",
        "sms_reminder@3",
        "call_task@6",
        "sms_urge@6",
        "letter_first@10",
        "sms_urge@12",
        "call_task@18",
        "sms_firm@18",
    ]
    assert case.state.paused_since is None
    assert case.state.verifications == []
    assert [v.report.report_id for v in case.state.expired_verifications] == ["R1"]
    assert case.documents_due() is None
    nxt = case.next_step()
    assert nxt is not None and nxt.key == "letter_second@20"


def test_documents_that_come_after_expiry_still_close_the_case():
    case = case_due()
    case.apply_verification(report(), at(3, 2))
    case.expire_verifications(at(4, 1))
    change = case.apply_verification(documents(when=at(4, 8)), at(4, 8)).detail
    assert change is not None and change.status == "confirmed"
    assert case.state.status == "estate"
    assert case.state.expired_verifications == []


# --- cease requests ---------------------------------------------------------------------------------------------


def test_a_cease_request_for_email_only_stops_email_only():
    case = case_due()
    assert case.apply_cease(cease("email")).verdict == "applied"
    assert case.state.ceased_channels == [Channel.email]
    assert case.apply_cease(cease("sms", request_id="C2")).verdict == "applied"
    assert case.state.ceased_channels == [Channel.email, Channel.sms]


def test_a_cease_request_naming_no_channel_stops_every_contact_channel():
    case = case_due()
    assert case.apply_cease(cease()).verdict == "applied"
    assert set(case.state.ceased_channels) == {
        Channel.sms,
        Channel.email,
        Channel.call,
        Channel.letter,
        Channel.field_visit,
    }


def test_a_cease_request_naming_only_a_channel_that_does_not_reach_the_debtor_is_refused():
    case = case_due()
    assert case.apply_cease(cease("agency")).verdict == "refused"
    assert case.state.ceased_channels == []
    assert case.state.rejected_signals == ["cease request C1 names no channel that reaches the debtor"]


# --- promises and plans -----------------------------------------------------------------------------------------


def test_a_valid_promise_opens_schedules_its_reminders_and_holds_the_ladder():
    case = case_due()
    ladder_next = case.next_step()
    assert ladder_next is not None and ladder_next.key == "sms_reminder@1"
    changes = case.take_commitment(promise(day=date(2026, 3, 9)), at(3, 4, 11)).detail or []
    assert [c.status for c in changes] == ["open"]
    assert case.state.commitment is not None and case.state.commitment.commitment_id == "P1"
    # Reminder one working day before (Friday), confirmations on the Monday at 10, 12 and 19.
    assert [(p.step_id, p.due_at) for p in case.state.agenda] == [
        ("promise_reminder", at(3, 6, 10)),
        ("promise_confirmation", at(3, 9, 10)),
        ("promise_confirmation", at(3, 9, 12)),
        ("promise_confirmation", at(3, 9, 19)),
    ]
    nxt = case.next_step()
    assert nxt is not None
    assert nxt.step_id == "promise_reminder" and nxt.due_at == at(3, 6, 10)
    # Woken at the reminder; the grace after Monday's promise ends on Thursday at 10:00 (two working days).
    assert case.wake_at(nxt, at(3, 4, 11)) == at(3, 6, 10)


def test_a_second_promise_replaces_the_first():
    case = case_due()
    case.take_commitment(promise("P1", day=date(2026, 3, 9)), at(3, 4, 11))
    changes = case.take_commitment(promise("P2", day=date(2026, 3, 10)), at(3, 5, 11)).detail or []
    assert [(c.status, c.commitment.commitment_id) for c in changes] == [("replaced", "P1"), ("open", "P2")]
    assert changes[0].skipped == []
    assert case.state.commitment is not None and case.state.commitment.commitment_id == "P2"
    assert "P1" in case.state.commitment_ids
    assert {p.cause for p in case.state.agenda} == {"promise P2"}
    assert case.state.broken_promises == 0


def test_a_promise_while_a_plan_runs_is_rejected():
    case = case_due()
    assert [c.status for c in case.take_commitment(repayment_plan(), at(3, 4, 11)).detail or []] == ["open"]
    changes = case.take_commitment(promise("P1"), at(3, 5, 11)).detail or []
    assert [c.status for c in changes] == ["rejected"]
    assert changes[0].reason == "plan PLAN1 is running; its instalments are the promise"
    assert case.state.rejected_signals == ["promise P1: plan PLAN1 is running; its instalments are the promise"]
    assert case.state.commitment is not None and case.state.commitment.commitment_id == "PLAN1"
    assert "P1" in case.state.commitment_ids


def test_a_promise_beyond_seven_days_is_rejected_and_the_ladder_goes_on():
    case = case_due()
    changes = case.take_commitment(promise(day=date(2026, 3, 12)), at(3, 4, 11)).detail or []
    assert [c.status for c in changes] == ["rejected"]
    assert case.state.commitment is None and case.state.agenda == []
    nxt = case.next_step()
    assert nxt is not None and nxt.key == "sms_reminder@1"


def test_a_resent_promise_changes_nothing():
    case = case_due()
    case.take_commitment(promise("P1"), at(3, 4, 11))
    agenda = list(case.state.agenda)
    assert case.take_commitment(promise("P1"), at(3, 4, 12)).verdict == "duplicate"
    assert case.state.agenda == agenda
    # Still nothing once it has been replaced.
    case.take_commitment(promise("P2"), at(3, 5, 11))
    assert case.take_commitment(promise("P1"), at(3, 5, 12)).verdict == "duplicate"
    assert case.state.commitment is not None and case.state.commitment.commitment_id == "P2"


def test_a_payment_counts_toward_the_open_promise():
    case = case_due()
    case.take_commitment(promise(), at(3, 4, 11))
    result = case.apply_payment(payment(100_000), at(3, 5))
    assert result.verdict == "applied"
    assert case.state.commitment is not None and case.state.commitment.paid_minor == 100_000
    assert case.state.ledger.outstanding_minor == OWED - 100_000
    assert case.state.status == "open"


def test_a_promise_is_open_until_its_grace_ends_then_broken_with_the_broken_promise_treatment():
    case = case_due()
    case.take_commitment(promise(day=date(2026, 3, 9)), at(3, 4, 11))
    # Grace: two working days after Monday 9 March, so broken from Thursday 12 March at 10:00.
    assert case.review_commitment(at(3, 12, 9, 59)) is None
    change = case.review_commitment(at(3, 12, 10))
    assert change is not None
    assert change.status == "broken"
    assert change.commitment.commitment_id == "P1"
    assert case.state.commitment is None
    assert case.state.broken_promises == 1
    assert "P1" in case.state.commitment_ids
    # The promise's reminders are gone; the broken-promise reactions take their place.
    assert [(p.step_id, p.due_at) for p in case.state.agenda] == [
        ("broken_promise_call", at(3, 12, 10)),
        ("broken_promise_sms", at(3, 12, 10)),
    ]
    assert all(p.instalment is None for p in case.state.agenda)
    # The ladder resumes at 10 dpd; the treatment's call and text stand in for its catch-up call and text.
    assert keys(change.skipped) == ["sms_reminder@1", "call_task@1", "sms_reminder@3", "call_task@6", "sms_urge@6"]
    old_runs = case_due(treatment_replaces_catch_up=False)
    old_runs.take_commitment(promise(day=date(2026, 3, 9)), at(3, 4, 11))
    assert keys(old_runs.review_commitment(at(3, 12, 10)).skipped) == [
        "sms_reminder@1",
        "call_task@1",
        "sms_reminder@3",
    ]
    assert case.review_commitment(at(3, 13)) is None


def test_a_promise_paid_in_part_by_the_end_of_its_grace_is_kept_in_part():
    case = case_due()
    case.take_commitment(promise(), at(3, 4, 11))
    case.apply_payment(payment(100_000), at(3, 9))
    change = case.review_commitment(at(3, 12, 10))
    assert change is not None and change.status == "kept_in_part"
    assert case.state.broken_promises == 0
    assert {p.step_id for p in case.state.agenda} == {"broken_promise_call", "broken_promise_sms"}


def test_a_payment_that_clears_the_balance_cures_the_case_and_the_promise_is_kept():
    case = case_due()
    case.take_commitment(promise(), at(3, 4, 11))
    result = case.apply_payment(payment(OWED), at(3, 6)).detail
    assert result and result.verdict == "applied" and result.outstanding_after_minor == 0
    assert case.state.status == "cured"
    assert case.state.closed_at == at(3, 6)
    change = case.close_commitment(at(3, 6))
    assert change is not None and change.status == "kept"
    assert case.state.commitment is None
    assert case.state.agenda == []
    assert case.state.broken_promises == 0
    assert case.close_commitment(at(3, 6)) is None


def test_a_reversed_payment_no_longer_counts_toward_the_promise():
    case = case_due()
    case.take_commitment(promise(), at(3, 4, 11))
    case.apply_payment(payment(100_000, "PAY1"), at(3, 5))
    case.apply_payment(payment(50_000, "PAY2"), at(3, 5, 13))
    change = case.apply_reversal(reversal("PAY1"), at(3, 6))
    assert change.detail and change.detail.verdict == "reversed" and change.skipped == []
    assert case.state.commitment is not None and case.state.commitment.paid_minor == 50_000
    assert case.state.ledger.outstanding_minor == OWED - 50_000


def test_a_plan_is_refused_while_collection_is_on_hold():
    case = case_due()
    case.apply_dispute(dispute(), at(3, 2))
    changes = case.take_commitment(repayment_plan(), at(3, 4, 11)).detail or []
    assert [c.status for c in changes] == ["rejected"]
    assert changes[0].reason.startswith("collection is on hold")
    assert case.state.commitment is None


# --- contact outcomes -------------------------------------------------------------------------------------------


def test_a_mobile_that_is_dead_twice_becomes_invalid_and_is_no_longer_used():
    case = case_due()
    mobile = phone(case, "mobile")
    first = case.apply_outcome(outcome("O1", "line_dead", mobile), at(3, 4))
    assert first.verdict == "applied" and first.detail and first.detail.changed_points == []
    assert mobile in {p.value for p in case.book.usable()}

    second = case.apply_outcome(outcome("O2", "line_dead", mobile, at(3, 5)), at(3, 5))
    assert second.detail and [r.point.value for r in second.detail.changed_points] == [mobile]
    assert second.detail.changed_points[0].invalid_since == at(3, 5)
    assert mobile not in {p.value for p in case.book.usable()}
    assert [r.point.value for r in case.view(at(3, 5)).invalid_points] == [mobile]
    assert case.state.lost_contact_since is None  # the home phone still works


def test_a_resent_outcome_is_a_duplicate_and_does_not_count_twice():
    case = case_due()
    mobile = phone(case, "mobile")
    case.apply_outcome(outcome("O1", "line_dead", mobile), at(3, 4))
    assert case.apply_outcome(outcome("O1", "line_dead", mobile), at(3, 5)).verdict == "duplicate"
    assert mobile in {p.value for p in case.book.usable()}


def test_an_outcome_about_a_point_not_on_file_is_rejected():
    case = case_due()
    change = case.apply_outcome(outcome("O1", "line_dead", "+8613000000000"), at(3, 4))
    assert change.text == "rejected: outcome O1 names a contact point that is not on file"
    assert case.state.rejected_signals == ["outcome O1: outcome O1 names a contact point that is not on file"]


def test_losing_every_debtor_phone_starts_tracing_once():
    case = case_due()
    case.apply_outcome(outcome("O0", "reached", phone(case, "mobile"), at(3, 2)), at(3, 2))  # lost mid-way, later
    case.apply_outcome(outcome("O1", "wrong_number", phone(case, "mobile")), at(3, 4))
    assert case.state.lost_contact_since is None
    change = case.apply_outcome(outcome("O2", "wrong_number", phone(case, "home_phone")), at(3, 4, 15))
    assert change.detail.strategy is Strategy.lost_contact
    assert case.state.lost_contact_since == at(3, 4, 15)
    lost = [(p.step_id, p.due_at) for p in case.state.agenda if p.cause == "lost O2"]
    assert lost == [("skip_trace", at(3, 4, 15)), ("tracing_visit", at(3, 7, 10))]
    assert case.view(at(3, 4, 15)).lost_contact

    # A further failure (the spouse's phone is not answered) does not start tracing again.
    further = case.apply_outcome(outcome("O3", "no_answer", spouse_phone(case), at(3, 5)), at(3, 5))
    assert further.detail.strategy is Strategy.no_answer
    assert case.state.lost_contact_since == at(3, 4, 15)
    assert [p for p in case.state.agenda if p.step_id in ("skip_trace", "tracing_visit") and p.cause != "lost O2"] == []


def test_a_debtor_never_reached_is_told_apart_from_one_lost_mid_way():
    case = case_due()
    case.apply_outcome(outcome("O1", "wrong_number", phone(case, "mobile")), at(3, 4))
    change = case.apply_outcome(outcome("O2", "wrong_number", phone(case, "home_phone")), at(3, 4, 15))
    assert change.detail.strategy is Strategy.never_reached
    never = [(p.step_id, p.due_at) for p in case.state.agenda if p.cause == "lost O2"]
    assert never == [("records_check", at(3, 4, 15)), ("first_tracing_visit", at(3, 7, 10))]


def test_a_message_left_with_family_is_pressed_again_after_two_days_and_a_second_after_three():
    case = case_due()
    first = case.apply_outcome(outcome("O1", "message_left", spouse_phone(case), at(3, 10, 15)), at(3, 10, 15))
    assert first.detail.strategy is Strategy.message_left
    assert [(p.step_id, p.due_at) for p in case.state.agenda] == [("repress_after_message", at(3, 12, 10))]
    second = case.apply_outcome(outcome("O2", "message_left", spouse_phone(case), at(3, 13, 15)), at(3, 13, 15))
    assert second.detail.strategy is Strategy.second_message_left
    assert [(p.step_id, p.due_at) for p in case.state.agenda] == [("repress_after_second_message", at(3, 16, 10))]


def test_unanswered_calls_in_a_row_bring_a_field_visit_where_the_stage_uses_visits():
    case = case_due()
    mobile, firm, severe = phone(case, "mobile"), at(3, 10, 15), DUE + timedelta(days=35)
    for n in range(9):  # 6-17: no visits in the stage, so the calls go on, and the count with them
        change = case.apply_outcome(outcome(f"A{n}", "no_answer", mobile, firm), firm)
    assert change.detail.strategy is Strategy.no_answer and case.state.unanswered_calls == 9
    case.apply_outcome(outcome("R1", "reached", mobile, firm), firm)  # an answer ends the run
    assert case.state.unanswered_calls == 0
    late = datetime.combine(severe, time(15), tzinfo=SHANGHAI)  # 30+: visits are the stage's
    for n in range(9):
        change = case.apply_outcome(outcome(f"B{n}", "busy" if n % 2 else "no_answer", mobile, late), late)
    assert change.detail.strategy is Strategy.repeated_no_answer and case.state.unanswered_calls == 0
    assert [p.step_id for p in case.state.agenda] == ["no_answer_visit"]


def test_a_new_debtor_mobile_ends_lost_contact():
    case = case_due()
    case.apply_outcome(outcome("O1", "wrong_number", phone(case, "mobile")), at(3, 4))
    case.apply_outcome(outcome("O2", "wrong_number", phone(case, "home_phone")), at(3, 4))
    assert case.state.lost_contact_since is not None
    update = ContactUpdated(
        update_id="U1",
        point=ContactPoint(kind="mobile", value="+8613900000001"),
        source="skip_trace",
        updated_at=at(3, 6),
    )
    change = case.apply_contact_update(update, at(3, 5))
    assert change.text == "added"
    assert change.detail and [r.point.value for r in change.detail.changed_points] == ["+8613900000001"]
    assert case.state.lost_contact_since is None
    assert not case.view(at(3, 6)).lost_contact
    assert "+8613900000001" in {p.value for p in case.book.usable()}
    assert case.apply_contact_update(update, at(3, 5)).verdict == "duplicate"


def test_a_death_outcome_queues_a_death_report_for_verification():
    case = case_due()
    change = case.apply_outcome(outcome("O1", "death"), at(3, 4))
    assert change.verdict == "applied" and change.detail.strategy is Strategy.death_or_bankruptcy
    [queued] = change.news
    assert isinstance(queued, DebtorEventReported)
    assert (queued.report_id, queued.event, queued.reported_at) == ("O1", "deceased", at(3, 4))
    assert case.state.agenda == []
    # The report itself pauses collection when the workflow gets to it.
    assert case.apply_verification(queued, at(3, 4)).detail.status == "awaiting_documents"
    assert case.state.paused_since == at(3, 4)


def test_a_no_answer_schedules_a_text_and_an_evening_call_on_another_number():
    case = case_due()
    mobile = phone(case, "mobile")
    change = case.apply_outcome(outcome("O1", "no_answer", mobile, at(3, 4, 9)), at(3, 4, 9))
    assert change.detail.strategy is Strategy.no_answer
    assert [(p.step_id, p.due_at, p.tried_last) for p in case.state.agenda] == [
        ("missed_you_sms", at(3, 4, 10), mobile),
        ("no_answer_call", at(3, 5, 19), mobile),
    ]
    # A new answer replaces the reactions to the last one.
    case.apply_outcome(outcome("O2", "unable_to_pay", when=at(3, 5, 9)), at(3, 5, 9))
    assert [p.step_id for p in case.state.agenda] == ["hardship_review"]


def test_an_outcome_while_a_promise_is_open_adds_no_reactions():
    case = case_due()
    case.take_commitment(promise(), at(3, 4, 11))
    agenda = list(case.state.agenda)
    change = case.apply_outcome(outcome("O1", "no_answer", phone(case, "mobile"), at(3, 5)), at(3, 5))
    assert change.verdict == "applied"
    assert case.state.agenda == agenda


# --- false-application claims -----------------------------------------------------------------------------------


def test_a_fraud_claim_pauses_collection_and_starts_its_flow():
    case = case_due()
    change = case.apply_claim(claim(), at(3, 2))
    assert change.verdict == "applied" and change.detail == claim()
    assert case.state.paused_since == at(3, 2)
    assert [c.claim_id for c in case.state.fraud_claims] == ["F1"]
    # The same claim again starts nothing.
    assert case.apply_claim(claim(), at(3, 3)).verdict == "duplicate"
    assert len(case.state.fraud_claims) == 1


def test_a_rejected_fraud_claim_resumes_collection_where_the_dpd_now_is():
    case = case_due()
    case.apply_claim(claim(), at(3, 2))
    change = case.apply_claim(decision("rejected"), at(3, 10))
    assert change.verdict == "applied" and change.detail is None
    assert keys(change.skipped) == ["sms_reminder@1", "call_task@1", "sms_reminder@3"]
    assert case.state.paused_since is None
    assert case.state.status == "open"
    assert case.state.decided_claims == ["F1"]
    # A resend of the decision or the claim changes nothing.
    assert case.apply_claim(decision("rejected"), at(3, 11)).verdict == "duplicate"
    assert case.apply_claim(claim(), at(3, 11)).verdict == "duplicate"


def test_a_confirmed_fraud_claim_withdraws_the_case():
    case = case_due()
    case.apply_claim(claim(), at(3, 2))
    change = case.apply_claim(decision("confirmed"), at(3, 10))
    assert change.verdict == "applied" and change.skipped == []
    assert case.state.status == "withdrawn"
    assert case.state.closed_at == at(3, 10)
    assert case.state.paused_since is None


def test_a_decision_for_an_unknown_claim_is_recorded_as_rejected():
    case = case_due()
    assert case.apply_claim(decision("confirmed", claim_id="F9"), at(3, 10)).verdict == "refused"
    assert case.state.rejected_signals == ["decision for fraud claim F9, but no such claim is open"]
    assert case.state.status == "open"


# --- what ops see -----------------------------------------------------------------------------------------------


def test_the_view_shows_no_next_action_while_collection_is_paused():
    case = case_due()
    before = case.view(at(3, 2))
    assert before.next_action == "sms_reminder@1" and before.next_action_at == at(3, 3, 10)
    case.apply_dispute(dispute(), at(3, 2))
    paused = case.view(at(3, 4))
    assert paused.next_action is None and paused.next_action_at is None
    assert [d.dispute_id for d in paused.open_disputes] == ["D1"]
    assert paused.dpd == 2 and paused.stage == "1-5"


def test_the_view_lists_news_waiting_for_the_event_it_is_about():
    case = case_due()
    case.apply_dispute(resolution("D9", when=at(3, 3)), at(3, 3))
    case.apply_verification(documents("R9", when=at(3, 3)), at(3, 3))
    view = case.view(at(3, 3))
    assert view.waiting_for_their_event == ["resolution of dispute D9", "documents for report R9"]
    assert view.next_action == "sms_reminder@1"  # held news does not pause collection


def test_the_view_shows_the_promise_reminder_as_the_next_action_while_a_promise_is_open():
    case = case_due()
    case.take_commitment(promise(day=date(2026, 3, 9)), at(3, 4, 11))
    view = case.view(at(3, 4, 11))
    assert view.next_action == "promise_reminder:P1#1.0"
    assert view.commitment is not None and view.commitment.commitment_id == "P1"
    assert [p.step_id for p in view.upcoming][:1] == ["promise_reminder"]


def test_a_promise_on_a_closed_or_paused_account_is_refused_with_the_reason():
    closed = case_due()
    closed.close_as("estate", at(3, 4))
    paused = case_due()
    paused.apply_dispute(dispute(when=at(3, 4, 9)), at(3, 4, 9))
    for case, reason in ((closed, "the account is estate"), (paused, "collection is on hold")):
        [change] = case.take_commitment(promise(), at(3, 4, 11)).detail or []
        assert change.status == "rejected" and change.reason.startswith(reason)
        assert case.state.commitment is None and case.state.agenda == []


def test_tracing_goes_on_when_another_answer_comes_while_the_account_is_lost():
    case = case_due()
    case.apply_outcome(outcome("O1", "wrong_number", phone(case, "mobile")), at(3, 4, 14))
    case.apply_outcome(outcome("O2", "wrong_number", phone(case, "home_phone")), at(3, 4, 15))
    case.apply_outcome(outcome("O3", "no_answer", spouse_phone(case)), at(3, 5, 11))
    assert {"records_check:lost-O2", "first_tracing_visit:lost-O2"} <= set(keys(case.state.agenda))  # never reached
    assert "missed_you_sms:outcome-O3" in keys(case.state.agenda)


def test_a_text_saying_paid_gets_the_payment_checked_and_one_asking_for_a_call_gets_a_call():
    case = case_due()
    mobile = phone(case, "mobile")
    paid = ContactOutcome(
        outcome_id="sms-1",
        code="says_paid",
        source="sms",
        contact_point=mobile,
        reported_by="sms reply",
        occurred_at=at(3, 15, 8),
    )
    assert case.apply_outcome(paid, at(3, 15, 8)).detail.strategy is Strategy.claims_paid
    assert [(p.step_id, p.due_at) for p in case.state.agenda] == [("payment_check", at(3, 15, 10))]
    call_me = paid.model_copy(update={"outcome_id": "sms-2", "code": "callback_requested"})
    case.apply_outcome(call_me, at(3, 16, 11))
    # The newer answer's reaction replaces the older one's: a call at once, the day's send time having passed.
    assert [(p.step_id, p.due_at) for p in case.state.agenda] == [("callback_call", at(3, 16, 11))]
    assert case.state.last_conversation_at is None  # a text is not a telephone conversation
