"""`/dashboard`: the report page, rebuilt from the store on each load and refreshed by the browser.

The admin token is required. A browser cannot send a bearer header from the address bar, so
`/dashboard?token=…` is accepted once, answered with an HttpOnly cookie holding an HMAC of the token (never the
token itself) and a redirect to the clean URL, which keeps the token out of history and access logs.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from urllib.parse import urlencode

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


def add_routes(app: web.Application, engine, plan, token_getter, refresh_seconds: int = 10,
               labels_getter=lambda: {}, controller_getter=lambda: None) -> None:
    """Mount `/dashboard`, `/dashboard/report.json` and the pair viewer `/dashboard/pairs` on an aiohttp app."""

    def _deny(request: web.Request, token: str | None) -> web.Response:
        if not token:
            return web.json_response({"error": {"message": "dashboard disabled: set the admin token "
                                                           "(server.admin_token_env)", "type": "forbidden"}},
                                     status=403)
        return web.json_response({"error": {"message": "admin token required (Authorization: Bearer …, or open "
                                                       "/dashboard?token=… once)", "type": "unauthorized"}},
                                 status=401, headers={"www-authenticate": "Bearer"})

    def _exchange(request: web.Request, token: str | None) -> web.Response:
        """`?token=…` once: an HttpOnly cookie and a redirect to the same page without the token."""
        given = request.query.get("token", "")
        if token and hmac.compare_digest(given.encode(), token.encode()):
            rest = urlencode([(k, v) for k, v in request.query.items() if k != "token"])
            resp = web.HTTPFound(request.path + (f"?{rest}" if rest else ""))
            resp.set_cookie(COOKIE, _cookie_value(token), httponly=True, samesite="Strict", path="/dashboard")
            raise resp
        return _deny(request, token)

    def _bad(message: str) -> web.Response:
        return web.json_response({"error": {"message": message, "type": "invalid_request"}}, status=400)

    def _window(request: web.Request) -> str | None:
        from offramp.shadow.report.series import WINDOWS

        w = request.query.get("window", "ramp")
        return w if w in WINDOWS else None

    def _build(window: str):
        from offramp.shadow.report.build import build_report

        return build_report(engine, plan, window=window, labels=labels_getter(), controller=controller_getter())

    async def page(request: web.Request) -> web.StreamResponse:
        from offramp.shadow.report.render import render_html

        token = token_getter()
        if request.query.get("token") is not None:
            return _exchange(request, token)
        if not _authorized(request, token):
            return _deny(request, token)
        window = _window(request)
        if window is None:
            return _bad("window: one of hour, day, ramp")
        rep = await asyncio.to_thread(_build, window)
        return web.Response(text=render_html(rep, live=True, refresh_seconds=refresh_seconds),
                            content_type="text/html", headers={"cache-control": "no-store"})

    async def data(request: web.Request) -> web.Response:
        token = token_getter()
        if not _authorized(request, token):
            return _deny(request, token)
        window = _window(request)
        if window is None:
            return _bad("window: one of hour, day, ramp")
        rep = await asyncio.to_thread(_build, window)
        return web.Response(text=rep.model_dump_json(), content_type="application/json",
                            headers={"cache-control": "no-store"})

    async def pairs(request: web.Request) -> web.Response:
        from offramp.shadow.report.viewer import viewer_page

        token = token_getter()
        if request.query.get("token") is not None:
            return _exchange(request, token)
        if not _authorized(request, token):
            return _deny(request, token)
        family, gate = request.query.get("family") or None, request.query.get("gate") or None
        try:
            limit = min(max(int(request.query.get("limit", "10")), 1), 50)
        except ValueError:
            return _bad("limit: a whole number")
        text = await asyncio.to_thread(viewer_page, engine, plan, family=family, gate=gate, limit=limit,
                                       labels=labels_getter())
        return web.Response(text=text, content_type="text/html", headers={"cache-control": "no-store"})

    app.router.add_get("/dashboard", page)
    app.router.add_get("/dashboard/report.json", data)
    app.router.add_get("/dashboard/pairs", pairs)


def setup_proxy(proxy, app: web.Application | None = None) -> None:
    """Proxy extension hook (`shadow.proxy.register_extension`): mounts the dashboard on the proxy's app."""
    app = app if app is not None else getattr(proxy, "app", None)
    if app is None:
        return  # the proxy did not hand over its app: nothing to mount on (see the ramp README)
    from offramp.shadow.ramp.plan import RampPlan

    plan = getattr(proxy, "ramp_plan", None) or RampPlan()
    add_routes(app, proxy.engine, plan, lambda: proxy.admin_token,
               labels_getter=lambda: getattr(getattr(proxy, "cfg", None), "families", None) or {},
               controller_getter=lambda: getattr(getattr(proxy, "ramp", None), "controller", None))
