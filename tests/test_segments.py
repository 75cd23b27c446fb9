"""Segments, experiments and the treatment they choose, as pure rules: the scorecard of domain §11, the arm drawn
for an account, and the re-assessment that switches a segment's variant of the ladder."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dunning.account import SegmentOverride
from dunning.case import Case
from dunning.experiments import CHAMPION, HOLDOUT, ExperimentError, choose_arm, draw, load_experiments
from dunning.ledger import Ledger
from dunning.policy import PolicyError, load_policy
from dunning.segments import SegmentationError, assess, load_segmentation
from dunning.state import AccountState
from dunning.treatment import NAMED, TreatmentError, choose_treatment
from tests.conftest import make_account

SHANGHAI = ZoneInfo("Asia/Shanghai")
DUE = date(2026, 3, 2)
STANDARD = load_segmentation("standard")
EXPERIMENTS = load_experiments()


def debtor(**fields):
    """An account of 2,500 CNY with a spouse among its contacts (family ties), opened on its due date."""
    return make_account(DUE, account_id=fields.pop("account_id", "SEG-1"), **fields)


def test_an_account_billing_says_little_about_is_a_potential_payer():
    assessment = assess(STANDARD, debtor(), dpd_on_arrival=1, dpd=1, broken=0)
    assert assessment.segment == "potential"
    # Codes and points only: ops see why, and nothing personal.
    assert assessment.reason == (
        "score 15: amount 0, income 5, delinquencies 0, broken_promises 0, employment 10, family 0, "
        "arrival_dpd 0, product 0, creditor 0"
    )


def test_a_steady_earner_with_family_ties_is_low_risk():
    assessment = assess(STANDARD, debtor(income_band="middle", employment="employed"), 1, 1, 0)
    assert (assessment.segment, assessment.reason.split(":")[0]) == ("low_risk", "score 5")


def test_a_large_debt_and_weak_ability_is_high_risk():
    account = debtor(amount_minor=8_000_000, income_band="low", employment="unemployed", prior_delinquencies=2)
    assessment = assess(STANDARD, account, dpd_on_arrival=20, dpd=20, broken=0)
    assert (assessment.segment, assessment.reason.split(":")[0]) == ("high_risk", "score 75")


def test_from_90_dpd_an_account_is_long_term_whatever_its_score():
    account = debtor(income_band="high", employment="employed")
    assert assess(STANDARD, account, 95, 95, 0).segment == "long_term"
    assert assess(STANDARD, account, 1, 90, 0).reason == "dpd 90 >= 90"


def test_billing_may_override_the_segment_with_a_reason_code():
    account = debtor(segment_override=SegmentOverride(segment="high_risk", reason="fraud_watch_list"))
    assessment = assess(STANDARD, account, 1, 1, 0)
    assert (assessment.segment, assessment.reason) == ("high_risk", "override fraud_watch_list")


def test_a_segmentation_that_leaves_a_segment_untreated_is_refused(tmp_path: Path):
    text = (Path("segmentations") / "standard.yaml").read_text().replace("long_term: consumer_loan}", "}")
    (tmp_path / "standard.yaml").write_text(text)
    with pytest.raises(SegmentationError, match="treatments.consumer_loan: no policy for segment.s. long_term"):
        load_segmentation("standard", tmp_path)


def test_the_arm_is_drawn_from_the_account_and_the_experiment_alone():
    experiment = EXPERIMENTS[0]
    arms = experiment.segments["potential"]
    first = [choose_arm(experiment, arms, f"ACC-{n}").arm for n in range(4000)]
    # A resend, a replay or a bigger portfolio draws the same arm for the same account.
    assert first[:100] == [choose_arm(experiment, arms, f"ACC-{n}").arm for n in range(100)]
    assert [draw("another_experiment", f"ACC-{n}") for n in range(100)] != [
        draw(experiment.name, f"ACC-{n}") for n in range(100)
    ]
    shares = Counter(first)
    assert abs(shares[CHAMPION] / 4000 - 0.80) < 0.02
    assert abs(shares["plan_offer"] / 4000 - 0.15) < 0.02
    assert abs(shares[HOLDOUT] / 4000 - 0.05) < 0.01


def test_a_hold_out_keeps_the_champions_policy_and_stays_quiet_in_its_stages():
    experiment = EXPERIMENTS[0]
    held = next(
        n for n in range(1000) if choose_arm(experiment, experiment.segments["potential"], f"H-{n}").arm == HOLDOUT
    )
    choice = choose_arm(experiment, experiment.segments["potential"], f"H-{held}")
    assert (choice.policy, choice.quiet_stages) == ("consumer_loan", ["1-5"])


def test_a_named_policy_is_kept_and_the_segment_still_computed():
    name, treatment = choose_treatment(debtor(), STANDARD, EXPERIMENTS, dpd_on_arrival=1)
    assert (name, treatment.segment, treatment.arm, treatment.strategy) == ("consumer_loan", "potential", NAMED, NAMED)


def test_a_product_is_treated_by_its_segment_or_the_running_experiment():
    low = debtor(policy=None, product="consumer_loan", income_band="high", employment="employed")
    assert choose_treatment(low, STANDARD, EXPERIMENTS, 1)[0] == "consumer_loan"
    arms = Counter()
    for n in range(300):
        account = debtor(account_id=f"P-{n}", policy=None, product="consumer_loan")
        name, treatment = choose_treatment(account, STANDARD, EXPERIMENTS, 1)
        assert treatment.experiment == "consumer_plan_offer@v1"
        arms[(treatment.arm, name)] += 1
    assert set(arms) == {
        (CHAMPION, "consumer_loan"),
        ("plan_offer", "consumer_loan_plan_offer"),
        (HOLDOUT, "consumer_loan"),
    }


def test_a_stopped_experiment_draws_no_arm(tmp_path: Path):
    text = (Path("experiments") / "consumer_plan_offer.yaml").read_text().replace("status: running", "status: stopped")
    (tmp_path / "consumer_plan_offer.yaml").write_text(text)
    account = debtor(account_id="P-1", policy=None, product="consumer_loan")
    name, treatment = choose_treatment(account, STANDARD, load_experiments(tmp_path), 1)
    assert (name, treatment.arm, treatment.experiment) == ("consumer_loan", CHAMPION, None)


def test_an_unknown_product_or_no_segmentation_is_a_clear_refusal():
    with pytest.raises(TreatmentError, match="segmentation standard@v1 treats no product 'car_loan'"):
        choose_treatment(debtor(policy=None, product="car_loan"), STANDARD, EXPERIMENTS, 1)
    with pytest.raises(TreatmentError, match="no segmentation is in force"):
        choose_treatment(debtor(policy=None, product="consumer_loan"), None, [], 1)


def test_two_running_experiments_on_one_segment_are_refused(tmp_path: Path):
    text = (Path("experiments") / "consumer_plan_offer.yaml").read_text()
    (tmp_path / "consumer_plan_offer.yaml").write_text(text)
    (tmp_path / "second.yaml").write_text(text.replace("name: consumer_plan_offer", "name: second"))
    with pytest.raises(ExperimentError, match="both run on consumer_loan / potential"):
        load_experiments(tmp_path)


def test_an_arm_naming_a_missing_policy_or_stage_is_refused(tmp_path: Path):
    text = (Path("experiments") / "consumer_plan_offer.yaml").read_text()
    (tmp_path / "consumer_plan_offer.yaml").write_text(text.replace('["1-5"]', '["1-7"]'))
    with pytest.raises(ExperimentError, match=r"holdout.quiet_stages: 1-7 not a stage of consumer_loan@v8"):
        load_experiments(tmp_path)


def test_a_variant_omitting_a_step_the_ladder_lacks_is_refused(tmp_path: Path):
    text = (Path("policies") / "consumer_loan.yaml").read_text().replace("omit: [call_task]", "omit: [call_tsk]")
    (tmp_path / "consumer_loan.yaml").write_text(text)
    with pytest.raises(PolicyError, match="variants.low_risk.omit: no ladder step call_tsk"):
        load_policy("consumer_loan", tmp_path)


# --- the segment's variant, and re-assessment, in a case -----------------------------------------------------------


def case_in_segment(**fields) -> Case:
    account = debtor(policy=None, product="consumer_loan", **fields)
    opened = datetime.combine(DUE + timedelta(days=1), time(9), tzinfo=SHANGHAI)
    name, treatment = choose_treatment(account, STANDARD, [], dpd_on_arrival=1)
    state = AccountState(ledger=Ledger(principal_minor=account.amount_due_minor), opened_at=opened)
    case = Case(account, load_policy(name), state, treatment=treatment)
    case.open_at(opened)
    return case


def keys(case: Case) -> list[str]:
    return [p.key for p in case.plan]


def test_a_low_risk_account_gets_texts_and_a_plan_offer_before_any_call():
    case = case_in_segment(income_band="high", employment="employed")
    assert case.state.segment == "low_risk"
    assert "call_task@1" not in keys(case) and "call_task@6" not in keys(case)
    assert {"plan_offer_sms@8", "call_task_from_firm@18"} <= set(keys(case))


def test_a_broken_promise_moves_a_potential_payer_to_high_risk_from_the_next_step_on():
    case = case_in_segment(amount_minor=1_000_000, prior_broken_promises=1)  # score 40: potential
    assert case.state.segment == "potential" and "field_visit@45" in keys(case)
    case.state.broken_promises = 1
    change = case.reassess(datetime(2026, 3, 12, 9, tzinfo=SHANGHAI))  # 10 dpd
    assert change is not None
    assert (change.event, change.from_segment, change.to_segment) == ("broken_promise", "potential", "high_risk")
    assert "field_visit@45" not in keys(case) and "early_field_visit@31" in keys(case)
    # The high-risk plan offer was due at 7 dpd, before the change: skipped, not sent late.
    assert [p.key for p in change.skipped] == ["plan_offer_early_sms@7"]
    assert case.reassess(datetime(2026, 3, 12, 10, tzinfo=SHANGHAI)) is None  # nothing new since


def test_entering_the_terminal_phase_makes_the_account_long_term():
    case = case_in_segment()
    assert case.reassess(datetime(2026, 4, 1, 9, tzinfo=SHANGHAI)) is None  # mature (30 dpd): still potential
    assert case.state.phase == "mature"
    change = case.reassess(datetime(2026, 5, 31, 9, tzinfo=SHANGHAI))  # 90 dpd
    assert change is not None and (change.event, change.to_segment) == ("terminal", "long_term")
    assert "legal_action_review@90" in keys(case)
    assert case.view(datetime(2026, 5, 31, 9, tzinfo=SHANGHAI)).segment == "long_term"


def test_an_account_without_a_treatment_is_never_reassessed():
    account = debtor()
    state = AccountState(
        ledger=Ledger(principal_minor=account.amount_due_minor), opened_at=datetime(2026, 3, 2, 9, tzinfo=SHANGHAI)
    )
    case = Case(account, load_policy("consumer_loan"), state)
    state.broken_promises = 3
    assert case.reassess(datetime(2026, 6, 1, tzinfo=SHANGHAI)) is None and state.segment is None
