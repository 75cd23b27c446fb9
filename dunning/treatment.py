"""The treatment an account opens with: its segment, and the policy its segment, an experiment's arm or billing
chose. Decided once, where the data files live (the worker), and pinned into the account's workflow."""

from __future__ import annotations

from dunning.account import AccountDocument, Payload
from dunning.experiments import CHAMPION, Experiment, choose_arm, running_for
from dunning.segments import Assessment, Segmentation, assess

NAMED = "named"  # billing named the policy itself


class TreatmentError(ValueError):
    """No policy can be chosen for the account; says why."""


class Treatment(Payload):
    billing_segment: str
    segment: str
    segment_reason: str
    # Pinned for re-assessments; None when no segmentation was in force (the segment is billing's label).
    segmentation: Segmentation | None = None
    experiment: str | None = None  # name@version of the experiment that drew the arm
    arm: str = NAMED
    quiet_stages: list[str] = []  # a hold-out's stages: no contact in them

    @property
    def strategy(self) -> str:
        """What ops filter by (the `Strategy` search attribute): the experiment's arm, or how the policy was chosen."""
        return f"{self.experiment}/{self.arm}" if self.experiment else self.arm


def choose_treatment(
    account: AccountDocument, segmentation: Segmentation | None, experiments: list[Experiment], dpd_on_arrival: int
) -> tuple[str, Treatment]:
    """The policy's name and the treatment. A named policy is kept; otherwise the segment's running experiment
    draws an arm, or the segmentation's treatment for the product applies."""
    if segmentation is None:
        if account.policy is None:
            raise TreatmentError("no segmentation is in force to choose a policy; the document must name one")
        label = Assessment(segment=account.segment, reason="billing's label")
        return account.policy, _treatment(account, label, None)
    assessment = assess(segmentation, account, dpd_on_arrival, dpd_on_arrival, broken=0)
    if account.policy is not None:
        return account.policy, _treatment(account, assessment, segmentation)
    product = account.product or ""
    by_segment = segmentation.treatments.get(product)
    if by_segment is None:
        known = ", ".join(sorted(segmentation.treatments))
        raise TreatmentError(f"segmentation {segmentation.ref} treats no product {product!r}; it treats {known}")
    running = running_for(experiments, product, assessment.segment)
    if running is None:
        return by_segment[assessment.segment], _treatment(account, assessment, segmentation, arm=CHAMPION)
    experiment, arms = running
    choice = choose_arm(experiment, arms, account.account_id)
    treatment = _treatment(account, assessment, segmentation, experiment.ref, choice.arm, choice.quiet_stages)
    return choice.policy, treatment


def _treatment(
    account: AccountDocument,
    assessment: Assessment,
    segmentation: Segmentation | None,
    experiment: str | None = None,
    arm: str = NAMED,
    quiet_stages: list[str] | None = None,
) -> Treatment:
    return Treatment(
        billing_segment=account.segment,
        segment=assessment.segment,
        segment_reason=assessment.reason,
        segmentation=segmentation,
        experiment=experiment,
        arm=arm,
        quiet_stages=quiet_stages or [],
    )
