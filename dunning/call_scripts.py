"""Script hints a collector sees beside a call: per stage of each policy (tone, what third parties may hear) and
per purpose of the call (the ladder's stage call, a strategy's reaction, a promise confirmation).

The words are data (templates/call_scripts.yaml); finding a call's hints is pure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field, PrivateAttr, ValidationError

from dunning.account import problems
from dunning.channels import Channel
from dunning.datafile import Strict
from dunning.policy import Policy

SCRIPTS_FILE = Path(__file__).resolve().parent.parent / "templates" / "call_scripts.yaml"
LOCALES = ("en", "zh")

# A hint is read at a glance during a call: a short line, a handful of them.
HintLine = Annotated[str, Field(min_length=1, max_length=200)]
HintLines = Annotated[list[HintLine], Field(min_length=1, max_length=5)]


class CallScriptsError(ValueError):
    """Script hints that cannot be used or are missing, with the file and the key."""


class Hints(Strict):
    """One stage's or purpose's hints, in every locale."""

    en: HintLines
    zh: HintLines


class CallScripts(Strict):
    stages: dict[str, dict[str, Hints]]  # policy name -> stage id -> hints
    purposes: dict[str, Hints]  # call step id -> hints
    _source: str = PrivateAttr(default=str(SCRIPTS_FILE))  # where they came from, for error messages

    def for_call(self, policy: str, stage: str, purpose: str, locale: str) -> dict[str, list[str]]:
        """The hints for a call of `purpose` at `stage` of `policy`, in `locale`."""
        if locale not in LOCALES:
            raise CallScriptsError(f"{self._source}: no hints in locale {locale!r}; locales: {', '.join(LOCALES)}")
        stage_hints = self.stages.get(policy, {}).get(stage)
        if stage_hints is None:
            raise CallScriptsError(
                f"{self._source}: no hints for stage {stage!r} of policy {policy!r} (key stages.{policy}.{stage})"
            )
        purpose_hints = self.purposes.get(purpose)
        if purpose_hints is None:
            raise CallScriptsError(f"{self._source}: no hints for call purpose {purpose!r} (key purposes.{purpose})")
        return {"stage": list(getattr(stage_hints, locale)), "purpose": list(getattr(purpose_hints, locale))}

    def gaps(self, policies: list[Policy]) -> list[str]:
        """What the file lacks, or holds in vain, for these policies: every stage that calls and every call step
        needs hints; a key that names no such stage or step is a typo or a leftover."""
        found: list[str] = []
        purposes: set[str] = set()
        for policy in policies:
            calling = {stage.id for stage in policy.stages if Channel.call in stage.channels}
            written = set(self.stages.get(policy.name, {}))
            found += [f"stages.{policy.name}.{stage}: missing (the stage calls)" for stage in sorted(calling - written)]
            found += [
                f"stages.{policy.name}.{stage}: not a stage of policy {policy.name!r} that calls"
                for stage in sorted(written - calling)
            ]
            purposes |= {action.id for action in policy.actions() if action.channel is Channel.call}
        names = {policy.name for policy in policies}
        found += [f"stages.{name}: no such policy" for name in sorted(set(self.stages) - names)]
        found += [f"purposes.{purpose}: missing (a call step)" for purpose in sorted(purposes - set(self.purposes))]
        found += [
            f"purposes.{purpose}: no policy has a call step of that id"
            for purpose in sorted(set(self.purposes) - purposes)
        ]
        return found


def load_call_scripts(path: Path = SCRIPTS_FILE) -> CallScripts:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise CallScriptsError(f"{path}: cannot be read ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise CallScriptsError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(data, dict):
        raise CallScriptsError(f"{path}: expected a mapping with keys stages and purposes")
    try:
        scripts = CallScripts.model_validate(data)
    except ValidationError as err:
        raise CallScriptsError(f"{path}: {problems(err)}") from None
    scripts._source = str(path)
    return scripts
