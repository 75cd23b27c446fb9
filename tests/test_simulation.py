"""The simulator of issue 12: its behaviour file is checked whole, its draws are the seed's and the account's alone, and
a small portfolio through the real workflows pays, promises, runs every arm, breaks no contact rule and is reported
as production reports it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from dunning.measures import Period
from infra.strategy_report import write_report
from simulation.behaviour import BEHAVIOUR_DIR, BehaviourError, load_behaviour
from simulation.debtors import AccountToday, Contact, Debtors
from simulation.draws import Draws, uniform
from simulation.portfolio import synthetic_portfolio
from simulation.report import lines, simulation_report
from simulation.run import Scenario, simulate, simulation_settings

STANDARD = load_behaviour("standard")
OPENED = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 4, 30, tzinfo=UTC)


def behaviour_file(tmp_path: Path, edit) -> Path:
    """The standard behaviour file with `edit` applied to its data, written to tmp_path."""
    data = yaml.safe_load((BEHAVIOUR_DIR / "standard.yaml").read_text(encoding="utf-8"))
    edit(data)
    (tmp_path / "standard.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return tmp_path


def test_the_standard_behaviour_gives_each_segment_its_chances_by_dpd():
    assert STANDARD.segments() == ["high_risk", "long_term", "low_risk", "potential"]
    assert STANDARD.chances_at("potential", 3).answers_call == 0.35
    assert STANDARD.chances_at("potential", 29).answers_call == 0.30
    assert STANDARD.chances_at("potential", 400).answers_call == 0.15


@pytest.mark.parametrize(
    "edit, says",
    [
        (lambda d: d["chances"]["answers_call"]["potential"].__setitem__(0, 1.5), "answers_call.potential.0"),
        (lambda d: d["chances"]["promises"]["low_risk"].pop(), "chances.promises.low_risk: 3 numbers"),
        (lambda d: d["chances"].pop("replies_stop"), "chances: no replies_stop"),
        (lambda d: d["chances"]["disputes"].pop("high_risk"), "chances.disputes: segments"),
        (lambda d: d["chances"].update(answers_text=d["chances"]["disputes"]), "unknown answers_text"),
        (
            lambda d: d["chances"]["keeps_promise_in_part"]["potential"].__setitem__(1, 0.5),
            "potential at 6-29: keeps_promise_in_full and keeps_promise_in_part",
        ),
        (lambda d: d["bands"].reverse(), "bands"),
        (lambda d: d.update(part_payment={"low": 0.6, "high": 0.2}), "part_payment"),
        (lambda d: d.update(name="other"), "field 'name' is 'other'"),
    ],
)
def test_a_bad_behaviour_file_names_the_file_and_the_field(tmp_path, edit, says):
    directory = behaviour_file(tmp_path, edit)
    with pytest.raises(BehaviourError) as refused:
        load_behaviour("standard", directory)
    assert str(directory / "standard.yaml") in str(refused.value) and says in str(refused.value)


def test_a_behaviour_must_cover_every_segment_of_the_segmentation():
    with pytest.raises(BehaviourError, match="no behaviour for segment.s. vip"):
        STANDARD.check_covers(["low_risk", "vip"], BEHAVIOUR_DIR / "standard.yaml")


def test_a_draw_is_the_seeds_the_accounts_and_the_events_alone():
    assert uniform(7, "SIM00001", "answers:call:2026-12-01") == uniform(7, "SIM00001", "answers:call:2026-12-01")
    assert uniform(7, "SIM00001", "answers:call:2026-12-01") != uniform(8, "SIM00001", "answers:call:2026-12-01")
    assert uniform(7, "SIM00001", "answers:call:2026-12-01") != uniform(7, "SIM00002", "answers:call:2026-12-01")
    draws = [Draws(7, f"SIM{n:05d}").uniform("e") for n in range(2000)]
    assert 0 <= min(draws) and max(draws) < 1 and 0.45 < sum(draws) / len(draws) < 0.55
    assert {Draws(7, "A").whole(f"d{n}", 1, 5) for n in range(200)} == {1, 2, 3, 4, 5}


def test_more_accounts_leave_the_first_ones_as_they_were():
    assert synthetic_portfolio(7, 40, OPENED)[:25] == synthetic_portfolio(7, 25, OPENED)
    assert synthetic_portfolio(7, 25, OPENED) != synthetic_portfolio(8, 25, OPENED)


def day_of(debtors: Debtors, account_id: str, days: int = 10) -> list:
    """What one debtor does through `days` days of being called and texted daily."""
    account = AccountToday(account_id, "potential", 3, 100_000, "CNY", on_hold=False, mobile="+8613800000000")
    reactions = []
    for n in range(days):
        today = OPENED + timedelta(days=n)
        contacts = [Contact("call", f"call:{today}"), Contact("text", f"sms-{today}")]
        reactions += debtors.day(account, contacts, today, NOW + timedelta(days=n))
    return reactions


def test_the_same_seed_gives_the_same_reactions_whoever_else_is_in_the_portfolio():
    alone = day_of(Debtors(STANDARD, 7), "SIM00003")
    crowded = Debtors(STANDARD, 7)
    for n in range(50):
        day_of(crowded, f"SIM{n + 100:05d}")
    assert day_of(crowded, "SIM00003") == alone
    assert alone and day_of(Debtors(STANDARD, 8), "SIM00003") != alone


async def test_a_small_portfolio_through_15_days_pays_promises_runs_every_arm_and_breaks_no_rule(
    own_pool, settings, tmp_path
):
    # Seed 5's first 20 accounts fall in all four segments and draw every arm of the running experiment.
    worker_settings = replace(
        simulation_settings(settings, ""), letter_drop_dir=tmp_path / "print", agency_drop_dir=tmp_path / "agencies"
    )
    run = await simulate(Scenario(accounts=20, days=15, seed=5), worker_settings, own_pool)

    arms = dict(await own_pool.fetch("SELECT arm, count(*) FROM strategy_assignments GROUP BY arm"))
    assert set(arms) == {"champion", "plan_offer", "holdout"} and sum(arms.values()) == 20
    segments = {r["segment"] for r in await own_pool.fetch("SELECT segment FROM strategy_assignments")}
    assert segments == {"low_risk", "potential", "high_risk", "long_term"}
    assert run.told["payment_received"] > 0 and run.told["promise_made"] > 0 and run.told["contact_outcome"] > 0
    applied = await own_pool.fetchval("SELECT count(*) FROM payments WHERE verdict = 'applied'")
    promises = await own_pool.fetchval("SELECT count(*) FROM commitments WHERE kind = 'promise'")
    assert applied == run.told["payment_received"] and promises > 0
    assert await own_pool.fetchval("SELECT count(*) FROM accounts WHERE status = 'cured'") > 0
    assert await own_pool.fetchval("SELECT count(*) FROM action_log WHERE result = 'failed'") == 0
    report = await simulation_report(own_pool, run)
    assert report.breaches == [] and report.contacts_checked > 20
    [cny] = [figures for figures in report.experiments if figures.results.currency == "CNY"]
    assert set(cny.accounts()) == {"champion", "plan_offer", "holdout"}
    assert {(c.challenger, c.measure) for c in cny.comparisons} >= {
        ("plan_offer", "cure_rate"),
        ("holdout", "cure_rate"),
    }
    shown = "\n".join(lines(report))
    assert "consumer_plan_offer@v1 in CNY" in shown and "0 breaches" in shown and "too small to tell" in shown
    # The same report production writes, from the simulation's own tables.
    page_id = await write_report(
        own_pool, Period(first=run.first_day, last=run.last_day), NOW, tmp_path / "report", window_days=15
    )
    page = (tmp_path / "report" / f"{page_id}.html").read_text(encoding="utf-8")
    assert "<h3>consumer_plan_offer@v1 (CNY)</h3>" in page and 'data-chart="cure_curves_0"' in page
