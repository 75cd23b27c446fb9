"""The reporting data files load as shipped, and a bad one fails with the file, the field and the reason."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from dunning.measures import REACHED, attempt_keys
from dunning.outcomes import OutcomeCode
from dunning.reporting import ReportingFileError, load_bands, load_sample_rules, load_unit_costs

SHIPPED_COSTS = """
text: {CNY: 5}
email: {CNY: 1}
call_attempt: {CNY: 300}
letter: {CNY: 300}
registered_letter: {CNY: 1500}
field_visit: {CNY: 20000}
"""


def test_the_shipped_files_load():
    bands = load_bands()
    assert bands.bucket_names() == ["current", "1-29", "30-59", "60-89", "90-119", "120-179", "180+"]
    assert bands.bucket_starts() == [1, 30, 60, 90, 120, 180]
    assert load_unit_costs().currencies() == ["CNY", "EUR", "GBP", "INR", "JPY", "USD"]
    assert load_sample_rules().min_accounts_per_arm == 30


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (SHIPPED_COSTS.replace("text: {CNY: 5}", "text: {CNY: -5}"), "text.CNY: Input should be greater than"),
        (SHIPPED_COSTS.replace("letter: {CNY: 300}\n", ""), "letter: Field required"),
        (SHIPPED_COSTS.replace("email: {CNY: 1}", "email: {CNY: 1, USD: 1}"), "missing: text (USD)"),
        (SHIPPED_COSTS.replace("email: {CNY: 1}", "emial: {CNY: 1}"), "emial: Extra inputs are not permitted"),
        (SHIPPED_COSTS.replace("field_visit: {CNY: 20000}", "field_visit: {cny: 20000}"), "field_visit.cny"),
    ],
)
def test_a_bad_unit_cost_file_names_the_file_and_the_field(tmp_path, text, says):
    path = tmp_path / "unit_costs.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReportingFileError, match=re.escape(f"{path}: ")) as err:
        load_unit_costs(path)
    assert says in str(err.value)


BUCKETS = """
dpd_buckets:
  - {name: current}
  - {name: "1-29", from_dpd: 1}
  - {name: "30+", from_dpd: 30}
amount_bands:
  CNY:
    - {name: small}
    - {name: large, from_minor: 100000}
"""


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (BUCKETS.replace("from_dpd: 30", "from_dpd: 1"), "dpd_buckets: Value error, dpd buckets must go up"),
        (BUCKETS.replace("{name: current}", "{name: current, from_dpd: 0}"), "the first dpd bucket has no lower"),
        (BUCKETS.replace('"30+"', "cured"), "cured name the roll matrix's exits"),
        (BUCKETS.replace("from_minor: 100000", "from_minor: -1"), "amount_bands.CNY.1.from_minor"),
        (BUCKETS.replace('name: "1-29"', 'nmae: "1-29"'), "dpd_buckets.1.nmae: Extra inputs are not permitted"),
        ("dpd_buckets: [", "not valid YAML"),
    ],
)
def test_a_bad_bucket_file_names_the_file_and_the_field(tmp_path, text, says):
    path = tmp_path / "buckets.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReportingFileError, match=re.escape(f"{path}: ")) as err:
        load_bands(path)
    assert says in str(err.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ReportingFileError, match=re.escape(f"{tmp_path / 'comparison.yaml'}: cannot be read")):
        load_sample_rules(tmp_path / "comparison.yaml")


def test_every_outcome_code_says_whom_it_reached():
    assert set(REACHED) == set(get_args(OutcomeCode))
    assert attempt_keys("debtor")[:3] == ["outcome:bankruptcy", "outcome:callback_requested", "outcome:promised"]
    assert {"visit:found", "visit:promised", "visit:paid"} <= set(attempt_keys("debtor"))
    assert "visit:not_found" not in attempt_keys("debtor", "someone_else")
