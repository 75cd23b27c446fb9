"""Champion against challenger on numbers whose answers are published or computed another way, and on samples too
small to tell."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2_contingency, t

from dunning.comparison import compare_arms, compare_means, compare_proportions, compare_ratios
from dunning.measures import ArmCounts, ArmOutcome, ArmResults
from dunning.reporting import SampleRules, load_sample_rules

RULES = SampleRules(min_accounts_per_arm=30, min_expected_outcomes=5, confidence=0.95, bootstrap_resamples=2000, seed=7)
ARMS = ("champion", "gentle")


def test_a_difference_of_proportions_has_newcombes_published_interval():
    # Newcombe (1998), Statistics in Medicine 17:873, table II example (a): 56/70 against 48/80, method 10.
    found = compare_proportions("cure_rate", (48, 80), (56, 70), RULES, ARMS)
    assert found.difference == pytest.approx(0.2)
    assert (found.low, found.high) == (pytest.approx(0.0524, abs=5e-5), pytest.approx(0.3339, abs=5e-5))
    # The score test is Pearson's chi-square on the 2x2 table.
    pearson = chi2_contingency([[56, 14], [48, 32]], correction=False)
    assert found.p_value == pytest.approx(pearson.pvalue)
    assert (found.champion_value, found.challenger_value, found.too_small) == (0.6, 0.8, False)


def test_a_proportion_in_small_arms_is_too_small():
    found = compare_proportions("cure_rate", (3, 10), (9, 10), RULES, ARMS)
    assert found.too_small and found.why == "fewer than 30 in an arm (10 against 10)"
    assert (found.difference, found.low, found.high, found.p_value) == (None, None, None, None)
    assert (found.champion_value, found.challenger_value) == (0.3, 0.9)


def test_a_rare_success_is_too_small_even_in_large_arms():
    found = compare_proportions("promise_kept_rate", (1, 200), (2, 200), RULES, ARMS)
    assert found.too_small and "expects 1.5 successes or failures" in found.why


def test_means_by_welchs_test():
    champion, challenger = [float(n % 7) for n in range(40)], [float(n % 9) for n in range(45)]
    found = compare_means("contacts_per_account", champion, challenger, RULES, ARMS)
    # Welch by hand: the difference over the unpooled standard error, Welch-Satterthwaite degrees of freedom.
    v0, v1 = np.var(champion, ddof=1) / 40, np.var(challenger, ddof=1) / 45
    dof = (v0 + v1) ** 2 / (v0**2 / 39 + v1**2 / 44)
    half = t.ppf(0.975, dof) * np.sqrt(v0 + v1)
    difference = np.mean(challenger) - np.mean(champion)
    assert found.difference == pytest.approx(difference)
    assert (found.low, found.high) == (pytest.approx(difference - half), pytest.approx(difference + half))
    assert found.method == "welch" and 0 < found.p_value < 1


def test_ratios_by_a_seeded_bootstrap_that_repeats():
    rng = np.random.default_rng(1)
    champion = (list(rng.integers(0, 1000, 60)), list(rng.random(60) < 0.4))
    challenger = (list(rng.integers(0, 1000, 60)), list(rng.random(60) < 0.6))
    first = compare_ratios("cost_per_cure", champion, challenger, RULES, ARMS)
    again = compare_ratios("cost_per_cure", champion, challenger, RULES, ARMS)
    assert first == again and not first.too_small and first.p_value is None
    assert first.low < first.difference < first.high
    assert first.difference == pytest.approx(
        sum(challenger[0]) / sum(challenger[1]) - sum(champion[0]) / sum(champion[1])
    )


def test_a_ratio_with_few_cures_is_too_small():
    found = compare_ratios("cost_per_cure", ([100] * 40, [0] * 38 + [1, 1]), ([100] * 40, [1] * 40), RULES, ARMS)
    assert found.too_small and found.why == "an arm has 2 in the denominator (at least 5)"


def test_every_challenger_is_compared_with_the_champion_on_every_measure():
    outcomes = [
        ArmOutcome(
            arm=arm, cured=i % 2 == 0, days_to_cure=9 if i % 2 == 0 else None, contacts=i % 5, cost_minor=100 * (i % 3)
        )
        for arm in ("champion", "gentle", "holdout")
        for i in range(4)
    ]
    counts = [ArmCounts(arm="champion", promises_due=2, promises_kept=1), ArmCounts(arm="gentle", attempts=3)]
    results = ArmResults(experiment="collect@1", currency="CNY", window_days=30, outcomes=outcomes, counts=counts)
    found = compare_arms(results, load_sample_rules())
    assert [(c.challenger, c.measure) for c in found] == [
        (arm, measure)
        for arm in ("gentle", "holdout")
        for measure in (
            "cure_rate",
            "promise_kept_rate",
            "right_party_contact_rate",
            "contacts_per_account",
            "days_to_cure",
            "cost_per_cure",
            "contacts_per_cure",
        )
    ]
    assert all(c.too_small and c.why for c in found)  # four accounts an arm cannot tell anything
