"""How the account workflow settles its inbox: one table of the kinds of news, in the order they are settled, each
with the method that hands it to the case and records what the case decided.

A new kind of news is its model (tagged by its `news` field, and in the union of dunning/inbox.py), its handler line
in the workflow, its row here, and its rule beside its model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.accounts import AccountActivities
    from dunning import ladder
    from dunning.account import BalanceChanged, PaymentReceived, PaymentReversed
    from dunning.approvals import ApprovalDecision
    from dunning.change import Change
    from dunning.commitments import PlanProposed, PromiseMade
    from dunning.concessions import ConcessionDecided, ConcessionGranted, ConcessionNews, ConcessionReversed
    from dunning.contact import CeaseContact
    from dunning.disputes import DisputeOpened, DisputeResolved
    from dunning.fraud import FraudClaimDecided, FraudClaimed, FraudClaimRun, claim_workflow_id
    from dunning.inbox import News
    from dunning.letters import LetterDelivery
    from dunning.orders import (
        ApprovalRecorded,
        BalanceRecorded,
        CollectionResumed,
        ConcessionRecorded,
        ContactRecorded,
        DisputeRecorded,
        PaymentRecorded,
        ReversalRecorded,
    )
    from dunning.outcomes import ContactEffect, ContactOutcome, ContactUpdated
    from dunning.placements import AgencyReport, RecallRequest
    from dunning.statements import StatementConfirmed
    from dunning.verification import DebtorEventReported, DocumentsVerified
    from dunning.visits import VisitReport
    from workflows.fraud_claim import FraudClaimWorkflow
    from workflows.records import KeepsRecords


class SettlesNews(KeepsRecords):
    """The account workflow's part that settles the inbox."""

    _plan_answers: dict[str, str]  # plan id -> '' (agreed) or why it was refused
    _concession_refusals: dict[str, str]  # '<news>:<concession id>' -> why the account refused it when settling

    async def _settle_news(self) -> None:
        """Acts on the news in the inbox, row by row of SETTLING, oldest first within a row; news that comes
        meanwhile waits for its row, or for the next pass if its row is done. Each row's method returns the case's
        answer, so a refusal is counted."""
        inbox = self._state.inbox
        for kinds, settle in SETTLING:
            while news := next((n for n in inbox if isinstance(n, kinds)), None):
                if (await settle(self, news)).verdict == "refused":
                    self._metrics().news_refused(news.news)
                inbox.remove(news)

    def _bring(self, settling: News, change: Change[Any]) -> None:
        """Queues the news a change brings: in its row's turn, or next if it is of the row being settled (a
        resolution that waited for its dispute)."""
        inbox, row = self._state.inbox, _row(settling)
        at = inbox.index(settling) + 1
        for news in change.news:
            if _row(news) == row:
                inbox.insert(at, news)
                at += 1
            else:
                inbox.append(news)

    async def _settle_cease(self, request: CeaseContact) -> Change[None]:
        change = self._case.apply_cease(request)
        if change.verdict == "applied":
            await self._record(AccountActivities.record_cease, self._account.account_id, request)
        return change

    async def _settle_claim(self, event: FraudClaimed | FraudClaimDecided) -> Change[Any]:
        change = self._case.apply_claim(event, self._now())
        if change.detail is not None:
            # The claim outlives this run (continue-as-new) and tells the account its decision by signal.
            await workflow.start_child_workflow(
                FraudClaimWorkflow.run,
                FraudClaimRun(
                    claim=change.detail,
                    account=self._case.account,
                    policy=self._policy,
                    account_workflow_id=self._ref.workflow_id,
                    ladder_life=self._ref.ladder_life,
                    clock=self._clock.demo,
                ),
                id=claim_workflow_id(self._account.account_id, change.detail.claim_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        elif change.skipped:
            await self._record(
                AccountActivities.record_resumption,
                CollectionResumed(
                    ref=self._ref,
                    skipped=change.skipped,
                    reason=f"fell due while fraud claim {event.claim_id} was open",
                ),
            )
        return change

    async def _settle_approval(self, decision: ApprovalDecision) -> Change[Any]:
        change = self._case.apply_approval(decision)
        request = change.detail
        if request is None:
            return change
        await self._record(
            AccountActivities.record_approval,
            ApprovalRecorded(ref=self._ref, request=request, decision=decision),
        )
        agency = ladder.agency_for(self._policy, self._account.account_id)
        if decision.approved and request.channel == "agency" and agency:  # the placement begins now
            await self._record_placement("placed", self._case.start_placement(request.action_key, agency, self._now()))
        return change

    async def _settle_dispute(self, event: DisputeOpened | DisputeResolved) -> Change[Any]:
        change = self._case.apply_dispute(event, self._now())
        self._bring(event, change)
        await self._record(
            AccountActivities.record_dispute,
            DisputeRecorded(
                ref=self._ref,
                event=event,
                verdict=change.text,
                collector_queue=self._state.collector_queue,
                account_status=self._state.status,
                skipped=change.skipped,
            ),
        )
        return change

    async def _settle_verification(self, event: DebtorEventReported | DocumentsVerified) -> Change[Any]:
        change = self._case.apply_verification(event, self._now())
        self._bring(event, change)
        if change.detail is not None:
            await self._record_verification(change)
        return change

    async def _settle_contact(
        self, event: ContactOutcome | ContactUpdated | LetterDelivery | VisitReport
    ) -> Change[Any]:
        case, now = self._case, self._now()
        if isinstance(event, ContactOutcome):
            change = case.apply_outcome(event, now)
        elif isinstance(event, LetterDelivery):
            change = case.apply_letter_delivery(event, now)
        elif isinstance(event, VisitReport):
            change = case.apply_visit_report(event, now)
        else:
            change = case.apply_contact_update(event, now)
        self._bring(event, change)
        await self._tell_queue_at_once()
        effect = change.detail or ContactEffect()
        await self._record(
            AccountActivities.record_contact,
            ContactRecorded(
                ref=self._ref,
                event=event,
                verdict=change.text,
                strategy=effect.strategy.value if effect.strategy else None,
                changed_points=effect.changed_points,
                removed_point=effect.removed_point,
                settled_at=now,
                skipped=change.skipped,
                third_party_breach=effect.third_party_breach,
                withheld=effect.withheld,
            ),
        )
        return change

    async def _settle_commitment(self, event: PromiseMade | PlanProposed) -> Change[Any]:
        change = self._case.take_commitment(event, self._now())
        await self._tell_queue_at_once()
        if isinstance(event, PlanProposed):
            self._plan_answers[event.plan_id] = change.reason if change.verdict == "refused" else ""
        for outcome in change.detail or []:
            await self._record_commitment(outcome)
        return change

    async def _settle_concession(self, event: ConcessionNews) -> Change[Any]:
        change = self._case.apply_concession(event, self._now())
        if change.verdict == "refused":
            self._concession_refusals[concession_key(event)] = change.reason
        if change.detail is not None:
            await self._record(
                AccountActivities.record_concession,
                ConcessionRecorded(
                    **self._money_record(change),
                    concession=change.detail.concession,
                    entry=change.detail.entry,
                    outstanding_minor=self._state.ledger.outstanding_minor,
                ),
            )
        return change

    async def _settle_agency(self, event: AgencyReport | RecallRequest) -> Change[Any]:
        change = self._case.apply_agency_event(event, self._now())
        self._bring(event, change)
        if change.detail == "recalled" and isinstance(event, RecallRequest):
            await self._end_placement("recalled", f"{event.reason} ({event.requested_by})")
        elif change.detail == "recalled":
            await self._end_placement("recalled", "returned by the agency", event)
        elif change.detail == "report":
            await self._record_placement("report", self._state.placement, report=event)
        return change

    async def _settle_statement(self, confirmation: StatementConfirmed) -> Change[Any]:
        change = self._case.apply_statement_confirmation(confirmation, self._now())
        if change.verdict == "applied" and change.detail is not None:
            await self._record_statement("confirmed", change.detail, confirmation.note)
        return change

    async def _tell_queue_at_once(self) -> None:
        """A conversation or a promise changes the follow-up days (a cool-down stops today's): the collector queue
        hears of it as the account learns it, not after the news is recorded, when a day may have begun meanwhile."""
        if workflow.patched("follow-ups-told-as-news-is-learnt"):
            await self._plan_follow_ups()

    async def _settle_balance_change(self, event: BalanceChanged) -> Change[Any]:
        change = self._case.apply_balance_change(event, self._now())
        if change.verdict == "duplicate" or change.detail is None:
            return change
        await self._record(
            AccountActivities.record_balance_change,
            BalanceRecorded(**self._money_record(change), change=event, outcome=change.detail),
        )
        return change

    async def _settle_payment(self, payment: PaymentReceived) -> Change[Any]:
        change = self._case.apply_payment(payment, self._now())
        if change.verdict == "duplicate" or change.detail is None:
            return change
        if change.verdict == "applied":
            self._metrics().payment_applied(self._account.currency, change.detail.amount_minor)
        await self._record(
            AccountActivities.record_payment,
            PaymentRecorded(
                **self._money_record(change),
                outcome=change.detail,
                paid_at=payment.paid_at,
                currency=self._account.currency,
            ),
        )
        return change

    async def _settle_reversal(self, reversal: PaymentReversed) -> Change[Any]:
        change = self._case.apply_reversal(reversal, self._now())
        assert change.detail is not None
        await self._record(
            AccountActivities.record_reversal,
            ReversalRecorded(**self._money_record(change), outcome=change.detail, reversed_at=reversal.reversed_at),
        )
        return change

    def _money_record(self, change: Change[Any]) -> dict[str, Any]:
        """What every record of a change of the balance carries: the account's status, invoices and dpd's day."""
        ledger = self._state.ledger
        return {
            "ref": self._ref,
            "account_status": self._state.status,
            "invoices": ledger.invoices,
            "dpd_from": ledger.dpd_from(),
            "skipped": change.skipped,
            "skip_reason": "fell due while the account was closed"
            if change.reason == "reopened"
            else "past on the due date dpd now counts from (the oldest unpaid invoice's)",
        }


# The settling order, one row per kind of news, each with the method that settles it (oldest first within a row):
# a cease first, so nothing more goes out on its channels; billing's changes before payments, so a payment finds the
# invoice a charge opened; payments before reversals, so a reversal finds its payment.
SETTLING: tuple[tuple[tuple[type[Any], ...], Callable[[Any, Any], Awaitable[Change[Any]]]], ...] = (
    ((CeaseContact,), SettlesNews._settle_cease),
    ((FraudClaimed, FraudClaimDecided), SettlesNews._settle_claim),
    ((ApprovalDecision,), SettlesNews._settle_approval),
    ((DisputeOpened, DisputeResolved), SettlesNews._settle_dispute),
    ((DebtorEventReported, DocumentsVerified), SettlesNews._settle_verification),
    ((ContactOutcome, ContactUpdated, LetterDelivery, VisitReport), SettlesNews._settle_contact),
    ((PromiseMade, PlanProposed), SettlesNews._settle_commitment),
    ((ConcessionGranted, ConcessionDecided, ConcessionReversed), SettlesNews._settle_concession),
    ((AgencyReport, RecallRequest), SettlesNews._settle_agency),
    ((StatementConfirmed,), SettlesNews._settle_statement),
    ((BalanceChanged,), SettlesNews._settle_balance_change),
    ((PaymentReceived,), SettlesNews._settle_payment),
    ((PaymentReversed,), SettlesNews._settle_reversal),
)


def concession_key(news: ConcessionNews) -> str:
    return f"{news.news}:{news.concession_id}"


def _row(news: News) -> int:
    return next(i for i, (kinds, _) in enumerate(SETTLING) if isinstance(news, kinds))
