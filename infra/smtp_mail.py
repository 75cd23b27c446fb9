"""Send e-mail through the mail provider's SMTP relay and sort failures as infra/delivery.py reads them."""

from __future__ import annotations

from dataclasses import dataclass
from email.header import Header
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate

import aiosmtplib

from dunning.channels import work_order_ref
from infra.config import Settings
from infra.delivery import NotSent, OutcomeUnknown, Rejected

TIMEOUT_S = 30.0
# Where a mail's own opt-out link points, under the worker's public URL (inbound/mail.py serves it).
OPT_OUT_PATH = "/mail/opt-out/{token}"


@dataclass(frozen=True)
class SentMail:
    message_id: str
    reply: str  # the relay's answer to DATA, with its queue id


@dataclass(frozen=True)
class Mailer:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    start_tls: bool = False
    public_base_url: str | None = None  # the worker's, for each mail's opt-out link (None: opting out is by reply)

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer:
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.mail_from,
            settings.smtp_username,
            settings.smtp_password,
            settings.smtp_starttls,
            settings.public_base_url,
        )

    def message_id(self, action_key: str) -> str:
        """The Message-ID of the mail of one action: the same on every attempt."""
        return f"<{work_order_ref('M', action_key)}@{self.sender.rpartition('@')[2] or 'localhost'}>"

    def opt_out_link(self, token: str | None) -> str | None:
        if not (self.public_base_url and token):  # no token: a mail stored before mails had links
            return None
        return self.public_base_url.rstrip("/") + OPT_OUT_PATH.format(token=token)

    async def send(
        self,
        *,
        to: str,
        subject: str,
        body: str,
        message_id: str,
        opt_out_token: str | None,
        attachments: list[tuple[str, bytes]] = (),
    ) -> SentMail:
        """Sends one plain-text mail with its PDF attachments (file name, bytes); `message_id` is fixed by the caller
        so a resend would be recognisable. Mail programs offer the opt-out of the List-Unsubscribe headers (RFC 2369,
        and RFC 8058's one click when there is a link): a mail to us saying unsubscribe, or a POST to the link."""
        # The MIME classes, not EmailMessage: the same mail, built in a fifth of the time.
        message: Message = MIMEText(body, "plain", "utf-8")
        if attachments:
            message = MIMEMultipart(_subparts=[message])
            for name, content in attachments:
                part = MIMEApplication(content, "pdf")
                part.add_header("Content-Disposition", "attachment", filename=name)
                message.attach(part)
        message["From"], message["To"] = self.sender, to
        message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
        message["Message-ID"], message["Date"] = message_id, formatdate(usegmt=True)
        ways_out = [f"<mailto:{self.sender}?subject=unsubscribe>"]
        if link := self.opt_out_link(opt_out_token):
            ways_out.insert(0, f"<{link}>")
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message["List-Unsubscribe"] = ", ".join(ways_out)
        try:
            responses, reply = await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.start_tls,
                timeout=TIMEOUT_S,
            )
        except aiosmtplib.SMTPRecipientsRefused as err:
            raise _refused(err.recipients[0].code, err.recipients[0].message, unknown_recipient=True) from None
        except aiosmtplib.SMTPRecipientRefused as err:
            raise _refused(err.code, err.message, unknown_recipient=True) from None
        except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError) as err:
            raise _refused(err.code, err.message, unknown_recipient=False) from None
        except (
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPConnectTimeoutError,
            aiosmtplib.SMTPAuthenticationError,
            aiosmtplib.SMTPHeloError,
        ) as err:
            raise NotSent(f"SMTP relay {self.host}:{self.port} did not take it: {type(err).__name__}") from None
        except (aiosmtplib.SMTPException, OSError) as err:
            raise OutcomeUnknown(f"no answer from the SMTP relay: {type(err).__name__}") from None
        return SentMail(message_id=message_id, reply=reply)


def _refused(code: int, message: str, *, unknown_recipient: bool) -> Exception:
    if code < 500:
        return NotSent(f"SMTP {code}: try again later")
    # The relay's text may echo the address; ours goes to logs and workflow history.
    if unknown_recipient:
        return Rejected("smtp", code, "mailbox unavailable", "invalid_recipient")
    return Rejected("smtp", code, "message refused")
