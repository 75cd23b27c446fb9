"""`calls`, `replies`, `collectors`, `visits` and `letters`: the collectors', field agents' and print vendor's work,
and what came of it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from cli.common import choice, connect, database, fields, json_option, run_async, settings, show
from cli.signed_in import at_work, may_cover_every_creditor, reference_argument, who
from client import InputError, inputs
from dunning.letters import DeliveryStatus, ReturnReason
from dunning.visits import VisitFinding
from infra import books, call_queue, debtor_replies, field_visits
from infra.letters import LetterRenderer, letter_document, letter_on_file
from workflows.letter_batch import LETTER_BATCH_WORKFLOW_ID, LetterBatchWorkflow

AT_HELP = "when it happened, e.g. 2026-11-22T10:00:00+08:00 (default now)"
# What a reference to nothing is told; signed in, so is one to another creditor's visit order or letter.
NO_VISIT = "no visit order {!r}"
NO_LETTER = "no letter {!r}"


@click.group()
def calls() -> None:
    """The collectors' call queue."""


@calls.command("next")
@click.option("--queue", required=True, help="the collector team's queue, e.g. phone_team_1")
@click.option("--collector", help="who takes it (default: the signed-in operator)")
@click.option("--at", help="take it as of this moment, e.g. 2026-11-22T10:30:00+08:00 (default now)")
@json_option
@run_async
async def next_call(queue: str, collector: str | None, at: str | None, as_json: bool) -> None:
    """A collector takes the next call of their queue that may be made now (signed in: on an account of their
    creditors)."""
    async with database() as pool:
        operator = await at_work(pool)
        taker = who(collector, "--collector")
        now = inputs.check_call_taker(queue, taker, at)
        try:
            call = await call_queue.take_next(
                pool, queue, taker, now, creditors=operator.creditors if operator else None
            )
        except call_queue.CallScriptsError as err:  # ops must add the hints: nothing was assigned
            raise InputError(str(err)) from None
    if call is None:
        raise InputError(f"no call of queue {queue!r} may be made now")
    show(call, as_json, fields(call))


@calls.command("outcome")
@reference_argument("call_ref", "call", call_queue.NO_CALL)
@click.option("--id", "outcome_id", required=True, help="one id per attempt")
@click.option("--code", required=True, type=click.Choice(call_queue.CALL_OUTCOMES))
@click.option("--number", required=True, help="the number dialled, as the call's phone order lists it")
@click.option("--collector", help="who took the call (default: the signed-in operator)")
@click.option("--note", default="")
@click.option("--at", help=AT_HELP)
@run_async
async def call_outcome(
    call_ref: str, outcome_id: str, code: str, number: str, collector: str | None, note: str, at: str | None
) -> None:
    """How one attempt on a call from the queue ended (a promise taken on the call: `promises make ... --channel
    call`)."""
    outcome = inputs.parse_call_outcome(outcome_id, code, number, who(collector, "--collector"), note, at)
    collections = await connect()
    async with database() as pool:
        account_id = await collections.report_call_outcome(pool, call_ref, outcome)
    click.echo(f"outcome {outcome.outcome_id} ({outcome.code}) of call {call_ref} sent to account {account_id}")


@click.group()
def replies() -> None:
    """What debtors wrote back (a text that is no keyword, an e-mail that is no opt-out), for a collector to answer."""


@replies.command("next")
@click.option("--queue", required=True, help="the collector team's queue, e.g. phone_team_1")
@click.option("--collector", help="who takes it (default: the signed-in operator)")
@click.option("--at", help=AT_HELP)
@json_option
@run_async
async def next_reply(queue: str, collector: str | None, at: str | None, as_json: bool) -> None:
    """A collector takes the oldest reply waiting on their queue's accounts (signed in: of their creditors) and
    reads it; they answer the debtor as the case needs, then record it with `replies answered`."""
    async with database() as pool:
        operator = await at_work(pool)
        taker = who(collector, "--collector")
        now = inputs.check_call_taker(queue, taker, at)
        reply = await debtor_replies.take_next(
            pool, queue, taker, now, creditors=operator.creditors if operator else None
        )
    if reply is None:
        raise InputError(f"no reply waits on queue {queue!r}")
    show(reply, as_json, fields(reply))


@replies.command("answered")
@reference_argument("reply_ref", "reply", debtor_replies.NO_REPLY)
@click.option("--note", default="", help="what the debtor was told or what was done")
@click.option("--collector", help="who answered it (default: the signed-in operator)")
@click.option("--at", help=AT_HELP)
@run_async
async def reply_answered(reply_ref: str, note: str, collector: str | None, at: str | None) -> None:
    """Records that a reply taken from the queue was answered."""
    taker = who(collector, "--collector")
    when = inputs.check_collector_at(taker, at)
    async with database() as pool:
        try:
            account_id = await debtor_replies.answered(pool, reply_ref, taker, note, when)
        except debtor_replies.ReplyError as err:
            raise InputError(str(err)) from None
    click.echo(f"reply {reply_ref} on account {account_id} answered")


