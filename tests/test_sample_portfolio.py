"""The sample portfolio `make run` opens: valid, varied, and dated relative to the day it runs."""

from __future__ import annotations

from collections import Counter
from datetime import date

from cli.devstack import dated_portfolio
from client import inputs
from dunning import ladder
from dunning.policy import load_policy


def test_the_sample_portfolio_is_about_fifty_varied_valid_accounts(tmp_path):
    today = date(2026, 11, 22)
    documents = inputs.parse_csv(dated_portfolio(today, target_dir=tmp_path))
    assert 45 <= len(documents) <= 60
    assert set(Counter(d.policy for d in documents)) == {
        "consumer_loan",
        "us_consumer_loan",
        "b2b_receivables",
        "property_fees",
    }
    assert len({d.currency for d in documents}) >= 4 and len({d.time_zone for d in documents}) >= 6
    stages = {ladder.stage_id(load_policy(d.policy), ladder.dpd_on(d.due_date, today)) for d in documents}
    # Ops see accounts spread across the ladder from the first minute, not all in one stage.
    assert {"1-5", "6-17", "18-29", "30-59", "60-89", "90+", "pre_due", "locked"} <= stages
