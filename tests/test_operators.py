"""Operators, roles and creditors (issue 13): the roles are data, an approval needs an operator who holds an approver
role of the account's policy and records who took it, and an operator of one creditor cannot read another's
accounts (they are as unknown as accounts that do not exist)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from client import CollectionsClient
from dunning.fraud import claim_workflow_id
from dunning.operators import (
    Operator,
    RolesError,
    account_refusal,
    approval_refusal,
    book_refusal,
    deciding_role,
    load_roles,
    may,
    refusal,
)
from dunning.policy import POLICY_DIR, load_policy
from infra import call_queue, operators
from tests.conftest import TEST_LETTERHEADS, channel_activities, make_account, run_cli, server_today, step_order
from tests.test_call_queue import AT_6_DPD, DUE
from workflows.fraud_claim import FraudClaimWorkflow

PASSWORD = "correct horse battery"
OWN = "Test Lender"  # make_account's creditor, whose letterhead the test letters are printed on
ROLES = load_roles()


def operator(*roles: str, creditors: list[str] | None = None) -> Operator:
    return Operator(name="kim", roles=list(roles), creditors=creditors)


def test_every_approver_a_policy_names_is_a_role_that_may_approve():
    for path in POLICY_DIR.glob("*.yaml"):
        rules = load_policy(path.stem).approvals
        for approver in rules.approvers if rules else []:
            assert approver in ROLES.roles, f"{path.name}: approver {approver!r} is no role of roles/standard.yaml"
            assert "approve" in ROLES.roles[approver].may, f"{path.name}: role {approver!r} may not approve"


def test_a_bad_roles_file_is_refused_naming_the_file_and_the_field(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: bad\nroles:\n  clerk:\n    description: x\n    may: [sign_cheques]\n")
    with pytest.raises(RolesError, match=r"(?s)bad\.yaml: .*roles\.clerk\.may\.0"):
        load_roles("bad", tmp_path)
    with pytest.raises(RolesError, match="unknown roles file 'missing'"):
        load_roles("missing", tmp_path)


def test_an_approval_is_decided_as_an_approver_role_the_operator_holds_and_that_may_approve():
    assert deciding_role(ROLES, operator("collector", "risk_manager"), ["risk_manager", "collections_head"]) == (
        "risk_manager"
    )
    assert approval_refusal(ROLES, operator("collector"), ["owner"]) == (
        "operator kim may not decide this approval: it needs the role owner"
    )
    assert approval_refusal(ROLES, operator("risk_manager"), ["owner", "collections_head"]) == (
        "operator kim may not decide this approval: it needs the role owner or collections_head"
    )
    # A role the policy names but that the roles file does not let approve decides nothing.
    assert deciding_role(ROLES, operator("collector"), ["collector"]) is None


def test_an_account_of_a_creditor_the_operator_does_not_see_is_unknown_as_one_that_does_not_exist():
    lender_a, unknown = operator("collector", creditors=["Lender A"]), "unknown account 'X1'"
    assert account_refusal(ROLES, lender_a, "Lender A", "work_accounts", unknown) == ""
    assert account_refusal(ROLES, lender_a, "Lender B", "work_accounts", unknown) == unknown
    assert account_refusal(ROLES, lender_a, None, "work_accounts", unknown) == unknown
    assert account_refusal(ROLES, lender_a, "Lender A", "decide_fraud", unknown) == (
        "operator kim may not decide fraud claims (roles: collector)"
    )
    assert account_refusal(ROLES, operator("collector"), "Lender B", "work_accounts", unknown) == ""


def test_reports_and_payloads_cover_every_creditor_so_only_operators_of_all_creditors_read_them():
    assert may(ROLES, operator("analyst"), "read_reports")
    assert not may(ROLES, operator("analyst", creditors=["Lender A"]), "read_reports")
    assert refusal(ROLES, operator("collector"), "decode_payloads") == (
        "operator kim may not open sealed payloads (roles: collector)"
    )


def test_what_mixes_every_creditor_takes_an_operator_of_all_creditors_besides_the_permission():
    batch = ("work_accounts", "produce the letter batch")
    assert book_refusal(ROLES, operator("collector"), *batch) == ""
    assert book_refusal(ROLES, operator("collector", creditors=["Lender A"]), *batch) == (
        "operator kim may not produce the letter batch: that takes an operator of all creditors"
    )
    assert book_refusal(ROLES, operator("collector"), "read_reports", "read the compliance report") == (
        "operator kim may not read the compliance report (roles: collector)"
    )


# --- the command line, signed in ------------------------------------------------------------------------------


async def collections(env, database_url, token: str | None, *args: str, home: Path) -> subprocess.CompletedProcess:
    """`collections ...` as an operator types it: signed in with `token` (None: the session file in `home`, if
    any), against the test's Temporal (if any) and database."""
    environment = {
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host if env else "127.0.0.1:9",
        "DATABASE_URL": database_url,
        "XDG_CONFIG_HOME": str(home),  # the test's own session file
    }
    if token:
        environment["COLLECTIONS_SESSION"] = token
    return await run_cli(*args, env=environment)