@click.group()
def collectors() -> None:
    """Collectors' own books: who is away, and each collector's day."""


@collectors.command("away")
@click.argument("collector")
@click.option("--from", "first_day", required=True, help="the first day away, e.g. 2026-12-01")
@click.option("--to", "last_day", required=True, help="the last day away")
@click.option("--reason", required=True, help="e.g. leave, sick, left the company")
@run_async
async def collector_away(collector: str, first_day: str, last_day: str, reason: str) -> None:
    """Records a collector away; their open accounts go to the others of each queue, the smallest books first."""
    first, last = inputs.parse_day(first_day, "--from"), inputs.parse_day(last_day, "--to")
    if last < first or not reason.strip():
        raise InputError("--to must not be before --from, and --reason must say why")
    async with database() as pool:
        await at_work(pool)
        moved = await books.away(pool, collector, first, last, reason)
    for account_id, taker in moved:
        click.echo(f"{account_id} -> {taker or 'nobody of its queue (the whole team works it)'}")
    click.echo(f"{collector} away {first} to {last}: {len(moved)} open account(s) handed on")


@collectors.command("day")
@click.option("--queue", required=True, help="the collector team's queue, e.g. phone_team_1")
@click.option("--date", "day", help="the day, e.g. 2026-12-01 (default today)")
@json_option
@run_async
async def collectors_day(queue: str, day: str | None, as_json: bool) -> None:
    """Each collector of the queue: book size, accounts dialled against the daily target (a target, not a cap),
    promises taken that day and this month, and kept this month."""
    now = inputs.now()
    on = inputs.parse_day(day, "--date") if day else now.date()
    async with database() as pool:
        await at_work(pool)
        rows = await books.collectors_day(pool, queue, on, now)
    if not rows:
        raise InputError(f"queue {queue!r} has no named collectors (teams/standard.yaml)")
    show(
        rows,
        as_json,
        [
            f"{r['name']:<14} book {r['book']:>4}  dialled {r['dialled']:>3}/{r['dials_target']}"
            f"  promises {r['promised_today']} today, {r['promised_month']} this month ({r['kept_month']} kept)"
            + ("  away" if r["away"] else "")
            for r in rows
        ],
    )


@click.group()
def visits() -> None:
    """The field team's visit orders."""


@visits.command("next")
@click.option("--queue", required=True)
@click.option("--agent", help="who takes it (default: the signed-in operator)")
@click.option("--with", "partners", multiple=True, help="another agent going along; repeat for several")
@json_option
@run_async
async def next_visit(queue: str, agent: str | None, partners: tuple[str, ...], as_json: bool) -> None:
    """A field agent takes the next visit order of their queue that they (with whoever goes along) are enough staff
    for (signed in: on an account of their creditors)."""
    async with database() as pool:
        operator = await at_work(pool)
        creditors = operator.creditors if operator else None
        agents = _field_team(who(agent, "--agent"), partners)
        order = await field_visits.take_next(pool, queue, agents, inputs.now(), creditors)
        needed = 0 if order else await field_visits.most_staff_waiting(pool, queue, creditors)
    if order is None and needed > len(agents):
        raise InputError(f"the open visit orders of queue {queue!r} need {needed} staff: name the others with --with")
    if order is None:
        raise InputError(f"no open visit order in queue {queue!r}")
    show(order, as_json, fields(order))


@visits.command("dispatch")
@click.option("--queue", required=True)
@click.option("--agent", "agents", multiple=True, required=True, help="an agent at work today; repeat for each")
@json_option
@run_async
async def dispatch_visits(queue: str, agents: tuple[str, ...], as_json: bool) -> None:
    """Hands every open visit order of the queue to today's agents, each to those with the fewest visits this month
    (the policy's monthly target is a target, not a cap); an order needing more agents than are at work stays open."""
    async with database() as pool:
        operator = await at_work(pool)
        team = _field_team(agents[0], agents[1:])
        handed = await field_visits.dispatch(pool, queue, team, inputs.now(), operator.creditors if operator else None)
    show(handed, as_json, [f"{o['visit_ref']}  {o['deadline']}  {', '.join(o['agents'])}" for o in handed])


@visits.command("month")
@click.option("--queue", required=True)
@json_option
@run_async
async def month_of_visits(queue: str, as_json: bool) -> None:
    """Each agent's month so far: orders handed to them, visits reported, against the monthly target."""
    async with database() as pool:
        await at_work(pool)
        month = await field_visits.month_of_agents(pool, queue, inputs.now())
    show(
        month,
        as_json,
        [
            f"{m['agent']:<20} {m['handed_out']:>3} handed out  {m['reported']:>3} reported  target {m['target']}"
            for m in month
        ],
    )


