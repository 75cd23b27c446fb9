"""Data files (policies, calendars, contact rule sets): the strict base of their models, and the loader of named
files - one YAML file per name, read into its model with clear errors."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TypeVar, cast

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """A part of a data file: unknown keys are errors (a typo must not pass silently), values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def load_named(model: type[M], directory: Path, name: str, what: str, error: type[ValueError]) -> M:
    """`directory/<name>.yaml` as a `model` whose `name` field matches the file; `error` says what was wrong."""
    path = directory / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in directory.glob("*.yaml"))) or "none"
        raise error(f"unknown {what} {name!r} (no {path}); known {what}s: {known}")
    raw = path.read_bytes()
    key = (model, hashlib.sha256(raw).hexdigest())
    if key not in _loaded:
        try:
            _loaded[key] = model.model_validate(yaml.safe_load(raw.decode("utf-8")))
        except (yaml.YAMLError, ValidationError, UnicodeDecodeError) as err:
            raise error(f"{path}: {err}") from None
    loaded = _loaded[key]
    named = getattr(loaded, "name", None)  # every data file's model has a `name` field
    if named != name:
        raise error(f"{path}: field 'name' is {named!r} but the file is named {name!r}")
    return cast(M, loaded)


# Loaded files by model and content: read on every use (an edit counts at once), parsed once per version. The
# models are frozen, so one copy serves every caller.
_loaded: dict[tuple[type[BaseModel], str], BaseModel] = {}
