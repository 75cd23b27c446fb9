"""The strategy report for people: `/reports` shows the latest report a scheduled job wrote (a request only reads
it), to operators signed in with their name and password whose role may read reports (others get 403). Browsers keep
the session in a cookie that scripts cannot read (HttpOnly), that no other site's page sends (SameSite=Strict), and,
behind an https URL, only over TLS."""

from __future__ import annotations

import html

import asyncpg
from aiohttp import web

from dunning.operators import Operator, Permission, Roles, refusal
from infra import operators

REPORTS_PATH = "/reports"
LOGIN_PATH = "/reports/login"
LOGOUT_PATH = "/reports/logout"
CSV_PATH = "/reports/latest.csv"
SESSION_COOKIE = "collections_session"

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in: collections reports</title>
<style>body{{font-family:sans-serif;max-width:22rem;margin:4rem auto}}label,input,button{{display:block;width:100%;
margin:.4rem 0}}.problem{{color:#b00020}}</style></head>
<body><h1>Collections reports</h1><p class="problem">{problem}</p>
<form method="post" action="{action}"><label>Operator <input name="name" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></body></html>"""

NO_REPORT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Collections reports</title></head>
<body><p>No report has been written yet: the scheduled job writes one daily (`collections reports write` now).</p>
</body></html>"""


class ReportPages:
    def __init__(self, pool: asyncpg.Pool, roles: Roles, secure_cookie: bool) -> None:
        self._pool = pool
        self._roles = roles
        self._secure_cookie = secure_cookie

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(REPORTS_PATH, self.report)
        app.router.add_get(CSV_PATH, self.report_csv)
        app.router.add_get(LOGIN_PATH, self.login_form)
        app.router.add_post(LOGIN_PATH, self.login)
        app.router.add_post(LOGOUT_PATH, self.logout)

    async def report(self, request: web.Request) -> web.StreamResponse:
        await self._reader(request)
        page = await self._pool.fetchval("SELECT html FROM strategy_reports ORDER BY written_at DESC LIMIT 1")
        return web.Response(text=page or NO_REPORT, content_type="text/html", headers=_private())

    async def report_csv(self, request: web.Request) -> web.StreamResponse:
        await self._reader(request)
        row = await self._pool.fetchrow("SELECT report_id, csv FROM strategy_reports ORDER BY written_at DESC LIMIT 1")
        if row is None:
            raise web.HTTPNotFound(text="no report has been written yet")
        disposition = f'attachment; filename="{row["report_id"]}.csv"'
        return web.Response(
            text=row["csv"], content_type="text/csv", headers={**_private(), "Content-Disposition": disposition}
        )

    async def login_form(self, request: web.Request) -> web.Response:
        return _login_page("")

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        name, password = str(form.get("name", "")), str(form.get("password", ""))
        token = await operators.sign_in(self._pool, name, password) if name and password else None
        if token is None:
            return _login_page("Wrong operator name or password.", status=401)
        response = web.HTTPSeeOther(REPORTS_PATH)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            path="/",  # the codec server (inbound/codec.py) takes the same session
            max_age=int(operators.SESSION_LIFE.total_seconds()),
            httponly=True,
            samesite="Strict",
            secure=self._secure_cookie,
        )
        raise response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        if token := request.cookies.get(SESSION_COOKIE):
            await operators.sign_out(self._pool, token)
        response = web.HTTPSeeOther(LOGIN_PATH)
        response.del_cookie(SESSION_COOKIE, path="/")
        raise response

    async def _reader(self, request: web.Request) -> None:
        """A visitor not signed in is sent to sign in; an operator without the role is refused."""
        operator = await session_of(self._pool, request.cookies.get(SESSION_COOKIE, ""))
        if operator is None:
            raise web.HTTPSeeOther(LOGIN_PATH)
        if problem := forbidden(self._roles, operator, "read_reports"):
            raise problem


async def session_of(pool: asyncpg.Pool, token: str) -> Operator | None:
    return await operators.session_operator(pool, token.strip()) if token else None


def forbidden(roles: Roles, operator: Operator, permission: Permission) -> web.HTTPForbidden | None:
    """403 with the reason, for an operator signed in without the role."""
    problem = refusal(roles, operator, permission)
    return web.HTTPForbidden(text=problem, headers=_private()) if problem else None


def _login_page(problem: str, status: int = 200) -> web.Response:
    page = LOGIN_PAGE.format(problem=html.escape(problem), action=LOGIN_PATH)
    return web.Response(text=page, content_type="text/html", status=status, headers=_private())


def _private() -> dict[str, str]:
    """Reports are the business's figures: no cache keeps them, no other site frames them."""
    return {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}
