"""What the account workflow writes down: the account's opening and closing, and the records of what the case
decided, each by one of the account's record-keeping activities."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.accounts import AccountActivities
    from dunning import ladder, retention
    from dunning.account import AccountDocument, Clock
    from dunning.bureau import BureauReport, BureauStatus
    from dunning.case import Case
    from dunning.change import Change
    from dunning.commitments import Commitment, CommitmentOutcome, PromiseMade
    from dunning.orders import (
        AccountClosed,
        AccountOpened,
        AccountRef,
        ApprovalRecorded,
        BureauReportRecorded,
        CommitmentRecorded,
        FollowUpsPlanned,
        PlacementRecorded,
        SegmentRecorded,
        StatementRecorded,
        StepOrder,
        VerificationRecorded,
        action_key,
    )
    from dunning.placements import AgencyReport, Placement
    from dunning.policy import Policy
    from dunning.segments import SegmentChange
    from dunning.state import AccountState
    from dunning.statements import Statement, StatementEvent
    from dunning.treatment import Treatment
    from dunning.verification import VerificationStatus
    from infra.metrics import BusinessMetrics
    from workflows.steps import STEP_RETRY, STEP_TIMEOUT
    from workflows.summary import Summary


class KeepsRecords:
    """The account workflow's part that records: the case decides, these write it down."""

    _account: AccountDocument
    _ref: AccountRef
    _policy: Policy
    _clock: Clock
    _state: AccountState
    _case: Case
    _summary: Summary
    _treatment: Treatment | None

    async def _record_segment_change(self, change: SegmentChange) -> None:
        await self._record(AccountActivities.record_segment_change, SegmentRecorded(ref=self._ref, change=change))

    async def _open(self) -> None:
        opened_at = self._state.opened_at
        skip = self._case.open_at(opened_at)
        await self._record(
            AccountActivities.open_account,
            AccountOpened(
                account=self._account,
                workflow_id=workflow.info().workflow_id,
                policy_ref=self._policy.ref,
                policy_digest=self._policy.digest,
                opened_at=opened_at,
                ladder_life=workflow.info().first_execution_run_id,
                collector_queue=self._state.collector_queue,
                skipped=skip,
                treatment=self._treatment,
                retention_class=retention.retention_class(self._policy.contact_rules),
            ),
        )

    async def _follow_through(self, planned: ladder.PlannedStep, order: StepOrder) -> None:
        """What a step that went out starts: a placement with its agency, or the wait for an approver."""
        if order.agency and not order.step.requires_approval and workflow.patched("agency-placements"):
            await self._record_placement(
                "placed", self._case.start_placement(order.action_key, order.agency, self._now())
            )
        if request := self._case.request_approval(planned, order.action_key, self._now()):
            await self._record(
                AccountActivities.record_approval,
                ApprovalRecorded(
                    ref=self._ref,
                    request=request,
                    approvers=self._policy.approvals.approvers if self._policy.approvals else [],
                ),
            )

    async def _plan_follow_ups(self) -> None:
        """Tells the collector queue when the case's follow-up days change (workload pacing)."""
        plan = self._case.refresh_follow_ups(self._now())
        if plan is None:
            return
        rules = self._policy.contact_rules
        await self._record(
            AccountActivities.plan_follow_ups,
            FollowUpsPlanned(
                ref=self._ref,
                plan=plan,
                now=self._now(),
                rule_set=rules.name if rules else "",
            ),
        )
        self._case.follow_ups_written()

    async def _close(self) -> None:
        self._summary.publish(self._state, None, self._now())
        await self._record(
            AccountActivities.close_account,
            AccountClosed(
                ref=self._ref,
                status=self._state.status,
                closed_at=self._state.closed_at or self._now(),
                outstanding_minor=self._state.ledger.outstanding_minor,
            ),
        )
        if self._state.status == "cured":
            self._metrics().cured(self._policy.name)

    async def _record_verification(self, change: Change[VerificationStatus]) -> None:
        assert change.detail is not None
        verification = change.detail.verification
        await self._record(
            AccountActivities.record_verification,
            VerificationRecorded(
                ref=self._ref,
                report=verification.report,
                status=change.detail.status,
                review_by=verification.review_by,
                decided_at=change.detail.decided_at,
                account_status=self._state.status,
                skipped=change.skipped,
            ),
        )

    async def _record_commitment(self, outcome: CommitmentOutcome | None) -> None:
        if outcome is None:
            return
        commitment, event, broken = outcome.commitment, outcome.event, outcome.status == "broken"
        self._metrics().commitment(commitment.kind, outcome.status)
        await self._record(
            AccountActivities.record_commitment,
            CommitmentRecorded(
                ref=self._ref,
                commitment_id=commitment.commitment_id,
                kind=commitment.kind,
                status=outcome.status,
                reason=outcome.reason,
                instalments=commitment.instalments,
                paid_minor=commitment.paid_minor,
                taken_by=(event.taken_by if isinstance(event, PromiseMade) else event.agreed_by) if event else "",
                channel=event.channel if isinstance(event, PromiseMade) else "",
                made_at=commitment.made_at,
                decided_at=None if outcome.status == "open" else self._now(),
                broken_promises=self._state.broken_promises,
                negative_record=broken,
                failed_debit_fee=broken,
                skipped=outcome.skipped,
                fee=outcome.fee,
                outstanding_minor=self._state.ledger.outstanding_minor if outcome.fee else None,
            ),
        )
        # The negative record goes to a credit bureau as a report of its own, held by the furnishing gate. Runs that
        # broke a promise before reports existed keep only the flag.
        if broken and workflow.patched("bureau-reports"):
            await self._file_bureau_report(f"broken {commitment.kind} {commitment.commitment_id}", commitment)

    async def _file_bureau_report(self, reason: str, commitment: Commitment) -> None:
        key = action_key(self._ref.account_id, self._ref.ladder_life, f"bureau_report:{commitment.commitment_id}")
        change = self._case.file_bureau_report(key, reason, self._now(), commitment.commitment_id)
        await self._record_bureau_report("filed", "ready" if change.verdict == "applied" else "waiting", change)

    async def _release_bureau_report(self, change: Change[BureauReport]) -> None:
        await self._record_bureau_report("released", "ready", change)

    async def _withdraw_bureau_reports(self, reason: str) -> None:
        for report in self._case.withdraw_bureau_reports():
            await self._record_bureau_report("withdrawn", "withdrawn", Change("applied", reason, detail=report))

    async def _record_bureau_report(
        self, event: Literal["filed", "released", "withdrawn"], status: BureauStatus, change: Change[BureauReport]
    ) -> None:
        assert change.detail is not None
        rules, now = self._policy.contact_rules, self._now()
        await self._record(
            AccountActivities.record_bureau_report,
            BureauReportRecorded(
                ref=self._ref,
                report=change.detail,
                event=event,
                status=status,
                because=change.reason,
                amount_minor=self._state.ledger.outstanding_minor,
                currency=self._account.currency,
                dpd=ladder.dpd_at(self._account, now),
                rule_set=rules.name if rules else "",
                at=now,
            ),
        )

    async def _record_statement(self, event: StatementEvent, statement: Statement, note: str = "") -> None:
        await self._record(
            AccountActivities.record_statement,
            StatementRecorded(ref=self._ref, statement=statement, event=event, note=note),
        )

    async def _record_placement(
        self, event: str, placement: Placement | None, reason: str = "", report: AgencyReport | None = None
    ) -> None:
        if placement is None:
            return
        agency = next((a for a in self._policy.agencies if a.id == placement.agency_id), None)
        await self._record(
            AccountActivities.record_placement,
            PlacementRecorded(
                account=self._account,
                placement=placement,
                event=event,
                report=report,
                reason=reason,
                contact_points=self._case.book.usable(),
                file_columns=agency.file_columns if agency else [],
                at=self._now(),
            ),
        )

    async def _end_placement(self, event: str, reason: str, report: AgencyReport | None = None) -> None:
        await self._record_placement(event, self._case.end_placement(), reason, report)

    async def _record(self, activity: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Runs one of the account's record-keeping activities, retrying through outages."""
        await workflow.execute_activity_method(
            activity, args=list(args), start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY
        )

    def _now(self) -> datetime:
        return self._clock.business(workflow.now())

    def _metrics(self) -> BusinessMetrics:
        """The business's metrics on the workflow's meter, which the SDK keeps silent while a history replays."""
        return BusinessMetrics(workflow.metric_meter())
