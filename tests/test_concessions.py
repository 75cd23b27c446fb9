"""Concessions (domain §6 strategies 3 and 4, §10): late fees waived, a settlement discount, a plan reduced or put
off; each within the granter's limit at once, above it once an approver agrees, never beyond the policy's most,
applied with the balance before and after and reversible; a broken promise's failed-debit fee. Pure rules first, then
under time skipping."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import WorkflowUpdateFailedError

from client import CollectionsClient, InputError, inputs
from dunning.account import PaymentReceived
from dunning.case import Case
from dunning.commitments import Instalment, PlanProposed, PromiseMade
from dunning.concessions import ConcessionDecided, ConcessionGranted, ConcessionReversed
from dunning.ledger import Balance, Ledger
from dunning.measures import ConcessionsGiven, Period
from dunning.policy import load_policy
from dunning.state import AccountState
from infra import measures
from tests.conftest import make_account, server_today
from tests.test_promises import sleep_until
from workflows.account import AccountWorkflow

SHANGHAI = ZoneInfo("Asia/Shanghai")
DUE = date(2026, 3, 2)  # a Monday
NOW = datetime(2026, 3, 12, 11, tzinfo=SHANGHAI)  # 10 dpd


def case_of(policy: str, owed: int = 100_000) -> Case:
    """An account at 10 dpd, its late fees (property fees: 0.1% a day) accrued to now, as the workflow's loop does."""
    account = make_account(due=DUE, account_id="GIVE-1", policy=policy, amount_minor=owed)
    opened = datetime.combine(DUE, time(9), tzinfo=SHANGHAI)
    case = Case(account, load_policy(policy), AccountState(ledger=Ledger(principal_minor=owed), opened_at=opened))
    case.accrue_late_fee(NOW)
    return case


def granted(
    concession_id: str, kind: str, amount_minor: int = 0, days: int = 0, roles: tuple[str, ...] = ("collector",)
) -> ConcessionGranted:
    return ConcessionGranted(
        concession_id=concession_id,
        kind=kind,
        amount_minor=amount_minor,
        days=days,
        granted_by="agent7",
        roles=list(roles),
        reason="not acting in bad faith",
        granted_at=NOW,
    )


def decided(concession_id: str, approved: bool = True, approver: str = "property_manager", note: str = ""):
    return ConcessionDecided(
        concession_id=concession_id, approved=approved, approver=approver, operator="pm1", note=note, decided_at=NOW
    )


def reversed_(concession_id: str) -> ConcessionReversed:
    return ConcessionReversed(
        concession_id=concession_id, reason="granted by mistake", reversed_by="agent7", reversed_at=NOW
    )


def owed(principal: int, late_fee: int = 0) -> Balance:
    return Balance(principal_minor=principal, late_fee_minor=late_fee)


# --- fee waivers (property fees) ------------------------------------------------------------------------------


def test_a_fee_waiver_within_the_collectors_limit_applies_at_once_with_the_balance_before_and_after():
    case = case_of("property_fees")  # by 10 dpd, 0.1% a day of 1,000.00: 10.00 of late fees
    change = case.apply_concession(granted("W1", "fee_waiver", 500), NOW)  # half of them: the collector's limit
    assert change.verdict == "applied" and change.detail is not None
    entry = change.detail.entry
    assert entry is not None
    assert (entry.kind, entry.amount_minor, entry.before, entry.after) == (
        "fee_waiver",
        500,
        owed(100_000, 1_000),
        owed(100_000, 500),
    )
    assert (case.state.ledger.waived_minor, case.state.concessions["W1"].status) == (500, "applied")
    assert case.apply_concession(granted("W1", "fee_waiver", 500), NOW).verdict == "duplicate"


def test_a_fee_waiver_above_the_collectors_limit_waits_for_the_approver_and_applies_once_approved():
    case = case_of("property_fees")
    change = case.apply_concession(granted("W1", "fee_waiver", 800), NOW)
    assert (change.verdict, change.reason) == (
        "waiting",
        "more than 500 (the granter's own limit): awaiting property_manager",
    )
    assert case.state.ledger.late_fee_minor == 1_000  # nothing given yet
    assert case.concession_problem(decided("W1", approver="collector"), NOW) == (
        "'collector' may not approve it (approvers: property_manager)"
    )
    assert case.concession_problem(decided("W1", approved=False), NOW) == "a rejection needs a note saying why"

    approved = case.apply_concession(decided("W1"), NOW)
    assert approved.verdict == "applied" and approved.detail is not None and approved.detail.entry is not None
    assert (approved.detail.entry.before, approved.detail.entry.after) == (owed(100_000, 1_000), owed(100_000, 200))
    assert case.concession_problem(decided("W1"), NOW) == "concession W1 is applied, not awaiting approval"


