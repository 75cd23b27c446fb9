"""The orchestrator's client: how billing, ops and this project's CLI act on accounts from outside Temporal.

Payloads are checked before they get here (`client.inputs` turns typed-in text into them, or build them yourself);
an account's refusal comes back as an `InputError` that says why.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from client import inputs
from client.inputs import InputError, check_contact_points, check_contact_update, check_treatable
from dunning.account import (
    AccountDocument,
    BalanceChanged,
    DemoClock,
    PaymentReceived,
    PaymentReversed,
    workflow_id,
)
from dunning.approvals import ApprovalDecision
from dunning.commitments import Commitment, PlanProposed
from dunning.concessions import Concession, ConcessionDecided, ConcessionGranted, ConcessionReversed
from dunning.contact import CeaseContact
from dunning.contact_points import country_of_zone, needs_country
from dunning.fraud import claim_workflow_id
from dunning.outcomes import ContactOutcome, ContactUpdated
from dunning.state import AccountRun
from dunning.view import AccountView, closed_view
from infra import call_queue, retention
from infra.config import Settings
from infra.stack_clock import read_stack_clock
from infra.temporal import connect
from workflows import search_attributes as sa
from workflows.account import AccountWorkflow


class CollectionsClient:
    """One delinquent account is one workflow; this opens them, tells them what happened, and reads their state."""

    def __init__(
        self,
        temporal: Client,
        task_queue: str = "collections",
        clock: DemoClock | None = None,
        database_url: str | None = None,
    ) -> None:
        self.temporal = temporal
        self.task_queue = task_queue
        self.clock = clock  # the local stack's demo clock: accounts opened here run on its days
        # Where closed accounts' runs are kept once Temporal has dropped their histories (None: not looked up).
        self.database_url = database_url

    @classmethod
    async def connect(cls, settings: Settings | None = None) -> CollectionsClient:
        """From the environment's settings (Temporal's as its CLI reads them, TASK_QUEUE, the key ring) unless given."""
        settings = settings or Settings.from_env()
        try:
            temporal = await connect(settings)
        except RuntimeError as err:
            raise InputError(f"cannot reach Temporal at {settings.temporal_address}: {err}") from None
        try:
            clock = read_stack_clock()
        except ValueError as err:
            raise InputError(str(err)) from None
        inputs.follow(clock)  # news typed in this process is dated on the stack's days too
        return cls(temporal, settings.task_queue, clock, settings.database_url or None)

    @classmethod
    @asynccontextmanager
    async def connected(cls, settings: Settings | None = None) -> AsyncIterator[CollectionsClient]:
        """`connect` for a short-lived process such as a script: on leaving, the Temporal client is let go while the
        event loop still runs, or the interpreter can abort at exit (temporalio/sdk-python#300)."""
        collections = await cls.connect(settings)
        try:
            yield collections
        finally:
            del collections
            gc.collect()

    async def open(self, document: AccountDocument, clock: DemoClock | None = None) -> AccountDocument:
        """Signal-with-start: opening the same account twice leaves the running workflow (and its pinned policy) as
        is. An account that has closed is not reopened by a resend (a stale billing feed must not restart dunning),
        even once Temporal has dropped its history. Returns the document as opened: its country named, its phones in
        E.164 with their line type, its e-mail addresses normalised (an InputError if one is not valid)."""
        document = self._checked(document)
        async with self._closed_runs() as kept:
            if kept is not None and await retention.kept_accounts(kept, [document.account_id]):
                raise self._not_reopened(document.account_id, "closed")
        await self._start(document, clock)
        return document

    @staticmethod
    def _checked(document: AccountDocument) -> AccountDocument:
        where = f"account {document.account_id}"
        document = check_contact_points(document, where)
        check_treatable(document, where)
        return document

    async def _start(self, document: AccountDocument, clock: DemoClock | None) -> None:
        run = AccountRun(account=document, clock=clock or self.clock)  # the worker chooses and pins the policy
        try:
            await self.temporal.start_workflow(
                AccountWorkflow.run,
                run,
                id=document.workflow_id,
                task_queue=self.task_queue,
                start_signal="account_document_received",
                start_signal_args=[document],
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            status = await self.status(document.account_id)
            raise self._not_reopened(document.account_id, f"closed ({status.name.lower()})") from None

    @staticmethod
    def _not_reopened(account_id: str, status: str) -> InputError:
        return InputError(f"account {account_id!r} is {status}; a closed account is not reopened by sending it again")

    async def open_many(
        self, documents: list[AccountDocument], clock: DemoClock | None = None, concurrency: int = 64
    ) -> list[AccountDocument]:
        """Opens a batch with a bounded number of starts in flight: fast for a portfolio, gentle on the server. Every
        document is checked as `open` checks it before any account starts."""
        documents = [self._checked(document) for document in documents]
        async with self._closed_runs() as kept:
            closed = await retention.kept_accounts(kept, [d.account_id for d in documents]) if kept else set()
        if closed:  # refused before any of the batch starts
            names = ", ".join(repr(account_id) for account_id in sorted(closed))
            raise InputError(f"accounts {names} are closed; a closed account is not reopened by sending it again")
        slots = asyncio.Semaphore(concurrency)

        async def one(document: AccountDocument) -> None:
            async with slots:
                await self._start(document, clock)

        await asyncio.gather(*(one(document) for document in documents))
        return documents

    async def pay(self, account_id: str, payment: PaymentReceived) -> None:
        """A payment for an account that has closed is recorded as an overpayment: money is never dropped."""
        await self._deliver_to_any_run(account_id, "payment_received", payment)

    async def reverse(self, account_id: str, reversal: PaymentReversed) -> None:
        """A reversal that leaves money owing on a closed account reopens it."""
        await self._deliver_to_any_run(account_id, "payment_reversed", reversal)

    async def change_balance(self, account_id: str, change: BalanceChanged) -> None:
        """Billing's charge, interest, credit note or write-down, applied once by its id; a refusal is recorded on the
        account with why (`state`'s rejected signals, the `balance_changes` table). Only an open account takes one."""
        await self.signal(account_id, "balance_changed", change)

    async def cease(self, account_id: str, request: CeaseContact) -> None:
        """A closed account records it too: should a reversal reopen the account, the debtor is still not contacted."""
        await self._deliver_to_any_run(account_id, "cease_contact", request)

    async def signal(self, account_id: str, signal: str, payload: Any) -> None:
        """News only an open account can act on (disputes, promises, outcomes...), by the signal's name."""
        await self._require_open(account_id)
        await self.temporal.get_workflow_handle(workflow_id(account_id)).signal(signal, payload)

    async def update_contact(self, account_id: str, update: ContactUpdated) -> ContactUpdated:
        """A point found or corrected, checked as an account document's are (a national number read in the account's
        country) before the open account is told (`contact_updated`); returns the update as sent."""
        await self._require_open(account_id)
        country = None
        if needs_country(update.point):
            view = await self.state(account_id)
            country = view.country or (country_of_zone(view.time_zone) if view.time_zone else None)
        checked = check_contact_update(update, country)
        await self.temporal.get_workflow_handle(workflow_id(account_id)).signal("contact_updated", checked)
        return checked

    async def signal_claim(self, account_id: str, claim_id: str, signal: str, payload: Any) -> None:
        """Declarations and the creditor's decision go to the fraud claim's own workflow."""
        handle = self.temporal.get_workflow_handle(claim_workflow_id(account_id, claim_id))
        try:
            await handle.signal(signal, payload)
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise InputError(f"no open fraud claim {claim_id!r} on account {account_id!r}") from None
            raise

    async def update(self, account_id: str, update: Any, payload: Any, refused: str) -> Any:
        """An update to an open account: its answer, or an InputError that starts with `refused` and gives the
        account's reason."""
        await self._require_open(account_id)
        handle = self.temporal.get_workflow_handle_for(AccountWorkflow.run, workflow_id(account_id))
        try:
            return await handle.execute_update(update, payload)
        except WorkflowUpdateFailedError as err:
            raise InputError(f"{refused}: {getattr(err.cause, 'message', err.cause)}") from None

    async def agree_plan(self, account_id: str, plan: PlanProposed) -> Commitment:
        """The account checks the plan and answers at once, with the reason if it refuses it."""
        return await self.update(account_id, AccountWorkflow.agree_plan, plan, f"plan {plan.plan_id} refused")

    async def decide_approval(self, account_id: str, decision: ApprovalDecision) -> str:
        """The account checks who decides and answers at once, with the reason if it cannot take the decision."""
        refused = f"approval {decision.approval_ref} not taken"
        return await self.update(account_id, AccountWorkflow.decide_approval, decision, refused)

    async def grant_concession(self, account_id: str, grant: ConcessionGranted) -> Concession:
        """The account checks the concession against its policy's limits for the granter's roles and answers at once:
        applied, or awaiting an approver; refused with the reason."""
        refused = f"concession {grant.concession_id} refused"
        return await self.update(account_id, AccountWorkflow.grant_concession, grant, refused)

    async def decide_concession(self, account_id: str, decision: ConcessionDecided) -> Concession:
        refused = f"concession {decision.concession_id} not decided"
        return await self.update(account_id, AccountWorkflow.decide_concession, decision, refused)

    async def reverse_concession(self, account_id: str, reversal: ConcessionReversed) -> Concession:
        refused = f"concession {reversal.concession_id} not reversed"
        return await self.update(account_id, AccountWorkflow.reverse_concession, reversal, refused)

    async def state(self, account_id: str) -> AccountView:
        """As of the account's last workflow task; an account closed so long ago that Temporal has dropped its run is
        shown as it closed, from the result kept in PostgreSQL."""
        try:
            await self.status(account_id)
        except InputError:
            if (closed := await self._kept_run(account_id)) is None:
                raise
            return closed_view(closed)
        return await self.temporal.get_workflow_handle(workflow_id(account_id)).query(AccountWorkflow.state)

    async def status(self, account_id: str) -> WorkflowExecutionStatus:
        return WorkflowExecutionStatus((await self._execution(account_id)).status)

    async def currency(self, account_id: str) -> str:
        """From the Currency search attribute, so reporting a payment needs no worker to answer a query."""
        published = (await self._execution(account_id)).search_attributes.indexed_fields.get(sa.CURRENCY.name)
        if published is None:  # the account's first workflow task has not run yet
            return (await self.state(account_id)).currency
        return json.loads(published.data)

    async def report_call_outcome(self, pool: asyncpg.Pool, call_ref: str, outcome: ContactOutcome) -> str:
        """Checks the outcome against the call it is about (taken by this collector, a number of its phone order),
        records the attempt, then tells the account (`contact_outcome`); returns the account id. Recorded first, so
        a resend after a failed signal tells the account again, which counts the outcome id once. A refused report
        records nothing."""
        call = await call_queue.call_on_file(pool, call_ref)
        if call is None:
            raise InputError(call_queue.NO_CALL.format(call_ref))
        problem = call_queue.attempt_problem(call, outcome)
        if problem:
            raise InputError(problem)
        await self._require_open(call.account_id)
        problem = await call_queue.record_attempt(pool, call, outcome)
        if problem:
            raise InputError(problem)
        await self.signal(call.account_id, "contact_outcome", outcome)
        return call.account_id

    async def _require_open(self, account_id: str) -> None:
        if await self.status(account_id) != WorkflowExecutionStatus.RUNNING:
            raise InputError(f"account {account_id!r} is closed")

    async def _deliver_to_any_run(self, account_id: str, signal: str, payload: Any) -> None:
        """Signals the running account; for one that has closed, starts a new run of the same workflow id from the
        closed run's result with the signal, which records it (and reopens the account if money is owed again). Once
        Temporal has dropped the closed run's history, the result kept in PostgreSQL stands in for it."""
        try:
            status = await self.status(account_id)
        except InputError:
            if (closed := await self._kept_run(account_id)) is None:
                raise
            await self._reopen(closed, signal, payload)
            return
        handle = self.temporal.get_workflow_handle_for(AccountWorkflow.run, workflow_id(account_id))
        if status == WorkflowExecutionStatus.RUNNING:
            try:
                await handle.signal(signal, payload)
                return
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: it closed in between
                    raise
        await self._reopen(await handle.result(), signal, payload)

    async def _reopen(self, closed: AccountRun, signal: str, payload: Any) -> None:
        """A new run from the closed one's result, with the news (if another news started it first, it gets this as
        a signal)."""
        await self.temporal.start_workflow(
            AccountWorkflow.run,
            closed,
            id=closed.account.workflow_id,
            task_queue=self.task_queue,
            start_signal=signal,
            start_signal_args=[payload],
        )

    async def _kept_run(self, account_id: str) -> AccountRun | None:
        async with self._closed_runs() as kept:
            return await retention.kept_run(kept, account_id) if kept else None

    @asynccontextmanager
    async def _closed_runs(self) -> AsyncIterator[asyncpg.Connection | None]:
        """A connection to where closed runs are kept, if this client knows the database."""
        if not self.database_url:
            yield None
            return
        try:
            conn = await asyncpg.connect(self.database_url)
        except (OSError, asyncpg.PostgresError) as err:
            raise InputError(f"cannot reach PostgreSQL at DATABASE_URL for the closed accounts: {err}") from None
        try:
            yield conn
        finally:
            await conn.close()

    async def _execution(self, account_id: str):
        """The latest run's raw description: raw, so decoding no search attribute can fail it (the time-skipping
        test server stores unset datetime attributes as null)."""
        try:
            response = await self.temporal.workflow_service.describe_workflow_execution(
                DescribeWorkflowExecutionRequest(
                    namespace=self.temporal.namespace, execution=WorkflowExecution(workflow_id=workflow_id(account_id))
                )
            )
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise InputError(f"unknown account {account_id!r}") from None
            raise
        return response.workflow_execution_info
