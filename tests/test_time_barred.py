"""Time-barred debts (12 CFR 1006.26; Civil Code art. 188): past the statute of limitations a debt may still be asked
for, but the lawyer's letter and the legal steps are skipped with the reason, and letters carry the rule set's
disclosure where it gives one."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from client import CollectionsClient
from dunning.compliance import load_rules
from dunning.limitation import disclosure, limitation_ends, suit_refusal, years_after
from dunning.policy import load_policy
from infra.letters import LetterRenderer
from tests.conftest import TEST_LETTERHEADS, make_account, server_today
from tests.test_letters import facts as letter_facts
from tests.test_letters import text_of
from tests.test_validation_notice import us_account

CN, US = load_rules("cn_consumer").time_barred, load_rules("us_reg_f").time_barred
LAWYER = load_policy("consumer_loan").action("lawyer_letter")
FIRST_LETTER = load_policy("consumer_loan").action("letter_first")


# --- the rule (pure) -----------------------------------------------------------------------------------------------


def test_the_period_runs_from_the_last_payment_or_the_due_date_and_a_date_from_billing_wins():
    account = make_account(due=date(2023, 5, 10))
    assert limitation_ends(account, CN, None) == date(2026, 5, 10)  # 3 years after the due date
    paid_before = account.model_copy(update={"last_payment_on": date(2024, 1, 31)})
    assert limitation_ends(paid_before, CN, None) == date(2027, 1, 31)
    paid_in_collection = datetime(2025, 2, 1, 3, tzinfo=UTC)  # 11:00 in Shanghai
    assert limitation_ends(paid_before, CN, paid_in_collection) == date(2028, 2, 1)
    told = account.model_copy(update={"limitation_ends_on": date(2029, 6, 30)})
    assert limitation_ends(told, CN, paid_in_collection) == date(2029, 6, 30)  # state law, as billing knows it
    assert limitation_ends(account, None, None) is None  # no period and no date: never barred
    assert years_after(date(2024, 2, 29), 3) == date(2027, 2, 28)


def test_a_step_that_threatens_suit_is_refused_once_the_debt_is_time_barred():
    ends = date(2026, 5, 10)
    assert suit_refusal(LAWYER, ends, date(2026, 5, 9)) == ""
    assert suit_refusal(LAWYER, ends, ends) == (
        "time-barred debt (limitation ended 2026-05-10): no suit, no threat of one (12 CFR 1006.26(b))"
    )
    assert suit_refusal(FIRST_LETTER, ends, date(2030, 1, 1)) == ""  # the debt may still be asked for
    assert suit_refusal(LAWYER, None, date(2030, 1, 1)) == ""


def test_the_disclosure_is_the_rule_sets_in_the_debtors_language_and_only_on_a_barred_debt():
    ends = date(2026, 5, 10)
    assert disclosure(US, ends, ends, "en").startswith("The law limits how long you can be sued on a debt.")
    assert disclosure(US, ends, ends, "zh").startswith("法律对就债务提起诉讼的期限有所限制")
    assert disclosure(US, ends, date(2026, 5, 9), "en") == ""
    assert disclosure(CN, ends, ends, "zh") == ""  # Chinese rules require none


@pytest.mark.parametrize("policy", ["consumer_loan", "b2b_receivables", "property_fees"])
def test_each_policys_lawyers_letter_or_legal_review_is_marked_as_threatening_suit(policy):
    assert any(action.threatens_suit for action in load_policy(policy).actions()), policy


def test_a_barred_debts_letter_prints_the_disclosure():
    renderer = LetterRenderer.load(TEST_LETTERHEADS)
    facts = letter_facts(
        "collection_letter_first",
        "en",
        creditor="Test Lender",
        time_barred_disclosure=disclosure(US, date(2025, 1, 5), date(2026, 11, 27), "en"),
    )
    printed = " ".join(text_of(renderer.render(facts).pdf).split())  # lines wrap where the page ends them
    assert "Because of the age of your debt, we will not sue you for it." in printed
    plain = facts.model_copy(update={"time_barred_disclosure": ""})
    assert "sue" not in text_of(renderer.render(plain).pdf)


# --- through the ladder --------------------------------------------------------------------------------------------


async def test_on_a_time_barred_debt_the_lawyers_letter_is_skipped_with_the_reason(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(due=today - timedelta(days=1)).model_copy(update={"limitation_ends_on": today})
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=62))
    taken = {
        r["step_id"]: (r["result"], r["detail"])
        for r in await pool.fetch(
            "SELECT step_id, result, detail FROM action_log WHERE account_id = $1", account.account_id
        )
    }
    assert taken["lawyer_letter"] == (
        "skipped",
        f"time-barred debt (limitation ended {today.isoformat()}): no suit, no threat of one (12 CFR 1006.26(b))",
    )
    assert taken["letter_first"][0] == "done"  # the debt is still asked for
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM letter_jobs WHERE account_id = $1 AND letter_kind = 'lawyer'", account.account_id
        )
        == 0
    )


async def test_under_regulation_f_every_letter_on_a_barred_debt_carries_the_disclosure(env, run_worker, pool):
    today = await server_today(env)
    barred = us_account(today - timedelta(days=3), account_id=f"TB{today:%m%d}").model_copy(
        update={"limitation_ends_on": today - timedelta(days=400)}
    )
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(barred)
        await env.sleep(timedelta(days=12))
    letters = await pool.fetch("SELECT letter_kind, facts FROM letter_jobs WHERE account_id = $1", barred.account_id)
    assert {r["letter_kind"] for r in letters} >= {"validation_notice", "first_collection"}
    for letter in letters:
        assert json.loads(letter["facts"])["time_barred_disclosure"] == US.disclosure["en"], letter["letter_kind"]
