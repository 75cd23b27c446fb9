"""How a vendor's answer to one message (a text to Twilio, a mail to the SMTP relay) is read: taken, refused for
good, provably not taken (safe to send again), or unknown (it may have been taken: never sent again)."""

from __future__ import annotations

from typing import Literal

# What a refusal says about the contact point: it opted out of this channel, or it cannot receive it at all.
RefusalMeaning = Literal["opted_out", "invalid_recipient", ""]


class Rejected(Exception):
    """Refused for good: retrying will not help."""

    def __init__(self, vendor: str, code: int | None, message: str, meaning: RefusalMeaning = ""):
        super().__init__(f"{vendor} error {code}: {message}")
        self.vendor = vendor
        self.code = code
        self.message = message
        self.meaning = meaning


class NotSent(Exception):
    """The vendor provably did not take it (unreachable, rate limit, a temporary refusal): sending again is safe."""


class OutcomeUnknown(Exception):
    """The vendor may have taken it (a timeout, a dropped connection mid-request): it is not sent again, so the
    debtor never gets it twice."""
