"""Choosing an opening account's treatment where the data files live: the segmentation in force, the running
experiments and the policy they name, read afresh for each account (an edited file counts from the next one), with
its calendar's announced days."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from dunning.account import AccountDocument, Payload
from dunning.calendar import CalendarError
from dunning.experiments import ExperimentError, load_experiments
from dunning.policy import Policy, PolicyError, load_policy
from dunning.segments import SegmentationError, load_segmentation
from dunning.treatment import Treatment, TreatmentError, choose_treatment
from infra.config import Settings
from infra.logging import activity_logger
from infra.public_holidays import with_working_days


class AccountArriving(Payload):
    account: AccountDocument
    dpd_on_arrival: int


class TreatmentChosen(Payload):
    policy: Policy
    treatment: Treatment


class TreatmentActivities:
    def __init__(self, settings: Settings) -> None:
        self._segmentation = settings.segmentation
        self._segmentation_dir = settings.segmentation_dir
        self._experiment_dir = settings.experiment_dir

    @activity.defn
    async def choose_treatment(self, arriving: AccountArriving) -> TreatmentChosen:
        """Fails for good (with what was wrong) if no policy can be chosen: retrying would not change the files."""
        try:
            segmentation = load_segmentation(self._segmentation, self._segmentation_dir) if self._segmentation else None
            experiments = load_experiments(self._experiment_dir) if segmentation else []
            name, treatment = choose_treatment(arriving.account, segmentation, experiments, arriving.dpd_on_arrival)
            arrived_on = arriving.account.due_date + timedelta(days=arriving.dpd_on_arrival)
            policy = with_working_days(load_policy(name), arrived_on)
        except (SegmentationError, ExperimentError, TreatmentError, PolicyError, CalendarError) as err:
            raise ApplicationError(str(err), type="NoTreatment", non_retryable=True) from None
        activity_logger().info(
            "treatment chosen", policy=policy.ref, segment=treatment.segment, strategy=treatment.strategy
        )
        return TreatmentChosen(policy=policy, treatment=treatment)
