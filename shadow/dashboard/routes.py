"""`/dashboard`: the report page, rebuilt from the store on each load and refreshed by the browser.

The admin token is required. A browser cannot send a bearer header from the address bar, so
`/dashboard?token=…` is accepted once, answered with an HttpOnly cookie holding an HMAC of the token (never the
token itself) and a redirect to the clean URL, which keeps the token out of history and access logs.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from aiohttp import web

COOKIE = "offramp_dashboard"


def _cookie_value(token: str) -> str:
    return hmac.new(token.encode(), b"offramp-dashboard-v1", hashlib.sha256).hexdigest()


def _authorized(request: web.Request, token: str | None) -> bool:
    if not token:
        return False
    auth = request.headers.get("authorization", "")
    if auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].encode(), token.encode()):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), _cookie_value(token).encode())


def add_routes(app: web.Application, engine, plan, token_getter, refresh_seconds: int = 10) -> None:
    """Mount `/dashboard` and `/dashboard/report.json` on an aiohttp app reading `engine`."""

    def _deny(request: web.Request, token: str | None) -> web.Response:
        if not token:
            return web.json_response({"error": {"message": "dashboard disabled: set the admin token "
                                                           "(server.admin_token_env)", "type": "forbidden"}},
                                     status=403)
        return web.json_response({"error": {"message": "admin token required (Authorization: Bearer …, or open "
                                                       "/dashboard?token=… once)", "type": "unauthorized"}},
                                 status=401, headers={"www-authenticate": "Bearer"})

    async def page(request: web.Request) -> web.StreamResponse:
        from offramp.shadow.report.build import build_report
        from offramp.shadow.report.render import render_html

        token = token_getter()
        given = request.query.get("token")
        if given is not None:
            if token and hmac.compare_digest(given.encode(), token.encode()):
                resp = web.HTTPFound("/dashboard")
                resp.set_cookie(COOKIE, _cookie_value(token), httponly=True, samesite="Strict", path="/dashboard")
                raise resp
            return _deny(request, token)
        if not _authorized(request, token):
            return _deny(request, token)
        rep = await asyncio.to_thread(build_report, engine, plan)
        return web.Response(text=render_html(rep, live=True, refresh_seconds=refresh_seconds),
                            content_type="text/html", headers={"cache-control": "no-store"})

    async def data(request: web.Request) -> web.Response:
        from offramp.shadow.report.build import build_report

        token = token_getter()
        if not _authorized(request, token):
            return _deny(request, token)
        rep = await asyncio.to_thread(build_report, engine, plan)
        return web.Response(text=rep.model_dump_json(), content_type="application/json",
                            headers={"cache-control": "no-store"})

    app.router.add_get("/dashboard", page)
    app.router.add_get("/dashboard/report.json", data)


def setup_proxy(proxy, app: web.Application | None = None) -> None:
    """Proxy extension hook (`shadow.proxy.register_extension`): mounts the dashboard on the proxy's app."""
    app = app if app is not None else getattr(proxy, "app", None)
    if app is None:
        return  # the proxy did not hand over its app: nothing to mount on (see the ramp README)
    from offramp.shadow.ramp.plan import RampPlan

    plan = getattr(proxy, "ramp_plan", None) or RampPlan()
    add_routes(app, proxy.engine, plan, lambda: proxy.admin_token)