def test_a_property_manager_waives_every_late_fee_alone_but_never_more_than_owed():
    case = case_of("property_fees")
    assert case.concession_problem(granted("W1", "fee_waiver", 1_001, roles=("property_manager",)), NOW) == (
        "a fee waiver of 1001 is more than the 1000 of late fees owed"
    )
    assert case.apply_concession(granted("W1", "fee_waiver", 1_000, roles=("property_manager",)), NOW).verdict == (
        "applied"
    )


def test_a_reversed_fee_waiver_is_owed_again_exactly():
    case = case_of("property_fees")
    case.apply_concession(granted("W1", "fee_waiver", 500), NOW)
    change = case.apply_concession(reversed_("W1"), NOW)
    assert change.detail is not None and change.detail.entry is not None
    entry = change.detail.entry
    assert (entry.kind, entry.amount_minor, entry.before, entry.after) == (
        "concession_reversed",
        500,
        owed(100_000, 500),
        owed(100_000, 1_000),
    )
    assert (case.state.ledger.waived_minor, case.state.concessions["W1"].status) == (0, "reversed")
    assert case.concession_problem(reversed_("W1"), NOW) == "concession W1 is reversed"


def test_a_waiting_concession_reversed_is_withdrawn():
    case = case_of("property_fees")
    case.apply_concession(granted("W1", "fee_waiver", 800), NOW)
    change = case.apply_concession(reversed_("W1"), NOW)
    assert (change.text, case.state.concessions["W1"].status, case.state.ledger.waived_minor) == (
        "withdrawn",
        "withdrawn",
        0,
    )


@pytest.mark.parametrize(
    ("policy", "grant", "problem"),
    [
        ("consumer_loan", granted("X", "fee_waiver", 100), "policy consumer_loan@v8 grants no fee waivers"),
        (
            "property_fees",
            granted("X", "fee_waiver", 100, roles=("analyst",)),
            "roles analyst may not grant a fee waiver under property_fees@v6 (roles that may: collector,"
            " property_manager)",
        ),
        (
            "property_fees",
            granted("X", "settlement_discount", 20_300, roles=("property_manager",)),
            "a settlement discount of 20300 is more than the most the policy allows, 20200 (20% of the balance owed)",
        ),
        ("consumer_loan", granted("X", "plan_extension", days=10), "no plan is running for a plan extension"),
    ],
)
def test_a_concession_the_policy_does_not_allow_is_refused_with_why(policy, grant, problem):
    case = case_of(policy)
    assert case.concession_problem(grant, NOW) == problem
    change = case.apply_concession(grant, NOW)
    assert (change.verdict, change.reason) == ("refused", problem)
    assert case.state.rejected_signals == [f"concession X: {problem}"] and case.state.concessions == {}


def test_a_concession_names_money_or_days_as_its_kind_does():
    with pytest.raises(ValueError, match="a plan extension gives days"):
        granted("X", "plan_extension", amount_minor=100)
    with pytest.raises(ValueError, match="a fee waiver gives an amount"):
        granted("X", "fee_waiver", days=3)


# --- a settlement discount (strategy 3) -----------------------------------------------------------------------


def test_a_discount_within_the_collectors_tenth_then_the_rest_paid_settles_the_account():
    case = case_of("consumer_loan")
    change = case.apply_concession(granted("S1", "settlement_discount", 10_000), NOW)  # 10%: the collector's own
    assert change.detail is not None and change.detail.entry is not None
    assert (change.detail.entry.before, change.detail.entry.after) == (owed(100_000), owed(90_000))
    case.apply_payment(PaymentReceived(payment_id="P1", amount_minor=90_000, paid_at=NOW), NOW)
    assert (case.state.status, case.state.ledger.outstanding_minor) == ("settled", 0)


def test_a_discount_above_the_collectors_tenth_waits_for_risk_or_the_head():
    case = case_of("consumer_loan")
    change = case.apply_concession(granted("S1", "settlement_discount", 30_000), NOW)
    assert change.verdict == "waiting" and case.state.concessions["S1"].approvers == [
        "risk_manager",
        "collections_head",
    ]
    assert case.apply_concession(decided("S1", approver="collections_head"), NOW).verdict == "applied"
    assert case.state.ledger.outstanding_minor == 70_000


