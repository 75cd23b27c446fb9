"""Send e-mail through the mail provider's SMTP relay and sort failures into give-up and try-again, as the Twilio
adapter does for texts."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from infra.config import Settings

TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SentMail:
    message_id: str
    reply: str  # the relay's answer to DATA, with its queue id


class MailRejected(Exception):
    """The relay refused this mail for good (5xx): don't retry. `unknown_recipient` when the mailbox is refused."""

    def __init__(self, code: int, message: str, unknown_recipient: bool):
        super().__init__(f"SMTP {code}: {message}")
        self.code = code
        self.unknown_recipient = unknown_recipient


class MailNotSent(Exception):
    """The relay provably did not take the mail (unreachable, a 4xx, bad credentials): sending again is safe."""


class MailOutcomeUnknown(Exception):
    """The connection broke or timed out mid-transaction: the relay may have queued it, so it is not sent again."""


@dataclass(frozen=True)
class Mailer:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    start_tls: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> "Mailer":
        return cls(settings.smtp_host, settings.smtp_port, settings.mail_from, settings.smtp_username,
                   settings.smtp_password, settings.smtp_starttls)

    async def send(self, *, to: str, subject: str, body: str, message_id: str) -> SentMail:
        """Sends one plain-text mail; `message_id` is fixed by the caller so a resend would be recognisable."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message["Message-ID"], message["Date"] = message_id, formatdate(usegmt=True)
        message.set_content(body)
        try:
            responses, reply = await aiosmtplib.send(
                message, hostname=self.host, port=self.port, username=self.username, password=self.password,
                start_tls=self.start_tls, timeout=TIMEOUT_S,
            )
        except aiosmtplib.SMTPRecipientsRefused as err:
            raise _refused(err.recipients[0].code, err.recipients[0].message, unknown_recipient=True) from None
        except aiosmtplib.SMTPRecipientRefused as err:
            raise _refused(err.code, err.message, unknown_recipient=True) from None
        except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError) as err:
            raise _refused(err.code, err.message, unknown_recipient=False) from None
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError, aiosmtplib.SMTPAuthenticationError,
                aiosmtplib.SMTPHeloError) as err:
            raise MailNotSent(f"SMTP relay {self.host}:{self.port} did not take it: {type(err).__name__}") from None
        except (aiosmtplib.SMTPException, OSError) as err:
            raise MailOutcomeUnknown(f"no answer from the SMTP relay: {type(err).__name__}") from None
        return SentMail(message_id=message_id, reply=reply)


def _refused(code: int, message: str, *, unknown_recipient: bool) -> Exception:
    if code < 500:
        return MailNotSent(f"SMTP {code}: try again later")
    # The relay's text may echo the address; ours goes to logs and workflow history.
    return MailRejected(code, "mailbox unavailable" if unknown_recipient else "message refused", unknown_recipient)
