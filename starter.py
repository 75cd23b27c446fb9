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

Bad input gets one line on stderr and exit status 2; nothing is sent to Temporal.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import get_args

from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from dunning.contact import CONTACT_CHANNELS
from dunning.disputes import DisputeOutcome, DisputeSubject
from dunning.verification import DebtorEvent
from infra import billing
from infra.config import Settings
from infra.temporal import connect


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
    cease.add_argument("--channel", action="append", default=[], choices=[c.value for c in CONTACT_CHANNELS],
                       help="repeat for several; none means every channel")
    cease.add_argument("--reason", required=True)
    cease.add_argument("--request-id", help="makes a resent request count once; default: a new id")
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
        await billing.signal_open_account(await _connect(settings), args.account, "cease_contact", request)
        channels = ", ".join(sorted(c.value for c in request.ceased()))
        print(f"contact ceased on {channels} for account {args.account}")
    elif args.command == "status":
        client = await _connect(settings)
        print((await billing.account_state(client, args.account)).model_dump_json(indent=2))


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
        asyncio.run(run(args, Settings.from_env()))
    except billing.InputError as err:
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
