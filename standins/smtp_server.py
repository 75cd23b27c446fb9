"""Loopback stand-in for the mail provider's SMTP relay (ESMTP via aiosmtpd), with knobs for tests and demos.

python -m standins.smtp_server --port 8025
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import logging
import signal
from collections import deque
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)


class SmtpStandIn:
    """Accepts mail for any recipient, keeps what it accepted, and refuses what it is told to refuse."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []  # accepted, oldest first
        self.unknown_recipients: set[str] = set()  # answered 550 at RCPT, as for a mailbox that does not exist
        self._failures: deque[int] = deque()  # reply codes for the next transactions (e.g. 451: try later)
        self._server: asyncio.base_events.Server | None = None
        self.host = ""
        self.port = 0

    def reject_recipient(self, address: str) -> None:
        self.unknown_recipients.add(address.lower())

    def fail_next(self, n: int = 1, code: int = 451) -> None:
        """Answer the next `n` transactions' MAIL FROM with `code` (4xx: temporary, 5xx: permanent)."""
        self._failures.extend([code] * n)

    def recover(self) -> None:
        self._failures.clear()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SMTP(self, hostname="smtp-standin"), host, port)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]
        log.info("SMTP stand-in listening on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # --- aiosmtpd handler hooks ---------------------------------------------------------------------------

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str, options) -> str:
        if self._failures:
            code = self._failures.popleft()
            return f"{code} {'4.3.0 Try again later' if code < 500 else '5.7.1 Message refused'}"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options) -> str:
        if address.lower() in self.unknown_recipients:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)
        return "250 2.0.0 OK: queued"


async def _serve(args: argparse.Namespace) -> None:
    standin = SmtpStandIn()
    await standin.start(args.host, args.port)
    print(f"SMTP stand-in on {standin.host}:{standin.port}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await standin.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_serve(parser.parse_args()))


if __name__ == "__main__":
    main()
