"""Which contact points a step uses, in the order the stage prescribes (domain §2)."""

from __future__ import annotations

from dunning.account import PHONE_KINDS, AccountDocument, ContactPoint
from dunning.policy import Channel, Stage, ThirdParties

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
