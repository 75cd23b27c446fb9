"""Champion against challenger: for each measure the difference challenger - champion, its interval and p-value, or
`too_small` with the reason when the sample cannot tell (reporting/comparison.yaml sets the rule).

Proportions (cure rate, promise-kept rate, right-party contact rate) use statsmodels for two independent proportions:
Newcombe's hybrid score interval (it never fails to converge, as the inverted score test can on small arms) and the
score test; means (contacts per account, days to cure) Welch's t-test; ratios of sums (cost per cure, contacts per
cure) a seeded percentile bootstrap of the accounts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import ModuleType
from typing import Literal

import numpy as np

from dunning.measures import ArmCounts, ArmOutcome, ArmResults, Row, share
from dunning.reporting import SampleRules

Method = Literal["newcombe_score", "welch", "bootstrap"]


class Comparison(Row):
    measure: str
    champion: str
    challenger: str
    method: Method
    champion_value: float | None
    challenger_value: float | None
    difference: float | None  # challenger - champion
    low: float | None  # the interval of the difference at the rules' confidence
    high: float | None
    p_value: float | None  # None for the bootstrap, which gives the interval only
    too_small: bool
    why: str = ""  # what the sample lacks, when too small


Arms = tuple[str, str]  # champion, challenger
Values = tuple[float | None, float | None]  # the measure in each arm


def compare_proportions(
    measure: str, champion: tuple[int, int], challenger: tuple[int, int], rules: SampleRules, names: Arms
) -> Comparison:
    """(successes, trials) of each arm."""
    (s0, n0), (s1, n1) = champion, challenger
    values = (share(s0, n0), share(s1, n1))
    if why := _proportion_too_small(s0, n0, s1, n1, rules):
        return _verdict(measure, "newcombe_score", names, values, why=why)
    # Imported here, as scipy is (_stats).
    from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

    low, high = confint_proportions_2indep(s1, n1, s0, n0, method="newcomb", compare="diff", alpha=1 - rules.confidence)
    # The score test without the small-sample factor is Pearson's chi-square, the A/B test readers know.
    test = test_proportions_2indep(s1, n1, s0, n0, method="score", compare="diff", correction=False)
    return _verdict(
        measure,
        "newcombe_score",
        names,
        values,
        difference=s1 / n1 - s0 / n0,
        interval=(float(low), float(high)),
        p_value=float(test.pvalue),
    )


def _proportion_too_small(s0: int, n0: int, s1: int, n1: int, rules: SampleRules) -> str:
    least = rules.min_accounts_per_arm
    if min(n0, n1) < least:
        return f"fewer than {least} in an arm ({n0} against {n1})"
    pooled = (s0 + s1) / (n0 + n1)
    expected = min(n * p for n in (n0, n1) for p in (pooled, 1 - pooled))
    if expected < rules.min_expected_outcomes:
        return (
            f"an arm expects {expected:.1f} successes or failures at the pooled rate"
            f" (at least {rules.min_expected_outcomes})"
        )
    return ""


def compare_means(
    measure: str, champion: Sequence[float], challenger: Sequence[float], rules: SampleRules, names: Arms
) -> Comparison:
    values = (_mean(champion), _mean(challenger))
    least = rules.min_accounts_per_arm
    if min(len(champion), len(challenger)) < least:
        why = f"fewer than {least} in an arm ({len(champion)} against {len(challenger)})"
        return _verdict(measure, "welch", names, values, why=why)
    test = _stats().ttest_ind(challenger, champion, equal_var=False)
    if not math.isfinite(test.pvalue):
        return _verdict(measure, "welch", names, values, why="neither arm varies")
    interval = test.confidence_interval(rules.confidence)
    return _verdict(
        measure,
        "welch",
        names,
        values,
        difference=float(np.mean(challenger) - np.mean(champion)),
        interval=(float(interval.low), float(interval.high)),
        p_value=float(test.pvalue),
    )


def compare_ratios(
    measure: str,
    champion: tuple[Sequence[float], Sequence[float]],
    challenger: tuple[Sequence[float], Sequence[float]],
    rules: SampleRules,
    names: Arms,
) -> Comparison:
    """(numerators, denominators) per account of each arm: the ratio of their sums (e.g. cost over cures)."""
    (top0, bottom0), (top1, bottom1) = [
        (np.asarray(top, dtype=float), np.asarray(bottom, dtype=float)) for top, bottom in (champion, challenger)
    ]
    values = (_ratio(top0, bottom0), _ratio(top1, bottom1))
    least = rules.min_accounts_per_arm
    if min(len(top0), len(top1)) < least:
        why = f"fewer than {least} in an arm ({len(top0)} against {len(top1)})"
        return _verdict(measure, "bootstrap", names, values, why=why)
    if (fewest := min(bottom0.sum(), bottom1.sum())) < rules.min_expected_outcomes:
        why = f"an arm has {fewest:g} in the denominator (at least {rules.min_expected_outcomes})"
        return _verdict(measure, "bootstrap", names, values, why=why)

    def difference(i: np.ndarray, j: np.ndarray, axis: int = -1) -> np.ndarray:
        # Accounts are resampled by index, so each keeps its numerator and denominator together.
        return np.asarray(top1[j].sum(axis) / bottom1[j].sum(axis) - top0[i].sum(axis) / bottom0[i].sum(axis))

    with np.errstate(divide="ignore", invalid="ignore"):  # a resample with no denominator has no ratio
        result = _stats().bootstrap(
            (np.arange(len(top0)), np.arange(len(top1))),
            difference,
            vectorized=True,
            n_resamples=rules.bootstrap_resamples,
            confidence_level=rules.confidence,
            method="percentile",
            rng=np.random.default_rng(rules.seed),
        )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return _verdict(measure, "bootstrap", names, values, why="some resamples leave an arm without a denominator")
    assert values[0] is not None and values[1] is not None, "denominators checked above"
    return _verdict(measure, "bootstrap", names, values, difference=values[1] - values[0], interval=(low, high))


def _verdict(
    measure: str,
    method: Method,
    names: Arms,
    values: Values,
    *,
    difference: float | None = None,
    interval: Values = (None, None),
    p_value: float | None = None,
    why: str = "",
) -> Comparison:
    return Comparison(
        measure=measure,
        champion=names[0],
        challenger=names[1],
        method=method,
        champion_value=values[0],
        challenger_value=values[1],
        difference=difference,
        low=interval[0],
        high=interval[1],
        p_value=p_value,
        too_small=bool(why),
        why=why,
    )


def compare_arms(results: ArmResults, rules: SampleRules, champion: str = "champion") -> list[Comparison]:
    """Every other arm of the experiment against the champion, measure by measure."""
    outcomes: dict[str, list[ArmOutcome]] = {}
    for o in results.outcomes:
        outcomes.setdefault(o.arm, []).append(o)
    counts = {c.arm: c for c in results.counts}
    challengers = sorted((set(outcomes) | set(counts)) - {champion})
    return [
        comparison
        for arm in challengers
        for comparison in _compare(
            (outcomes.get(champion, []), outcomes.get(arm, [])),
            (counts.get(champion, ArmCounts(arm=champion)), counts.get(arm, ArmCounts(arm=arm))),
            rules,
            (champion, arm),
        )
    ]


def _compare(
    outcomes: tuple[list[ArmOutcome], list[ArmOutcome]],
    counts: tuple[ArmCounts, ArmCounts],
    rules: SampleRules,
    names: Arms,
) -> list[Comparison]:
    ours, theirs = outcomes

    def cures(arm: list[ArmOutcome]) -> tuple[int, int]:
        return sum(o.cured for o in arm), len(arm)

    def per_cure(arm: list[ArmOutcome], field: Literal["cost_minor", "contacts"]) -> tuple[list[float], list[float]]:
        return [getattr(o, field) for o in arm], [float(o.cured) for o in arm]

    def days(arm: list[ArmOutcome]) -> list[float]:
        return [o.days_to_cure for o in arm if o.days_to_cure is not None]

    kept = tuple((c.promises_kept, c.promises_due) for c in counts)
    spoken = tuple((c.reached_debtor, c.attempts) for c in counts)
    return [
        compare_proportions("cure_rate", cures(ours), cures(theirs), rules, names),
        compare_proportions("promise_kept_rate", kept[0], kept[1], rules, names),
        compare_proportions("right_party_contact_rate", spoken[0], spoken[1], rules, names),
        compare_means("contacts_per_account", [o.contacts for o in ours], [o.contacts for o in theirs], rules, names),
        compare_means("days_to_cure", days(ours), days(theirs), rules, names),
        compare_ratios("cost_per_cure", per_cure(ours, "cost_minor"), per_cure(theirs, "cost_minor"), rules, names),
        compare_ratios("contacts_per_cure", per_cure(ours, "contacts"), per_cure(theirs, "contacts"), rules, names),
    ]


def _stats() -> ModuleType:
    """scipy.stats, imported when a comparison is made: with statsmodels it takes a second or more to import, which
    every command of the CLI would pay otherwise."""
    from scipy import stats

    return stats


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def _ratio(top: np.ndarray, bottom: np.ndarray) -> float | None:
    return float(top.sum() / bottom.sum()) if bottom.sum() else None
