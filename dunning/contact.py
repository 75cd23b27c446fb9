"""Which contact points a step uses, in the order the stage prescribes (domain §2)."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from dunning.account import PHONE_KINDS, AccountDocument, ContactPoint, EventId, Payload
from dunning.policy import Channel, Stage, Step, ThirdParties

# Channels that reach the debtor; placements and internal work do not, so a cease request does not stop them.
CONTACT_CHANNELS = (Channel.sms, Channel.email, Channel.call, Channel.letter, Channel.field_visit)


class CeaseContact(Payload):
    """The debtor asked us to stop contacting them, on some channels or (none named) on all (15 USC 1692c(c))."""

    request_id: EventId
    channels: list[Channel] = []
    reason: str = Field(min_length=1, max_length=500)
    received_at: AwareDatetime

    def ceased(self) -> set[Channel]:
        return set(self.channels or CONTACT_CHANNELS) & set(CONTACT_CHANNELS)


def blocked_by_cease(step: Step, ceased: set[Channel]) -> bool:
    """Only steps the policy marks as permitted after a cease (a notice of a specific remedy) may still go out."""
    return step.channel in ceased and not step.allowed_after_cease


# A stage's phone_order names debtor phone kinds, plus this token for the phones of related people.
CONTACT_PHONES = "contact_phones"


def phone_order(account: AccountDocument, stage: Stage | None) -> list[ContactPoint]:
    if stage is None:
        return account.points("mobile")
    ordered: list[ContactPoint] = []
    for kind in stage.phone_order:
        if kind == CONTACT_PHONES:
            if stage.third_parties is not ThirdParties.none:
                ordered += [p for p in account.contact_points if p.owner == "contact" and p.kind in PHONE_KINDS]
        else:
            ordered += account.points(kind)
    return ordered


def contact_points_for(account: AccountDocument, channel: Channel, stage: Stage | None) -> list[ContactPoint]:
    """The debtor's own points for written channels; the stage's phone order for calls; none for internal work."""
    if channel is Channel.sms:
        return account.points("mobile")[:1]
    if channel is Channel.email:
        return account.points("email")[:1]
    if channel in (Channel.letter, Channel.field_visit):
        return account.points("address")[:1]
    if channel is Channel.call:
        return phone_order(account, stage)
    return []
