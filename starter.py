"""The command line billing and ops use: open accounts, import a batch, report payments, read an account's state.

    python starter.py open account.json        (or - for stdin)
    python starter.py import accounts.csv
    python starter.py pay ACCOUNT --amount 12.34 --payment-id P1 [--paid-at 2026-11-22T10:00:00+08:00]
    python starter.py reverse ACCOUNT --payment-id P1 --reason "debit bounced"
    python starter.py status ACCOUNT
    python starter.py dispute ACCOUNT --id D1 --subject debt --details "says the amount is wrong"
    python starter.py resolve-dispute ACCOUNT --id D1 --outcome debt_confirmed
    python starter.py report ACCOUNT --id R1 --event deceased --details "told by the spouse"
    python starter.py verify ACCOUNT --id R1 --confirmed | --not-confirmed
    python starter.py cease ACCOUNT --reason "asked by phone" [--channel sms ...]
    python starter.py promise ACCOUNT --id PTP1 --amount 500 --date 2026-12-01 [--hour 14:00] --channel call
        --taken-by agent7
    python starter.py plan ACCOUNT --id PLAN1 --instalment 2026-12-01=500 --instalment 2027-01-01=500 --cause job_loss
        --agreed-by agent7
    python starter.py outcome ACCOUNT --id O1 --code no_answer --source dialer --reported-by dialer [--point +8613...]
    python starter.py contact ACCOUNT --id U1 --kind mobile --value +8613... [--owner contact --relation spouse]
        [--replaces OLD]
        --source tracing
    python starter.py fraud-claim ACCOUNT --id F1 --clues "a cousin had her ID card" --taken-by agent7
    python starter.py fraud-signed ACCOUNT --id F1 --place creditor_branch
    python starter.py fraud-decision ACCOUNT --id F1 --confirmed | --rejected --reference BANK-REF
    python starter.py letter-batch                   (the print vendor's batch now; it also runs daily)
    python starter.py letter-evidence LREF --id E1 --status returned --reason moved [--evidence "RR123CN"] [--at ...]
    python starter.py letter LREF --out letter.pdf   (the letter as printed, to open and read)
    python starter.py calls next --queue phone_team_1 --collector agent7   (the next call that may be made now)
    python starter.py call-outcome CREF --id O1 --code no_answer --number +8613... --collector agent7 [--note ...]
        (one per attempt; a promise taken on the call: `promise ACCOUNT ... --channel call --taken-by agent7`)
    python starter.py visits-next --queue field_team --agent agent12     (the next visit order, assigned to the agent)
    python starter.py visit-report VREF --id R1 --finding promised --agent agent12 --notes "..." [--photo store/ref.jpg]
        [--promised-amount 500 --promised-date 2026-12-01] [--at 2026-11-22T15:00:00+08:00]
    python starter.py agency-report PREF --id R1 --kind payment --amount 300 [--note ...] [--at ...]
    python starter.py recall ACCOUNT --id RC1 --reason "complaint about the agency" --by ops7
    python starter.py agencies                       (placed balance, recovered amount and rate per agency)
    python starter.py approvals                      (steps waiting for an approver)
    python starter.py approve AREF --approver owner [--reject --note "why"]
    python starter.py audit ACCOUNT                  (the contact guard's evidence, from PostgreSQL)
    python starter.py compliance-report --from 2026-11-01 --to 2026-11-30

Bad input gets one line on stderr and exit status 2; nothing is sent to Temporal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import asyncpg
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from dunning.account import ContactKind
from dunning.commitments import HardshipCause, PromiseChannel
from dunning.contact import CONTACT_CHANNELS
from dunning.disputes import DisputeOutcome, DisputeSubject
from dunning.letters import DeliveryStatus, ReturnReason
from dunning.outcomes import OutcomeCode
from dunning.verification import DebtorEvent
from dunning.visits import VisitFinding
from infra import agency_report, audit, billing, call_queue, db, field_visits
from infra.config import Settings
from infra.letters import LetterError, LetterRenderer, letter_document, letter_on_file
from infra.temporal import connect
from workflows.letter_batch import LETTER_BATCH_WORKFLOW_ID, LetterBatchWorkflow


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="starter.py", description="Feed delinquent accounts to the orchestrator.")
    commands = parser.add_subparsers(dest="command", required=True)
    opener = commands.add_parser("open", help="open one account from a JSON document")
    opener.add_argument("file", help="path to the JSON account document, or - for stdin")
    importer = commands.add_parser("import", help="open every account of a CSV file (all rows valid, or none)")
    importer.add_argument("file", type=Path)
    payer = commands.add_parser("pay", help="report a payment received")
    payer.add_argument("account")
    payer.add_argument("--amount", required=True, help="in major units, e.g. 12.34")
    payer.add_argument("--payment-id", required=True)
    payer.add_argument("--paid-at", help="ISO 8601 with offset; default now")
    status = commands.add_parser("status", help="print the account's state as JSON")
    status.add_argument("account")
    reverse = commands.add_parser("reverse", help="a payment was taken back (bounced debit, chargeback)")
    reverse.add_argument("account")
    reverse.add_argument("--payment-id", required=True)
    reverse.add_argument("--reason", required=True)
    reverse.add_argument("--reversed-at", help="ISO 8601 with offset; default now")
    dispute = commands.add_parser("dispute", help="the debtor disputes the debt, or complains")
    dispute.add_argument("account")
    dispute.add_argument("--id", required=True, dest="dispute_id")
    dispute.add_argument("--subject", required=True, choices=get_args(DisputeSubject))
    dispute.add_argument("--details", required=True)
    resolve = commands.add_parser("resolve-dispute", help="a dispute or complaint was resolved")
    resolve.add_argument("account")
    resolve.add_argument("--id", required=True, dest="dispute_id")
    resolve.add_argument("--outcome", required=True, choices=get_args(DisputeOutcome))
    report = commands.add_parser("report", help="the debtor is reported deceased or bankrupt")
    report.add_argument("account")
    report.add_argument("--id", required=True, dest="report_id")
    report.add_argument("--event", required=True, choices=get_args(DebtorEvent))
    report.add_argument("--details", required=True)
    verify = commands.add_parser("verify", help="the documents of a death or bankruptcy report were checked")
    verify.add_argument("account")
    verify.add_argument("--id", required=True, dest="report_id")
    verdict = verify.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--confirmed", action="store_true")
    verdict.add_argument("--not-confirmed", action="store_true")
    cease = commands.add_parser("cease", help="the debtor asked us to stop contacting them")
    cease.add_argument("account")
    cease.add_argument(
        "--channel",
        action="append",
        default=[],
        choices=[c.value for c in CONTACT_CHANNELS],
        help="repeat for several; none means every channel",
    )
    cease.add_argument("--reason", required=True)
    cease.add_argument("--request-id", help="makes a resent request count once; default: a new id")
    promise = commands.add_parser("promise", help="the debtor promised to pay an amount on a date")
    promise.add_argument("account")
    promise.add_argument("--id", required=True, dest="promise_id")
    promise.add_argument("--amount", required=True, help="in major units, e.g. 500.00")
    promise.add_argument("--date", required=True, help="the promised date, e.g. 2026-12-01")
    promise.add_argument("--hour", help="the promised local time, e.g. 14:00")
    promise.add_argument("--channel", required=True, choices=get_args(PromiseChannel))
    promise.add_argument("--taken-by", required=True)
    plan = commands.add_parser("plan", help="agree a repayment plan (answered at once: agreed, or why not)")
    plan.add_argument("account")
    plan.add_argument("--id", required=True, dest="plan_id")
    plan.add_argument("--instalment", action="append", required=True, help="DATE=AMOUNT; repeat, in date order")
    plan.add_argument("--cause", required=True, choices=get_args(HardshipCause))
    plan.add_argument("--agreed-by", required=True)
    outcome = commands.add_parser("outcome", help="how a call or visit ended (the outcome tree)")
    outcome.add_argument("account")
    outcome.add_argument("--id", required=True, dest="outcome_id")
    outcome.add_argument("--code", required=True, choices=get_args(OutcomeCode))
    outcome.add_argument("--source", required=True, choices=["collector", "dialer", "field_visit"])
    outcome.add_argument("--reported-by", required=True)
    outcome.add_argument("--point", help="the number dialled or address visited, as on file")
    outcome.add_argument("--note", default="")
    contact = commands.add_parser("contact", help="add or correct a contact point")
    contact.add_argument("account")
    contact.add_argument("--id", required=True, dest="update_id")
    contact.add_argument("--kind", required=True, choices=get_args(ContactKind))
    contact.add_argument("--value", required=True)
    contact.add_argument("--owner", default="debtor", choices=["debtor", "contact"])
    contact.add_argument("--relation")
    contact.add_argument("--replaces", help="the value on file that this corrects")
    contact.add_argument("--source", required=True, help="who found it: debtor, tracing, field_visit ...")
    claim = commands.add_parser("fraud-claim", help="the debtor says they never applied: contact stops")
    claim.add_argument("account")
    claim.add_argument("--id", required=True, dest="claim_id")
    claim.add_argument("--clues", required=True)
    claim.add_argument("--taken-by", required=True)
    signed = commands.add_parser("fraud-signed", help="the debtor signed the did-not-apply declaration")
    signed.add_argument("account")
    signed.add_argument("--id", required=True, dest="claim_id")
    signed.add_argument("--place", required=True, choices=["creditor_branch", "agency"])
    decision = commands.add_parser("fraud-decision", help="the creditor decided a fraud claim")
    decision.add_argument("account")
    decision.add_argument("--id", required=True, dest="claim_id")
    decided = decision.add_mutually_exclusive_group(required=True)
    decided.add_argument("--confirmed", action="store_true")
    decided.add_argument("--rejected", action="store_true")
    decision.add_argument("--reference", required=True, help="the creditor's reference for its decision")
    commands.add_parser("letter-batch", help="produce the print vendor's letter batch now (it also runs daily)")
    evidence = commands.add_parser("letter-evidence", help="the mail vendor's evidence: sent, signed or returned")
    evidence.add_argument("letter_ref")
    evidence.add_argument("--id", required=True, dest="event_id")
    evidence.add_argument("--status", required=True, choices=get_args(DeliveryStatus))
    evidence.add_argument("--reason", choices=get_args(ReturnReason), help="why it came back (returned only)")
    evidence.add_argument("--evidence", default="", help="tracking number, signature scan reference ...")
    evidence.add_argument("--at", help="when it happened, e.g. 2026-11-22T10:00:00+08:00 (default now)")
    letter = commands.add_parser("letter", help="write a letter's PDF to a file, to open and read it")
    letter.add_argument("letter_ref")
    letter.add_argument("--out", required=True, type=Path)
    calls = commands.add_parser("calls", help="the collectors' call queue")
    calls_of = calls.add_subparsers(dest="calls_command", required=True)
    next_call = calls_of.add_parser("next", help="a collector takes the next call of their queue that may be made now")
    next_call.add_argument("--queue", required=True, help="the collector team's queue, e.g. phone_team_1")
    next_call.add_argument("--collector", required=True)
    next_call.add_argument("--at", help="take it as of this moment, e.g. 2026-11-22T10:30:00+08:00 (default now)")
    called = commands.add_parser(
        "call-outcome",
        help="how one attempt on a call from the queue ended; a promise "
        "taken on the call goes with `starter.py promise ACCOUNT ... --channel call`",
    )
    called.add_argument("call_ref", help="the call's reference, as `calls next` printed it")
    called.add_argument("--id", required=True, dest="outcome_id", help="one id per attempt")
    called.add_argument("--code", required=True, choices=call_queue.CALL_OUTCOMES)
    called.add_argument("--number", required=True, help="the number dialled, as the call's phone order lists it")
    called.add_argument("--collector", required=True, help="who took the call")
    called.add_argument("--note", default="")
    called.add_argument("--at", help="when the attempt ended, e.g. 2026-11-22T10:35:00+08:00 (default now)")
    take = commands.add_parser("visits-next", help="a field agent takes the next visit order of their queue")
    take.add_argument("--queue", required=True)
    take.add_argument("--agent", required=True)
    visit = commands.add_parser("visit-report", help="a field agent reports on a visit")
    visit.add_argument("visit_ref")
    visit.add_argument("--id", required=True, dest="report_id")
    visit.add_argument("--finding", required=True, choices=get_args(VisitFinding))
    visit.add_argument("--agent", required=True)
    visit.add_argument("--notes", default="")
    visit.add_argument("--photo", action="append", default=[], help="a photo's reference in the photo store")
    visit.add_argument("--promised-amount")
    visit.add_argument("--promised-date")
    visit.add_argument("--at", help="when the visit was, e.g. 2026-11-22T15:00:00+08:00 (default now)")
    agency = commands.add_parser("agency-report", help="an agency reports a payment, news, or hands an account back")
    agency.add_argument("placement_ref")
    agency.add_argument("--id", required=True, dest="report_id")
    agency.add_argument("--kind", required=True, choices=["payment", "update", "returned"])
    agency.add_argument("--amount", help="what the agency collected (payment only)")
    agency.add_argument("--note", default="")
    agency.add_argument("--at", help="when it happened, e.g. 2026-11-22T10:00:00+08:00 (default now)")
    recall = commands.add_parser("recall", help="take a placed account back from its agency now")
    recall.add_argument("account")
    recall.add_argument("--id", required=True, dest="request_id")
    recall.add_argument("--reason", required=True)
    recall.add_argument("--by", required=True)
    commands.add_parser("agencies", help="placed balance, recovered amount and rate per agency")
    commands.add_parser("approvals", help="steps waiting for an approver's decision")
    approve = commands.add_parser("approve", help="an approver approves (or --reject) a step waiting for approval")
    approve.add_argument("approval_ref")
    approve.add_argument("--approver", required=True)
    approve.add_argument("--reject", action="store_true")
    approve.add_argument("--note", default="", help="why (required to reject)")
    audit = commands.add_parser("audit", help="every contact the account attempted, and the guard's verdict")
    audit.add_argument("account")
    report = commands.add_parser("compliance-report", help="contacts per debtor per channel per 7 days, and breaches")
    report.add_argument("--from", required=True, dest="first", help="first day, e.g. 2026-11-01")
    report.add_argument("--to", required=True, dest="last", help="last day, e.g. 2026-11-30")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace, settings: Settings) -> None:
    if args.command == "open":
        text = sys.stdin.read() if args.file == "-" else _read(Path(args.file))
        document = billing.parse_json_document(text)
        client = await _connect(settings)
        await billing.open_account(client, settings.task_queue, document)
        print(f"opened {document.workflow_id}")
    elif args.command == "import":
        if not args.file.is_file():
            raise billing.InputError(f"{args.file}: no such file")
        documents = billing.parse_csv(args.file)
        client = await _connect(settings)
        await billing.open_accounts(client, settings.task_queue, documents)
        print(f"opened {len(documents)} accounts")
    elif args.command == "pay":
        billing.check_payment_args(args.amount, args.payment_id, args.paid_at)
        client = await _connect(settings)
        currency = await billing.account_currency(client, args.account)
        payment = billing.parse_payment(args.amount, args.payment_id, currency, args.paid_at)
        await billing.pay(client, settings.task_queue, args.account, payment)
        print(f"payment {payment.payment_id} sent to account {args.account}")
    elif args.command == "reverse":
        reversal = billing.parse_reversal(args.payment_id, args.reason, args.reversed_at)
        await billing.reverse_payment(await _connect(settings), settings.task_queue, args.account, reversal)
        print(f"reversal of payment {reversal.payment_id} sent to account {args.account}")
    elif args.command == "dispute":
        dispute = billing.parse_dispute(args.dispute_id, args.subject, args.details)
        await billing.signal_open_account(await _connect(settings), args.account, "dispute_opened", dispute)
        print(f"dispute {dispute.dispute_id} opened on account {args.account}")
    elif args.command == "resolve-dispute":
        resolution = billing.parse_resolution(args.dispute_id, args.outcome)
        await billing.signal_open_account(await _connect(settings), args.account, "dispute_resolved", resolution)
        print(f"dispute {resolution.dispute_id} resolved ({resolution.outcome}) on account {args.account}")
    elif args.command == "report":
        report = billing.parse_debtor_event(args.report_id, args.event, args.details)
        await billing.signal_open_account(await _connect(settings), args.account, "debtor_event_reported", report)
        print(f"{report.event} report {report.report_id} opened on account {args.account}: contact stopped")
    elif args.command == "verify":
        documents = billing.parse_documents(args.report_id, args.confirmed)
        await billing.signal_open_account(await _connect(settings), args.account, "documents_verified", documents)
        print(f"report {documents.report_id} {'confirmed' if documents.confirmed else 'not confirmed'}")
    elif args.command == "cease":
        request = billing.parse_cease(args.channel, args.reason, args.request_id)
        await billing.cease_contact(await _connect(settings), settings.task_queue, args.account, request)
        channels = ", ".join(sorted(c.value for c in request.ceased()))
        print(f"contact ceased on {channels} for account {args.account}")
    elif args.command == "promise":
        client = await _connect(settings)
        currency = await billing.account_currency(client, args.account)
        promise = billing.parse_promise(
            args.promise_id, args.amount, currency, args.date, args.hour, args.channel, args.taken_by
        )
        await billing.signal_open_account(client, args.account, "promise_made", promise)
        print(f"promise {promise.promise_id} sent to account {args.account} (refusals show in `status`)")
    elif args.command == "plan":
        client = await _connect(settings)
        currency = await billing.account_currency(client, args.account)
        plan = billing.parse_plan(args.plan_id, args.instalment, currency, args.cause, args.agreed_by)
        agreed = await billing.agree_plan(client, args.account, plan)
        print(f"plan {agreed.commitment_id} agreed on account {args.account}: {len(agreed.instalments)} instalments")
    elif args.command == "outcome":
        outcome = billing.parse_outcome(
            args.outcome_id, args.code, args.source, args.reported_by, args.point, args.note
        )
        await billing.signal_open_account(await _connect(settings), args.account, "contact_outcome", outcome)
        print(f"outcome {outcome.outcome_id} ({outcome.code}) sent to account {args.account}")
    elif args.command == "contact":
        update = billing.parse_contact_update(
            args.update_id, args.kind, args.value, args.owner, args.relation, args.replaces, args.source
        )
        await billing.signal_open_account(await _connect(settings), args.account, "contact_updated", update)
        print(f"contact update {update.update_id} sent to account {args.account}")
    elif args.command == "fraud-claim":
        claim = billing.parse_fraud_claim(args.claim_id, args.clues, args.taken_by)
        await billing.signal_open_account(await _connect(settings), args.account, "fraud_claimed", claim)
        print(f"fraud claim {claim.claim_id} opened on account {args.account}: contact stopped")
    elif args.command == "fraud-signed":
        signed = billing.parse_declaration(args.place)
        await billing.signal_fraud_claim(
            await _connect(settings), args.account, args.claim_id, "declaration_signed", signed
        )
        print(f"declaration of fraud claim {args.claim_id} signed")
    elif args.command == "fraud-decision":
        decision = billing.parse_creditor_decision(args.confirmed, args.reference)
        await billing.signal_fraud_claim(
            await _connect(settings), args.account, args.claim_id, "creditor_decided", decision
        )
        print(f"fraud claim {args.claim_id} {'confirmed' if decision.confirmed else 'rejected'} by the creditor")
    elif args.command == "letter-batch":
        client = await _connect(settings)
        batch = await client.execute_workflow(
            LetterBatchWorkflow.run,
            id=f"{LETTER_BATCH_WORKFLOW_ID}-now-{datetime.now(UTC):%Y%m%dT%H%M%S}",
            task_queue=settings.task_queue,
        )
        print(f"batch {batch.batch_id}: {batch.letters} letters" + (f" in {batch.folder}" if batch.folder else ""))
    elif args.command == "letter-evidence":
        async with _database(settings) as pool:
            job = await letter_on_file(pool, args.letter_ref)
        if job is None:
            raise billing.InputError(f"no letter {args.letter_ref!r}")
        delivery = billing.parse_letter_delivery(
            args.event_id, args.letter_ref, args.status, args.reason, args.evidence, job["address"], args.at
        )
        await billing.signal_open_account(await _connect(settings), job["account_id"], "letter_delivery", delivery)
        print(f"letter {delivery.letter_ref} {delivery.status} sent to account {job['account_id']}")
    elif args.command == "letter":
        async with _database(settings) as pool:
            document = await letter_document(pool, LetterRenderer.load(settings.letterheads_file), args.letter_ref)
        if document is None:
            raise billing.InputError(f"no letter {args.letter_ref!r}")
        try:
            args.out.write_bytes(document.pdf)
        except OSError as err:
            raise billing.InputError(f"{args.out}: {err.strerror}") from None
        print(f"{args.out}: {document.pages} pages, sha256 {document.sha256}")
    elif args.command == "calls" and args.calls_command == "next":
        now = billing.check_call_taker(args.queue, args.collector, args.at)
        async with _database(settings) as pool:
            call = await billing.take_call(pool, args.queue, args.collector, now)
        if call is None:
            raise billing.InputError(f"no call of queue {args.queue!r} may be made now")
        print(json.dumps(call, ensure_ascii=False, indent=2))
    elif args.command == "call-outcome":
        outcome = billing.parse_call_outcome(
            args.outcome_id, args.code, args.number, args.collector, args.note, args.at
        )
        client = await _connect(settings)
        async with _database(settings) as pool:
            account_id = await billing.report_call_outcome(client, pool, args.call_ref, outcome)
        print(f"outcome {outcome.outcome_id} ({outcome.code}) of call {args.call_ref} sent to account {account_id}")
    elif args.command == "visits-next":
        async with _database(settings) as pool:
            order = await field_visits.take_next(pool, args.queue, args.agent)
        if order is None:
            raise billing.InputError(f"no open visit order in queue {args.queue!r}")
        print(json.dumps(order, ensure_ascii=False, indent=2))
    elif args.command == "visit-report":
        async with _database(settings) as pool:
            order = await field_visits.visit_on_file(pool, args.visit_ref)
        if order is None:
            raise billing.InputError(f"no visit order {args.visit_ref!r}")
        client = await _connect(settings)
        currency = await billing.account_currency(client, order["account_id"])
        report = billing.parse_visit_report(
            args.report_id,
            args.visit_ref,
            args.finding,
            order["address"],
            args.agent,
            args.notes,
            args.photo,
            args.promised_amount,
            args.promised_date,
            currency,
            args.at,
        )
        await billing.signal_open_account(client, order["account_id"], "visit_reported", report)
        print(f"visit {report.visit_ref}: {report.finding} sent to account {order['account_id']}")
    elif args.command == "agency-report":
        async with _database(settings) as pool:
            placed = await pool.fetchrow(
                "SELECT account_id, currency FROM agency_placements WHERE placement_ref = $1", args.placement_ref
            )
        if placed is None:
            raise billing.InputError(f"no placement {args.placement_ref!r}")
        report = billing.parse_agency_report(
            args.report_id, args.placement_ref, args.kind, args.amount, placed["currency"], args.note, args.at
        )
        await billing.signal_open_account(await _connect(settings), placed["account_id"], "agency_reported", report)
        print(f"agency report {report.report_id} ({report.kind}) sent to account {placed['account_id']}")
    elif args.command == "recall":
        request = billing.parse_recall(args.request_id, args.reason, args.by)
        await billing.signal_open_account(await _connect(settings), args.account, "recall_placement", request)
        print(f"recall {request.request_id} sent to account {args.account} (refusals show in `status`)")
    elif args.command == "agencies":
        async with _database(settings) as pool:
            lines = await agency_report.performance(pool)
        print("\n".join(lines) or "no placements yet")
    elif args.command == "approvals":
        async with _database(settings) as pool:
            waiting = await pool.fetch(
                "SELECT approval_ref, account_id, step_id, approvers, requested_at FROM approvals"
                " WHERE status = 'pending' ORDER BY requested_at"
            )
        print(
            "\n".join(
                f"{r['approval_ref']}  {r['account_id']}  {r['step_id']}  since {r['requested_at']:%Y-%m-%d}"
                f"  approvers: {', '.join(r['approvers'])}"
                for r in waiting
            )
            or "no step waits for approval"
        )
    elif args.command == "approve":
        decision = billing.parse_approval(args.approval_ref, not args.reject, args.approver, args.note)
        async with _database(settings) as pool:
            account_id = await pool.fetchval(
                "SELECT account_id FROM approvals WHERE approval_ref = $1", decision.approval_ref
            )
        if account_id is None:
            raise billing.InputError(f"no approval {decision.approval_ref!r}")
        answer = await billing.decide_approval(await _connect(settings), account_id, decision)
        print(f"{decision.approval_ref} {answer} by {decision.approver} on account {account_id}")
    elif args.command == "audit":
        async with _database(settings) as pool:
            lines = await audit.trail(pool, args.account)
        if not lines:
            raise billing.InputError(f"no contact evidence for account {args.account!r}")
        print("\n".join(lines))
    elif args.command == "compliance-report":
        first, last = billing.parse_day(args.first, "--from"), billing.parse_day(args.last, "--to")
        if last < first:
            raise billing.InputError(f"--to {last} is before --from {first}")
        async with _database(settings) as pool:
            counts, found = await audit.compliance_report(pool, first, last)
        print("\n".join(counts) if counts else f"no contacts from {first} to {last}")
        print(f"breaches: {len(found)}" + "".join(f"\n  {breach}" for breach in found))
    elif args.command == "status":
        client = await _connect(settings)
        print((await billing.account_state(client, args.account)).model_dump_json(indent=2))


@asynccontextmanager
async def _database(settings: Settings):
    """The evidence lives in PostgreSQL: DATABASE_URL says where (`make run` prints the URL of its own)."""
    if not settings.database_url:
        raise billing.InputError("set DATABASE_URL to read the evidence (make run prints the URL of its database)")
    try:
        pool = await db.create_pool(settings.database_url, max_size=2)
    except (OSError, asyncpg.PostgresError) as err:
        raise billing.InputError(f"cannot reach PostgreSQL at DATABASE_URL: {err}") from None
    try:
        yield pool
    finally:
        await pool.close()


async def _connect(settings: Settings):
    try:
        return await connect(settings)
    except RuntimeError as err:
        raise billing.InputError(f"cannot reach Temporal at {settings.temporal_address}: {err}") from None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise billing.InputError(f"{path}: {err.strerror}") from None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = Settings.from_env()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run(args, settings))
    except (billing.InputError, LetterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (RPCError, WorkflowQueryFailedError) as err:
        print(f"error: Temporal could not do it: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    status = main()
    # The Temporal client's Rust threads can abort interpreter finalization of a short-lived process
    # (temporalio/sdk-python#300); everything is done and flushed, so leave without finalizing.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
