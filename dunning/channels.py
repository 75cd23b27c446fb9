"""The channels a step can use, and how far a stage may involve people other than the debtor."""

from __future__ import annotations

import base64
import hashlib
from enum import Enum


class Channel(str, Enum):
    sms = "sms"
    email = "email"
    call = "call"
    letter = "letter"
    field_visit = "field_visit"
    agency = "agency"
    internal = "internal"


# Channels whose work orders can be held for an approver (letters, placements, internal decisions).
APPROVABLE = {Channel.letter, Channel.agency, Channel.internal}


class ThirdParties(str, Enum):
    """How far a stage may involve people other than the debtor (domain §2)."""

    none = "none"  # never contact them
    locate_only = "locate_only"  # only if the debtor is unreachable, never disclosing the debt
    message = "message"  # may ask them to pass a message with general facts
    pressure = "pressure"  # may ask them to pay on the debtor's behalf


def work_order_ref(prefix: str, action_key: str) -> str:
    """The short reference printed on a work order (a letter, a visit order) and quoted back by whoever carries it
    out: stable for the action, not guessable from the account."""
    digest = hashlib.sha256(action_key.encode()).digest()
    return prefix + base64.b32encode(digest).decode()[:11]
