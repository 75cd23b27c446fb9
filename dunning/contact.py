"""Which contact points a step uses, in the order the stage prescribes (domain §2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, Field

from dunning.account import PHONE_KINDS, ContactPoint, EventId, Payload
from dunning.actions import Action, Stage
from dunning.change import Change
from dunning.channels import Channel, ThirdParties

if TYPE_CHECKING:
    from dunning.collection import Collection

# Channels that reach the debtor; placements and internal work do not, so a cease request does not stop them.
CONTACT_CHANNELS = (Channel.sms, Channel.email, Channel.call, Channel.letter, Channel.field_visit)


class CeaseContact(Payload):
    """The debtor asked us to stop contacting them, on some channels or (none named) on all (15 USC 1692c(c))."""

    news: Literal["cease_contact"] = Field(default="cease_contact", exclude=True)  # its inbox tag
    request_id: EventId
    channels: list[Channel] = []
    reason: str = Field(min_length=1, max_length=500)
    received_at: AwareDatetime

    def ceased(self) -> set[Channel]:
        return set(self.channels or CONTACT_CHANNELS) & set(CONTACT_CHANNELS)


def blocked_by_cease(step: Action, ceased: set[Channel]) -> bool:
    """Only steps the policy marks as permitted after a cease (a notice of a specific remedy) may still go out."""
    return step.channel in ceased and not step.allowed_after_cease


# A stage's phone_order names debtor phone kinds, plus this token for the phones of related people.
CONTACT_PHONES = "contact_phones"


def _debtor(points: list[ContactPoint], kind: str) -> list[ContactPoint]:
    return [p for p in points if p.kind == kind and p.owner == "debtor"]


def takes_texts(point: ContactPoint) -> bool:
    """A number known to be a landline is never texted; one that may be a mobile (or of unknown line) is tried."""
    return point.line_type != "fixed_line"


def phone_order(points: list[ContactPoint], stage: Stage | None) -> list[ContactPoint]:
    if stage is None:
        return _debtor(points, "mobile")
    ordered: list[ContactPoint] = []
    for kind in stage.phone_order:
        if kind == CONTACT_PHONES:
            if stage.third_parties is not ThirdParties.none:
                ordered += [p for p in points if p.owner == "contact" and p.kind in PHONE_KINDS]
        else:
            ordered += _debtor(points, kind)
    return ordered


def contact_points_for(
    points: list[ContactPoint], channel: Channel, stage: Stage | None, tried_last: str | None = None
) -> list[ContactPoint]:
    """Of the usable points: the debtor's own for written channels (for a text, the first mobile that takes texts,
    else a known landline for the step to skip with that reason); the stage's phone order for calls, with
    `tried_last` (a number that just went unanswered) moved to the end; none for internal work."""
    if channel is Channel.sms:
        mobiles = _debtor(points, "mobile")
        return ([p for p in mobiles if takes_texts(p)] or mobiles)[:1]
    if channel is Channel.email:
        return _debtor(points, "email")[:1]
    if channel in (Channel.letter, Channel.field_visit):
        return _debtor(points, "address")[:1]
    if channel is Channel.call:
        ordered = phone_order(points, stage)
        return [p for p in ordered if p.value != tried_last] + [p for p in ordered if p.value == tried_last]
    return []


def apply_cease(case: Collection, request: CeaseContact) -> Change[None]:
    """Refused (and recorded) if the request names no channel that reaches the debtor."""
    if not request.ceased():
        problem = "names no channel that reaches the debtor"
        case.state.record_rejection(f"cease request {request.request_id} {problem}")
        return Change("refused", problem)
    ceased = set(case.state.ceased_channels) | request.ceased()
    case.state.ceased_channels = sorted(ceased, key=lambda channel: channel.value)
    return Change("applied")
