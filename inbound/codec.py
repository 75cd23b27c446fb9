"""The codec server: the Temporal Web UI and CLI send it sealed payloads and get them back opened (and the other way
round when a person starts or signals a workflow from them), following Temporal's remote codec protocol:
`POST /codec/decode` and `/codec/encode` with `{"payloads": [...]}` in protobuf's JSON form.

Only signed-in operators whose role may decode payloads (and who see every creditor) open or seal them; others get
403. The Web UI's fetch carries the operator's session cookie (turn on "Include cross-origin credentials" in the UI's
codec settings, after signing in at /reports/login on this server); the CLI sends the session token as a bearer token
(`--codec-auth "Bearer <token>"`, from `collections operators session`). Browsers may call it only from the Web UI's
origin (TEMPORAL_UI_ORIGIN)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import asyncpg
import structlog
from aiohttp import hdrs, web
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

from dunning.operators import Operator, Roles, refusal
from inbound.reports import SESSION_COOKIE, session_of
from infra.sealing import KeyRingError

CODEC_PATH = "/codec"
log = structlog.get_logger()
Transform = Callable[[Sequence[Payload]], Awaitable[list[Payload]]]


class CodecServer:
    def __init__(self, codec: PayloadCodec, pool: asyncpg.Pool, roles: Roles, ui_origin: str) -> None:
        self._codec = codec
        self._pool = pool
        self._roles = roles
        self._ui_origin = ui_origin

    def add_routes(self, app: web.Application) -> None:
        for name, transform in (("decode", self._codec.decode), ("encode", self._codec.encode)):
            # The CLI puts the namespace in the path when its endpoint says {namespace}; the UI sends a header.
            for path in (f"{CODEC_PATH}/{name}", f"{CODEC_PATH}/{{namespace}}/{name}"):
                app.router.add_post(path, self._handler(transform))
                app.router.add_route(hdrs.METH_OPTIONS, path, self.preflight)

    async def preflight(self, request: web.Request) -> web.Response:
        return web.Response(headers=self._cors(request))

    def _handler(self, transform: Transform) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            cors = self._cors(request)
            operator = await self._operator(request)
            if operator is None:
                return web.json_response({"error": "sign in first: an operator's session"}, status=401, headers=cors)
            if problem := refusal(self._roles, operator, "decode_payloads"):
                return web.json_response({"error": problem}, status=403, headers=cors)
            if request.content_type != "application/json":
                return web.json_response({"error": 'send JSON: {"payloads": [...]}'}, status=415, headers=cors)
            try:
                payloads = json_format.Parse(await request.text(), Payloads())
                result = Payloads(payloads=await transform(payloads.payloads))
            except (json_format.ParseError, DecodeError) as err:
                return web.json_response({"error": f"not a list of payloads: {err}"}, status=400, headers=cors)
            except KeyRingError as err:
                return web.json_response({"error": str(err)}, status=422, headers=cors)
            what = "payloads opened" if transform == self._codec.decode else "payloads sealed"
            log.info(what, operator=operator.name, payloads=len(result.payloads))
            return web.Response(
                text=json_format.MessageToJson(result),
                content_type="application/json",
                headers={**cors, "Cache-Control": "no-store"},
            )

        return handle

    def _cors(self, request: web.Request) -> dict[str, str]:
        """Only the Web UI's page may read answers (and send its cookie): any other origin gets no CORS headers."""
        if request.headers.get(hdrs.ORIGIN) != self._ui_origin:
            return {}
        return {
            hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: self._ui_origin,
            hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS: "true",
            hdrs.ACCESS_CONTROL_ALLOW_METHODS: "POST",
            hdrs.ACCESS_CONTROL_ALLOW_HEADERS: "content-type,x-namespace,authorization",
            hdrs.VARY: "Origin",
        }

    async def _operator(self, request: web.Request) -> Operator | None:
        scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            token = request.cookies.get(SESSION_COOKIE, "")
        return await session_of(self._pool, token)
