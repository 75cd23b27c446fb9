"""A TCP relay the tests put in front of a real server, to play the network between: it can terminate TLS (a
cluster's mTLS endpoint) or be cut and restored (PostgreSQL unreachable for a while)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path


class Relay:
    """Relays to `target` (host:port, or a Unix socket's path) from a free loopback port, or from the Unix socket
    `listen_path` when given (its `address` is then that path)."""

    def __init__(self, target: str, tls: ssl.SSLContext | None = None, listen_path: Path | None = None) -> None:
        self._target = target
        self._tls = tls
        self._listen_path = listen_path
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self.cut = False  # while cut, connections are dropped at once and open ones are closed
        self.address = ""

    async def start(self) -> None:
        if self._listen_path is not None:
            self._server = await asyncio.start_unix_server(self._relay, self._listen_path, ssl=self._tls)
            self.address = str(self._listen_path)
        else:
            self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0, ssl=self._tls)
            self.address = f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._target.startswith("/"):
            return await asyncio.open_unix_connection(self._target)
        host, port = self._target.rsplit(":", 1)
        return await asyncio.open_connection(host, int(port))

    async def stop(self) -> None:
        self.sever()
        if self._server:
            self._server.close()

    def sever(self) -> None:
        """The network goes: every open connection drops, and new ones are closed as they come."""
        self.cut = True
        for writer in list(self._open):
            writer.close()

    def restore(self) -> None:
        self.cut = False

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self.cut:
            client_writer.close()
            return
        try:
            server_reader, server_writer = await self._connect()
        except OSError:
            client_writer.close()
            return
        self._open |= {client_writer, server_writer}
        await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer))
        self._open -= {client_writer, server_writer}

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def relay(
    target: str, tls: ssl.SSLContext | None = None, listen_path: Path | None = None
) -> AsyncIterator[Relay]:
    running = Relay(target, tls, listen_path)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