# --- plans reduced or put off (strategy 4) --------------------------------------------------------------------


def plan_case() -> Case:
    case = case_of("consumer_loan", owed=90_000)
    plan = PlanProposed(
        plan_id="PLAN1",
        instalments=[
            Instalment(amount_minor=30_000, due_date=date(2026, 4, 1)),
            Instalment(amount_minor=30_000, due_date=date(2026, 5, 1)),
            Instalment(amount_minor=30_000, due_date=date(2026, 6, 1)),
        ],
        cause="job_loss",
        agreed_by="agent7",
        agreed_at=NOW,
    )
    assert case.take_commitment(plan, NOW).verdict == "applied"
    return case


def test_reduced_instalments_take_the_waiver_off_the_last_ones_and_come_back_when_reversed():
    case = plan_case()
    change = case.apply_concession(granted("R1", "plan_reduction", 4_000), NOW)  # 4,000 of 90,000: within 5%
    assert change.verdict == "applied"
    assert [i.amount_minor for i in case.state.commitment.instalments] == [30_000, 30_000, 26_000]
    assert case.state.ledger.outstanding_minor == 86_000
    case.apply_concession(reversed_("R1"), NOW)
    assert [i.amount_minor for i in case.state.commitment.instalments] == [30_000, 30_000, 30_000]
    assert case.state.ledger.outstanding_minor == 90_000


def test_an_extension_puts_off_the_unpaid_instalments_and_their_reminders():
    case = plan_case()
    case.apply_payment(PaymentReceived(payment_id="P1", amount_minor=30_000, paid_at=NOW), NOW)  # the first is paid
    assert case.apply_concession(granted("E1", "plan_extension", days=30), NOW).verdict == "applied"
    assert [i.due_date for i in case.state.commitment.instalments] == [
        date(2026, 4, 1),
        date(2026, 5, 31),
        date(2026, 7, 1),
    ]
    reminders = sorted(p.due_at.date() for p in case.state.agenda if p.step_id == "plan_instalment_reminder")
    assert reminders[-1] == date(2026, 6, 30)  # one working day before the last one, now in July
    assert case.apply_concession(granted("E2", "plan_extension", days=31), NOW).verdict == "waiting"  # over 30


# --- the failed-debit fee of a broken promise (domain §5) -----------------------------------------------------


def test_a_broken_promise_posts_the_policys_failed_debit_fee():
    case = case_of("consumer_loan")
    promise = PromiseMade(
        promise_id="PTP1",
        amount_minor=50_000,
        promised_date=date(2026, 3, 13),
        channel="call",
        taken_by="agent7",
        made_at=NOW,
    )
    case.take_commitment(promise, NOW)
    ended = case.review_commitment(datetime(2026, 3, 20, 12, tzinfo=SHANGHAI))
    assert ended is not None and ended.status == "broken" and ended.fee is not None
    assert (ended.fee.kind, ended.fee.amount_minor, ended.fee.before, ended.fee.after) == (
        "failed_debit_fee",
        2_000,
        owed(100_000),
        owed(100_000, 2_000),
    )


def test_a_policy_without_the_fee_leaves_it_to_billing():
    case = case_of("property_fees")
    promise = PromiseMade(
        promise_id="PTP1",
        amount_minor=50_000,
        promised_date=date(2026, 3, 13),
        channel="call",
        taken_by="agent7",
        made_at=NOW,
    )
    case.take_commitment(promise, NOW)
    ended = case.review_commitment(datetime(2026, 3, 20, 12, tzinfo=SHANGHAI))
    assert ended is not None and ended.status == "broken" and ended.fee is None


# --- under time skipping --------------------------------------------------------------------------------------


def grant_now(concession_id: str, kind: str, amount: str | None, roles: list[str], days: int | None = None):
    return inputs.parse_concession(concession_id, kind, amount, days, "CNY", "not in bad faith", "agent7", roles)