async def signed_in(pool, *roles: str, creditors: list[str] | None = None) -> tuple[str, str]:
    name = f"op.{uuid.uuid4().hex[:8]}"
    await operators.add_operator(pool, name, PASSWORD, list(roles), creditors)
    token = await operators.sign_in(pool, name, PASSWORD)
    assert token is not None
    return name, token


async def on_file(pool, query: str, *args):
    """The first value of `query` once the worker has recorded it."""
    for _ in range(100):
        if (value := await pool.fetchval(query, *args)) is not None:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"never recorded: {query}")


def refused(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2 and result.stdout == "", result
    return result.stderr.strip()


async def test_login_keeps_the_session_where_only_its_owner_reads_it_and_logout_ends_it(pool, database_url, tmp_path):
    name = f"op.{uuid.uuid4().hex[:8]}"
    await operators.add_operator(pool, name, PASSWORD, ["collector"], ["Lender A"])
    wrong = await collections(
        None, database_url, None, "operators", "login", name, "--password", "x" * 12, home=tmp_path
    )
    assert refused(wrong) == "error: wrong operator name or password"
    login = await collections(
        None, database_url, None, "operators", "login", name, "--password", PASSWORD, home=tmp_path
    )
    session = tmp_path / "collections" / "session"
    assert login.stdout.strip() == f"signed in as {name} (the session is kept in {session})"
    assert (session.stat().st_mode & 0o777, session.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    assert (await operators.session_operator(pool, session.read_text().strip())).creditors == ["Lender A"]
    # Signed in from the file: an account not on file is refused before Temporal is asked.
    status = await collections(None, database_url, None, "accounts", "status", "NO-SUCH", home=tmp_path)
    assert refused(status) == "error: unknown account 'NO-SUCH'"

    token = session.read_text().strip()
    logout = await collections(None, database_url, None, "operators", "logout", home=tmp_path)
    assert logout.stdout.strip() == "signed out" and not session.exists()
    assert await operators.session_operator(pool, token) is None
    ended = await collections(None, database_url, token, "accounts", "status", "X1", home=tmp_path)
    assert refused(ended) == "error: the session has ended: sign in again with `collections operators login NAME`"


async def test_an_approval_needs_a_signed_in_approver_of_the_accounts_creditor_and_records_who_took_it(
    env, run_worker, pool, database_url, tmp_path
):
    account = make_account(due=await server_today(env) + timedelta(days=7), policy="b2b_receivables")
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await env.sleep(timedelta(days=7 + 90, hours=1))  # the customer lock is filed at 90 dpd, for the owner
        ref = await pool.fetchval("SELECT approval_ref FROM approvals WHERE account_id = $1", account.account_id)
        _, collector = await signed_in(pool, "collector")
        _, risk = await signed_in(pool, "risk_manager")
        _, other_owner = await signed_in(pool, "owner", creditors=["Other Lender"])
        owner_name, owner = await signed_in(pool, "owner", creditors=[account.creditor])
        decide = ("approvals", "decide", ref, "--note", "lock them")

        refusals = [
            refused(await collections(env, database_url, token, *decide, home=tmp_path))
            for token in (None, collector, risk, other_owner)
        ]
        assert refusals[0] == "error: sign in to decide approvals: `collections operators login NAME`"
        assert refusals[1].startswith("error: operator op.") and refusals[1].endswith(
            " may not decide approvals (roles: collector)"
        )
        assert refusals[2].endswith(" may not decide this approval: it needs the role owner")
        assert refusals[3] == f"error: no approval {ref!r}"  # another creditor's approval is not confirmed to exist
        assert await pool.fetchval("SELECT status FROM approvals WHERE approval_ref = $1", ref) == "pending"

        approved = await collections(env, database_url, owner, *decide, home=tmp_path)
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.strip() == f"{ref} approved by {owner_name} (owner) on account {account.account_id}"
    decided = await pool.fetchrow("SELECT status, decided_by, decided_as FROM approvals WHERE approval_ref = $1", ref)
    assert tuple(decided) == ("approved", owner_name, "owner")


async def test_an_operator_of_one_creditor_cannot_read_another_creditors_account(
    env, run_worker, pool, database_url, tmp_path
):
    account = make_account(due=await server_today(env) - timedelta(days=3), creditor="Lender B")
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await on_file(pool, "SELECT 1 FROM accounts WHERE account_id = $1", account.account_id)
        _, lender_a = await signed_in(pool, "collector", creditors=["Lender A"])
        _, lender_b = await signed_in(pool, "collector", creditors=["Lender B"])
        _, analyst = await signed_in(pool, "analyst")
        status = ("accounts", "status", account.account_id)
        other = refused(await collections(env, database_url, lender_a, *status, home=tmp_path))
        missing = refused(
            await collections(env, database_url, lender_a, "accounts", "status", "NO-SUCH", home=tmp_path)
        )
        no_role = refused(await collections(env, database_url, analyst, *status, home=tmp_path))
        pay = ("payments", "pay", account.account_id, "--amount", "10", "--payment-id", "P1")
        paid_by_other = refused(await collections(env, database_url, lender_a, *pay, home=tmp_path))
        own = await collections(env, database_url, lender_b, *status, home=tmp_path)

    assert other == f"error: unknown account {account.account_id!r}"
    assert missing == "error: unknown account 'NO-SUCH'"  # the same answer: nothing about B's account is told
    assert paid_by_other == other
    assert no_role.endswith(" may not work accounts (roles: analyst)")
    assert own.returncode == 0, own.stderr
    assert own.stdout.startswith(f"account {account.account_id}: ")


async def test_a_fraud_claim_is_taken_and_decided_by_the_signed_in_operator_who_may(
    env, run_worker, pool, database_url, tmp_path
):
    account = make_account(due=await server_today(env) - timedelta(days=3))
    async with run_worker() as queue:
        await CollectionsClient(env.client, queue).open(account)
        await on_file(pool, "SELECT 1 FROM accounts WHERE account_id = $1", account.account_id)
        collector_name, collector = await signed_in(pool, "collector", creditors=[account.creditor])
        officer_name, officer = await signed_in(pool, "fraud_officer")
        claim = ("fraud", "claim", account.account_id, "--id", "F1", "--clues", "a cousin had her ID card")
        named_other = await collections(env, database_url, collector, *claim, "--taken-by", "agent-7", home=tmp_path)
        taken = await collections(env, database_url, collector, *claim, home=tmp_path)
        decide = ("fraud", "decide", account.account_id, "--id", "F1", "--confirmed", "--reference", "BANK-123")
        not_signed_in = await collections(env, database_url, None, *decide, home=tmp_path)
        not_allowed = await collections(env, database_url, collector, *decide, home=tmp_path)
        decided = await collections(env, database_url, officer, *decide, home=tmp_path)
        claim_handle = env.client.get_workflow_handle_for(
            FraudClaimWorkflow.run, claim_workflow_id(account.account_id, "F1")
        )
        progress = await claim_handle.query(FraudClaimWorkflow.progress)

    assert refused(named_other) == (
        f"error: --taken-by: signed in as {collector_name}, who is recorded; leave --taken-by out"
    )
    assert taken.returncode == 0, taken.stderr
    assert await on_file(pool, "SELECT taken_by FROM fraud_claims WHERE account_id = $1", account.account_id) == (
        collector_name
    )
    assert refused(not_signed_in) == "error: sign in to record fraud decisions: `collections operators login NAME`"
    assert refused(not_allowed) == f"error: operator {collector_name} may not decide fraud claims (roles: collector)"
    assert decided.stdout.strip() == f"fraud claim F1 confirmed by the creditor, recorded by {officer_name}"
    assert progress.decision.recorded_by == officer_name


# --- work of one creditor, signed in: queues, references, and what mixes every creditor ---------------------------


async def filed(pool, sms_client, settings, step_key: str, creditor: str, activity: str):
    """An account of `creditor` and the work order of its step `step_key`, filed as the worker files it."""
    account = make_account(due=DUE, creditor=creditor)
    order = await step_order(pool, account, step_key)
    await pool.execute(
        "UPDATE accounts SET document = $2 WHERE account_id = $1", account.account_id, account.model_dump_json()
    )
    await ActivityEnvironment().run(getattr(channel_activities(pool, sms_client, settings), activity), order)
    return account, order


async def test_an_operator_of_one_creditor_is_handed_only_that_creditors_calls(
    pool, sms_client, settings, database_url, tmp_path
):
    team = f"team_{uuid.uuid4().hex[:8]}"
    accounts = {}
    for creditor in ("Lender B", "Lender A", "Lender B"):
        account, _ = await filed(pool, sms_client, settings, "call_task@6", creditor, "create_call_task")
        await pool.execute("UPDATE accounts SET collector_queue = $2 WHERE account_id = $1", account.account_id, team)
        accounts.setdefault(creditor, []).append(account.account_id)
    a_name, lender_a = await signed_in(pool, "collector", creditors=["Lender A"])
    _, analyst = await signed_in(pool, "analyst")
    take = ("calls", "next", "--queue", team, "--at", AT_6_DPD.isoformat(), "--json")

    not_working = refused(await collections(None, database_url, analyst, *take, home=tmp_path))
    for_another = refused(await collections(None, database_url, lender_a, *take, "--collector", "li", home=tmp_path))
    first = await collections(None, database_url, lender_a, *take, home=tmp_path)
    then = refused(await collections(None, database_url, lender_a, *take, home=tmp_path))

    assert not_working.endswith(" may not work accounts (roles: analyst)")
    assert for_another == f"error: --collector: signed in as {a_name}, who is recorded; leave --collector out"
    assert first.returncode == 0, first.stderr
    call = json.loads(first.stdout)
    assert (call["account_id"], call["assigned_to"]) == (accounts["Lender A"][0], a_name)
    assert then == f"error: no call of queue {team!r} may be made now"  # not one of Lender B's
    open_calls = await pool.fetch(
        "SELECT account_id FROM call_tasks WHERE status = 'open' AND account_id = ANY($1)", accounts["Lender B"]
    )
    assert len(open_calls) == 2


async def test_an_operator_of_one_creditor_is_handed_only_that_creditors_visits(
    pool, sms_client, settings, database_url, tmp_path
):
    team = f"field_{uuid.uuid4().hex[:8]}"
    _, b_order = await filed(pool, sms_client, settings, "field_visit@45", "Lender B", "order_field_visit")
    of_a, a_order = await filed(pool, sms_client, settings, "field_visit@45", "Lender A", "order_field_visit")
    # Lender B's order is due first: without the operator's creditors it would be handed out first.
    await pool.execute(
        "UPDATE field_visit_orders SET field_queue = $1, deadline = now() + CASE action_key WHEN $2 THEN interval"
        " '1 day' ELSE interval '2 days' END WHERE action_key IN ($2, $3)",
        team,
        b_order.action_key,
        a_order.action_key,
    )
    a_name, lender_a = await signed_in(pool, "collector", creditors=["Lender A"])
    take = ("visits", "next", "--queue", team, "--with", "field-agent-9", "--json")  # a home visit needs two

    first = await collections(None, database_url, lender_a, *take, home=tmp_path)
    then = refused(await collections(None, database_url, lender_a, *take, home=tmp_path))

    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["account_id"] == of_a.account_id
    assert then == f"error: no open visit order in queue {team!r}"
    taken = {
        r["action_key"]: (r["status"], r["assigned_to"])
        for r in await pool.fetch(
            "SELECT action_key, status, assigned_to FROM field_visit_orders WHERE field_queue = $1", team
        )
    }
    assert taken == {a_order.action_key: ("assigned", a_name), b_order.action_key: ("open", None)}


async def test_another_creditors_call_visit_letter_or_placement_is_answered_as_an_unknown_reference(
    pool, sms_client, settings, database_url, tmp_path, monkeypatch
):
    """Test Lender's work (the creditor the test letterheads have), named by reference by an operator of Lender A:
    the answer is word for word that to a reference to nothing, so it confirms nothing; Test Lender's operator gets
    past it."""
    account, _ = await filed(pool, sms_client, settings, "call_task@6", OWN, "create_call_task")
    team = f"team_{uuid.uuid4().hex[:8]}"
    await pool.execute("UPDATE accounts SET collector_queue = $2 WHERE account_id = $1", account.account_id, team)
    call = await call_queue.take_next(pool, team, "agent7", AT_6_DPD)
    _, visit = await filed(pool, sms_client, settings, "field_visit@45", OWN, "order_field_visit")
    _, letter = await filed(pool, sms_client, settings, "letter_first@10", OWN, "queue_letter")
    _, placement = await filed(pool, sms_client, settings, "agency_placement@90", OWN, "place_with_agency")
    placement_ref = f"PL{uuid.uuid4().hex[:10]}"
    await pool.execute(
        "UPDATE agency_placements SET placement_ref = $2 WHERE action_key = $1", placement.action_key, placement_ref
    )
    refs = {
        "call": call["call_ref"],
        "visit": await pool.fetchval(
            "SELECT visit_ref FROM field_visit_orders WHERE action_key = $1", visit.action_key
        ),
        "letter": await pool.fetchval("SELECT letter_ref FROM letter_jobs WHERE action_key = $1", letter.action_key),
        "placement": placement_ref,
    }
    pdf, dialled = tmp_path / "letter.pdf", ("--number", "+8613800000000")
    commands = {
        "call": lambda ref: ("calls", "outcome", ref, "--id", "O1", "--code", "no_answer", *dialled),
        "visit": lambda ref: ("visits", "report", ref, "--id", "R1", "--finding", "found"),
        "letter": lambda ref: ("letters", "show", ref, "--out", str(pdf)),
        "evidence": lambda ref: ("letters", "evidence", ref, "--id", "E1", "--status", "sent"),
        "placement": lambda ref: ("agencies", "report", ref, "--id", "R1", "--kind", "update"),
    }
    _, lender_a = await signed_in(pool, "collector", creditors=["Lender A"])
    _, own_operator = await signed_in(pool, "collector", creditors=[OWN])
    _, analyst = await signed_in(pool, "analyst")

    unknown = {
        "call": "no call {!r} taken from a collector queue (`calls next` gives the reference)",
        "visit": "no visit order {!r}",
        "letter": "no letter {!r}",
        "evidence": "no letter {!r}",
        "placement": "no placement {!r}",
    }
    for kind, command in commands.items():
        ref = refs["letter" if kind == "evidence" else kind]
        other = refused(await collections(None, database_url, lender_a, *command(ref), home=tmp_path))
        nothing = refused(await collections(None, database_url, lender_a, *command("NOSUCH1"), home=tmp_path))
        assert (other, nothing) == (f"error: {unknown[kind].format(ref)}", f"error: {unknown[kind].format('NOSUCH1')}")
    no_role = refused(
        await collections(None, database_url, analyst, *commands["letter"](refs["letter"]), home=tmp_path)
    )
    assert no_role.endswith(" may not work accounts (roles: analyst)")
    monkeypatch.setenv("LETTERHEADS_FILE", str(TEST_LETTERHEADS))  # the command line prints with the tests' letterheads
    shown = await collections(None, database_url, own_operator, *commands["letter"](refs["letter"]), home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert pdf.read_bytes().startswith(b"%PDF")


async def test_what_mixes_every_creditor_is_refused_to_an_operator_of_some(pool, database_url, tmp_path):
    _, head_of_a = await signed_in(pool, "collections_head", creditors=["Lender A"])
    _, collector = await signed_in(pool, "collector")
    _, analyst = await signed_in(pool, "analyst")
    period = ("--from", "2026-11-01", "--to", "2026-11-30")
    commands = {
        "read the compliance report": ("compliance", "report", *period),
        "read the agencies' performance": ("agencies", "performance"),
        "write the strategy report": ("reports", "write", *period, "--out", str(tmp_path / "reports")),
        "produce the letter batch": ("letters", "batch"),
    }
    for doing, command in commands.items():
        answer = refused(await collections(None, database_url, head_of_a, *command, home=tmp_path))
        assert answer.endswith(f" may not {doing}: that takes an operator of all creditors"), answer
    no_role = refused(
        await collections(None, database_url, collector, *commands["read the compliance report"], home=tmp_path)
    )
    assert no_role.endswith(" may not read the compliance report (roles: collector)")
    read = await collections(None, database_url, analyst, *commands["read the compliance report"], home=tmp_path)
    assert read.returncode == 0, read.stderr
    assert "breaches: " in read.stdout
