"""Reading a signal's payload inside a workflow, so one that does not fit is refused with a reason, not dropped."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from dunning.account import problems

P = TypeVar("P", bound=BaseModel)


def read(raw: RawValue, model: type[P]) -> P | str:
    """The payload, or why it could not be read (naming the fields, never echoing their values)."""
    try:
        return workflow.payload_converter().from_payload(raw.payload, model)
    except (ValueError, TypeError) as err:  # a ValidationError, or a payload in another encoding
        reason = problems(err) if isinstance(err, ValidationError) else f"not a {model.__name__} in JSON"
        return f"{model.__name__} refused, it could not be read: {reason}"