def _field_team(agent: str, others: tuple[str, ...]) -> list[str]:
    team = [agent, *(name for name in others if name != agent)]
    if any(not name.strip() or len(name) > 128 for name in team) or len(set(team)) != len(team):
        raise InputError("--agent and --with: each agent once, 1 to 128 characters")
    return team


@visits.command("report")
@reference_argument("visit_ref", "visit order", NO_VISIT)
@click.option("--id", "report_id", required=True)
@click.option("--finding", required=True, type=choice(VisitFinding))
@click.option("--agent", help="who visited (default: the signed-in operator)")
@click.option("--with", "partners", multiple=True, help="another agent on the visit; repeat for several")
@click.option("--notes", default="")
@click.option("--photo", "photos", multiple=True, help="a photo's reference in the photo store; repeat for several")
@click.option("--promised-amount")
@click.option("--promised-date")
@click.option("--at", help="when the visit was, e.g. 2026-11-22T15:00:00+08:00 (default now)")
@run_async
async def visit_report(
    visit_ref: str,
    report_id: str,
    finding: str,
    agent: str | None,
    partners: tuple[str, ...],
    notes: str,
    photos: tuple[str, ...],
    promised_amount: str | None,
    promised_date: str | None,
    at: str | None,
) -> None:
    """A field agent reports on a visit."""
    async with database() as pool:
        order = await field_visits.visit_on_file(pool, visit_ref)
    if order is None:
        raise InputError(NO_VISIT.format(visit_ref))
    collections = await connect()
    currency = await collections.currency(order["account_id"])
    report = inputs.parse_visit_report(
        report_id,
        visit_ref,
        finding,
        order["address"],
        who(agent, "--agent"),
        notes,
        list(photos),
        promised_amount,
        promised_date,
        currency,
        at,
        list(partners),
        order["agents"],
    )
    await collections.signal(order["account_id"], "visit_reported", report)
    click.echo(f"visit {report.visit_ref}: {report.finding} sent to account {order['account_id']}")


@click.group()
def letters() -> None:
    """The print vendor's batch, a letter as printed, its evidence."""


@letters.command()
@run_async
async def batch() -> None:
    """Produce the print vendor's letter batch now (it also runs daily)."""
    await may_cover_every_creditor("work_accounts", "produce the letter batch")
    collections = await connect()
    produced = await collections.temporal.execute_workflow(
        LetterBatchWorkflow.run,
        id=f"{LETTER_BATCH_WORKFLOW_ID}-now-{datetime.now(UTC):%Y%m%dT%H%M%S}",
        task_queue=collections.task_queue,
    )
    folder = f" in {produced.folder}" if produced.folder else ""
    click.echo(f"batch {produced.batch_id}: {produced.letters} letters{folder}")


@letters.command("show")
@reference_argument("letter_ref", "letter", NO_LETTER)
@click.option("--out", required=True, type=Path, help="the PDF file to write")
@run_async
async def show_letter(letter_ref: str, out: Path) -> None:
    """Write a letter's PDF, as printed, to a file to open and read."""
    async with database() as pool:
        document = await letter_document(pool, LetterRenderer.load(settings().letterheads_file), letter_ref)
    if document is None:
        raise InputError(NO_LETTER.format(letter_ref))
    try:
        out.write_bytes(document.pdf)
    except OSError as err:
        raise InputError(f"{out}: {err.strerror}") from None
    click.echo(f"{out}: {document.pages} pages, sha256 {document.sha256}")


@letters.command()
@reference_argument("letter_ref", "letter", NO_LETTER)
@click.option("--id", "event_id", required=True)
@click.option("--status", required=True, type=choice(DeliveryStatus))
@click.option("--reason", type=choice(ReturnReason), help="why it came back (returned only)")
@click.option("--evidence", default="", help="tracking number, signature scan reference ...")
@click.option("--at", help=AT_HELP)
@run_async
async def evidence(
    letter_ref: str, event_id: str, status: str, reason: str | None, evidence: str, at: str | None
) -> None:
    """The mail vendor's evidence: sent, signed or returned."""
    async with database() as pool:
        job = await letter_on_file(pool, letter_ref)
    if job is None:
        raise InputError(NO_LETTER.format(letter_ref))
    delivery = inputs.parse_letter_delivery(event_id, letter_ref, status, reason, evidence, job["address"], at)
    await (await connect()).signal(job["account_id"], "letter_delivery", delivery)
    click.echo(f"letter {delivery.letter_ref} {delivery.status} sent to account {job['account_id']}")
