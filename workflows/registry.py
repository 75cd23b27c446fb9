"""Every workflow the worker runs: the pre-deploy replay check replays their histories on the same classes."""

from __future__ import annotations

from workflows.account import AccountWorkflow
from workflows.fraud_claim import FraudClaimWorkflow
from workflows.letter_batch import LetterBatchWorkflow
from workflows.retention import PersonalDataRetentionWorkflow
from workflows.strategy_report import StrategyReportWorkflow

WORKFLOWS: tuple[type, ...] = (
    AccountWorkflow,
    FraudClaimWorkflow,
    LetterBatchWorkflow,
    StrategyReportWorkflow,
    PersonalDataRetentionWorkflow,
)
