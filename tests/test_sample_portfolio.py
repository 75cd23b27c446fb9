"""The sample portfolio `make run` opens: valid, varied, and dated relative to the day it runs."""

from __future__ import annotations

from collections import Counter
from datetime import date

from cli.devstack import dated_portfolio
from client import inputs
from dunning import ladder
from dunning.experiments import load_experiments
from dunning.policy import load_policy
from dunning.segments import load_segmentation
from dunning.treatment import choose_treatment

SEGMENTATION = load_segmentation("standard")
EXPERIMENTS = load_experiments()


def test_the_sample_portfolio_is_about_fifty_varied_valid_accounts(tmp_path):
    today = date(2026, 11, 22)
    documents = inputs.parse_csv(dated_portfolio(today, target_dir=tmp_path))
    assert 45 <= len(documents) <= 60
    assert set(Counter(d.product for d in documents)) == {
        "consumer_loan",
        "us_consumer_loan",
        "b2b_receivables",
        "property_fees",
    }
    assert len({d.currency for d in documents}) >= 4 and len({d.time_zone for d in documents}) >= 6
    # Consumer loans are treated by their segment and the running experiment; the others name their policy.
    treated = [choose_treatment(d, SEGMENTATION, EXPERIMENTS, ladder.dpd_on(d.due_date, today)) for d in documents]
    assert {d.policy is None for d in documents if d.product == "consumer_loan"} == {True}
    assert {t.segment for _, t in treated} == {"low_risk", "potential", "high_risk", "long_term"}
    assert {t.arm for _, t in treated} >= {"champion", "plan_offer", "named"}
    stages = {
        ladder.stage_id(load_policy(name), ladder.dpd_on(d.due_date, today)) for d, (name, _) in zip(documents, treated)
    }
    # Ops see accounts spread across the ladder from the first minute, not all in one stage.
    assert {"1-5", "6-17", "18-29", "30-59", "60-89", "90+", "pre_due", "locked"} <= stages