async def test_fee_waivers_within_the_limit_above_it_approved_and_reversed(env, run_worker, pool):
    today = await server_today(env)
    account = make_account(due=today, policy="property_fees", amount_minor=100_000, creditor="Waiver Estates")
    async with run_worker() as queue:
        collections = CollectionsClient(env.client, queue)
        await collections.open(account)
        await sleep_until(env, today + timedelta(days=10), time(12))  # 10.00 of late fees

        within = await collections.grant_concession(
            account.account_id, grant_now("W1", "fee_waiver", "4.00", ["collector"])
        )
        above = await collections.grant_concession(
            account.account_id, grant_now("W2", "fee_waiver", "5.00", ["collector"])
        )
        with pytest.raises(InputError, match="concession W3 refused: a fee waiver of 700 is more than the 600"):
            await collections.grant_concession(account.account_id, grant_now("W3", "fee_waiver", "7.00", ["collector"]))
        approved = await collections.decide_concession(
            account.account_id, inputs.parse_concession_decision("W2", True, "property_manager", "", "pm1")
        )
        undone = await collections.reverse_concession(
            account.account_id, inputs.parse_concession_reversal("W1", "granted in error", "agent7")
        )
        view = await env.client.get_workflow_handle(account.workflow_id).query(AccountWorkflow.state)

    assert (within.status, above.status, above.approvers, approved.status, undone.status) == (
        "applied",
        "awaiting_approval",
        ["property_manager"],
        "applied",
        "reversed",
    )
    assert (view.late_fee_minor, view.waived_minor, view.outstanding_minor) == (500, 500, 100_500)
    rows = await pool.fetch(
        "SELECT concession_id, status, amount_minor, decided_by FROM concessions WHERE account_id = $1"
        " ORDER BY concession_id",
        account.account_id,
    )
    assert [tuple(r) for r in rows] == [("W1", "reversed", 400, None), ("W2", "applied", 500, "pm1")]
    entries = await pool.fetch(
        "SELECT kind, entry_id, late_fee_before_minor, late_fee_after_minor FROM ledger_entries"
        " WHERE account_id = $1 ORDER BY recorded_at",
        account.account_id,
    )
    assert [tuple(r) for r in entries] == [
        ("fee_waiver", "W1", 1_000, 600),
        ("fee_waiver", "W2", 600, 100),
        ("concession_reversed", "W1", 100, 500),
    ]
    # The reports show them: what was given, above whose limit, what was taken back.
    # (granted now by the wall clock, which the test server runs ahead of)
    period = Period(first=today - timedelta(days=14), last=today + timedelta(days=10))
    given = await measures.concessions(pool, period, "creditor")
    assert [r for r in given if r.slice == "Waiver Estates"] == [
        ConcessionsGiven(
            slice="Waiver Estates",
            currency="CNY",
            kind="fee_waiver",
            granted=2,
            applied=1,
            given_minor=500,
            days_given=0,
            approved=1,
            awaiting_approval=0,
            rejected=0,
            reversed=1,
        )
    ]


async def test_a_settlement_discount_then_the_rest_paid_closes_the_account_as_settled(env, run_worker, pool):
    account = make_account(due=await server_today(env), amount_minor=100_000)
    async with run_worker() as queue:
        collections = CollectionsClient(env.client, queue)
        await collections.open(account)
        await env.sleep(timedelta(days=3))
        given = await collections.grant_concession(
            account.account_id, grant_now("S1", "settlement_discount", "100.00", ["collector"])
        )
        with pytest.raises(InputError, match="roles analyst may not grant a settlement discount"):
            await collections.grant_concession(
                account.account_id, grant_now("S2", "settlement_discount", "1.00", ["analyst"])
            )
        await collections.pay(
            account.account_id,
            PaymentReceived(payment_id="P1", amount_minor=90_000, paid_at=await env.get_current_time()),
        )
        closed = await env.client.get_workflow_handle_for(AccountWorkflow.run, account.workflow_id).result()

    assert given.status == "applied"
    assert (closed.state.status, closed.state.ledger.outstanding_minor, closed.state.ledger.waived_minor) == (
        "settled",
        0,
        10_000,
    )
    row = await pool.fetchrow(
        "SELECT status, outstanding_minor FROM accounts WHERE account_id = $1", account.account_id
    )
    assert tuple(row) == ("settled", 0)


async def test_an_update_that_does_not_decode_is_refused_to_its_caller(env, run_worker):
    account = make_account(due=await server_today(env), policy="property_fees")
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        handle = env.client.get_workflow_handle(account.workflow_id)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update("grant_concession", {"concession_id": "X", "kind": "fee_waiver"})
        # Nothing was taken.
        assert (await handle.query(AccountWorkflow.state)).concessions == []
