"""Champion and challenger: an experiment file splits the accounts of a product's segments between the champion
policy, challengers and an optional hold-out, by shares. The arm is drawn from the account id and the experiment's
name, so a resent document or a replay lands in the same arm; it is pinned when the account opens, so starting,
stopping or promoting an experiment changes only accounts opened afterwards.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from dunning.account import CODE, Payload
from dunning.datafile import Strict, load_named
from dunning.policy import PolicyError, load_policy

EXPERIMENT_DIR = Path(__file__).resolve().parent.parent / "experiments"
CHAMPION = "champion"
HOLDOUT = "holdout"
DRAWS = 10_000  # shares are drawn in hundredths of a percent


class ExperimentError(ValueError):
    """An experiment file that cannot be used, with the file, the field and the reason."""


class Challenger(Strict):
    name: str = Field(pattern=CODE)
    policy: str = Field(pattern=CODE)
    share: float = Field(gt=0, lt=100)  # percent of the segment's accounts


class HoldOut(Strict):
    """Accounts left uncontacted in the named stages of the champion's ladder: how many cure by themselves."""

    share: float = Field(gt=0, lt=100)
    quiet_stages: list[str] = Field(min_length=1)


class Arms(Strict):
    champion: str = Field(pattern=CODE)  # the policy; it takes the share the others leave
    challengers: list[Challenger] = Field(min_length=1)
    holdout: HoldOut | None = None

    @model_validator(mode="after")
    def _shares_leave_the_champion_some(self) -> Arms:
        names = [c.name for c in self.challengers]
        if len(set(names)) != len(names) or {CHAMPION, HOLDOUT} & set(names):
            raise ValueError(f"challenger names must be unique and neither {CHAMPION!r} nor {HOLDOUT!r}")
        taken = sum(c.share for c in self.challengers) + (self.holdout.share if self.holdout else 0)
        if taken >= 100:
            raise ValueError(f"challengers and hold-out take {taken:g}%; the champion needs some share")
        return self


class Experiment(Strict):
    name: str = Field(pattern=CODE)
    version: int = Field(ge=1)
    title: str
    product: str = Field(pattern=CODE)
    status: Literal["running", "stopped"]
    segments: dict[str, Arms] = Field(min_length=1)

    @property
    def ref(self) -> str:
        return f"{self.name}@v{self.version}"


class ArmChoice(Payload):
    arm: str  # champion, a challenger's name, or holdout
    policy: str
    quiet_stages: list[str] = []


def draw(experiment_name: str, account_id: str) -> int:
    """The account's stable draw in [0, DRAWS): the same account and experiment always draw the same."""
    digest = hashlib.sha256(f"{experiment_name}:{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % DRAWS


def choose_arm(experiment: Experiment, arms: Arms, account_id: str) -> ArmChoice:
    point = draw(experiment.name, account_id)
    edge = 0.0
    if arms.holdout is not None:
        edge += arms.holdout.share * DRAWS / 100
        if point < edge:
            return ArmChoice(arm=HOLDOUT, policy=arms.champion, quiet_stages=arms.holdout.quiet_stages)
    for challenger in arms.challengers:
        edge += challenger.share * DRAWS / 100
        if point < edge:
            return ArmChoice(arm=challenger.name, policy=challenger.policy)
    return ArmChoice(arm=CHAMPION, policy=arms.champion)


def running_for(experiments: list[Experiment], product: str, segment: str) -> tuple[Experiment, Arms] | None:
    return next(
        (
            (e, e.segments[segment])
            for e in experiments
            if e.status == "running" and e.product == product and segment in e.segments
        ),
        None,
    )


def check_no_overlap(experiments: list[Experiment]) -> None:
    """Two running experiments on one product's segment would make the arm depend on file order."""
    seen: dict[tuple[str, str], str] = {}
    for experiment in (e for e in experiments if e.status == "running"):
        for segment in experiment.segments:
            other = seen.setdefault((experiment.product, segment), experiment.name)
            if other != experiment.name:
                raise ExperimentError(
                    f"experiments {other!r} and {experiment.name!r} both run on {experiment.product} / {segment}; "
                    "stop one of them"
                )


def load_experiments(directory: Path = EXPERIMENT_DIR) -> list[Experiment]:
    experiments = [
        load_named(Experiment, directory, path.stem, "experiment", ExperimentError)
        for path in sorted(directory.glob("*.yaml"))
    ]
    check_no_overlap(experiments)
    for experiment in experiments:
        _check_arms(experiment, directory / f"{experiment.name}.yaml")
    return experiments


def _check_arms(experiment: Experiment, path: Path) -> None:
    """Every arm names a policy that loads, and a hold-out's quiet stages are stages of the champion's ladder."""
    for segment, arms in experiment.segments.items():
        try:
            champion = load_policy(arms.champion)
            for challenger in arms.challengers:
                load_policy(challenger.policy)
        except PolicyError as err:
            raise ExperimentError(f"{path}: segments.{segment}: {err}") from None
        stages = {stage.id for stage in champion.stages}
        unknown = [s for s in (arms.holdout.quiet_stages if arms.holdout else []) if s not in stages]
        if unknown:
            raise ExperimentError(
                f"{path}: segments.{segment}.holdout.quiet_stages: {', '.join(unknown)} not a stage of {champion.ref}"
            )
