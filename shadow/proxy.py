"""The shadow proxy (aiohttp server + aiohttp client). Answers every request from the primary, byte for byte,
streaming chunks as they arrive; offers a sample to the mirror; serves /metrics and the admin API.

Hot-path rules: forward bytes, never re-serialise; parse the request JSON only when the mirror or the router
needs it; everything else (comparison, recording) happens in the mirror workers and the store writer.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from offramp.shadow import comparators as comparators_mod
from offramp.shadow.config import ShadowConfig
from offramp.shadow.logs import event, get_logger
from offramp.shadow.metrics import Metrics
from offramp.shadow.mirror import Mirror, MirrorJob, PrimaryOutcome
from offramp.shadow.privacy import Redactor
from offramp.shadow.routing import RequestInfo, Router
from offramp.shadow.sse import first_token_index
from offramp.shadow.store.db import open_engine
from offramp.shadow.store.migrations import migrate
from offramp.shadow.store.writer import StoreWriter
from offramp.shadow.translation import Translator

OVERHEAD_HEADER = "x-offramp-overhead-ms"
_HOP = frozenset(
    h.lower()
    for h in (
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
        "transfer-encoding", "upgrade", "host", "content-length",
    )
)
_NAMED = {
    "/v1/chat/completions": "chat",
    "/v1/embeddings": "embeddings",
    "/v1/responses": "responses",
    "/v1/models": "models",
}

PROXY_KEY: web.AppKey[ShadowProxy] = web.AppKey("offramp_shadow_proxy")
_EXTENSIONS: list[Callable[[ShadowProxy], None]] = []


def register_extension(fn: Callable[[ShadowProxy], None]) -> Callable[[ShadowProxy], None]:
    """Run `fn(proxy)` when a proxy app is built: add routes (dashboard), install a Router (ramp)."""
    _EXTENSIONS.append(fn)
    return fn


def _load_builtin_extensions() -> None:
    import importlib
    import importlib.util

    for name in ("offramp.shadow.ramp", "offramp.shadow.dashboard"):
        try:
            if importlib.util.find_spec(name) is None:
                continue
            mod = importlib.import_module(name)
        except ImportError:
            continue
        fn = getattr(mod, "setup_proxy", None)
        if callable(fn) and fn not in _EXTENSIONS:
            _EXTENSIONS.append(fn)


def _error(status: int, message: str, type_: str = "offramp_proxy_error") -> web.Response:
    return web.json_response({"error": {"message": message, "type": type_, "code": None}}, status=status)


class ShadowProxy:
    def __init__(self, cfg: ShadowConfig, *, admin_token: str | None = None, replica: str | None = None) -> None:
        self.cfg = cfg
        self.metrics = Metrics()
        self.router: Router = Router()
        self._req_children: dict = {}
        # Set by an extension to answer `Route(serve="candidate")` requests:
        # `async (request, raw, info, route, t0) -> web.StreamResponse`. Unset: every request goes to the primary.
        self.serve_candidate: Callable[..., Awaitable[web.StreamResponse]] | None = None
        self.replica = replica or f"{socket.gethostname()}-{os.getpid()}"
        self.admin_token = admin_token if admin_token is not None else os.environ.get(cfg.server.admin_token_env)
        self.redactor = Redactor(cfg.store.privacy, cfg.store.redact_patterns)
        self.comparators, self.notes = comparators_mod.build(cfg.comparators)
        self.engine = open_engine(cfg.store.url)
        self.writer = StoreWriter(
            self.engine,
            replica=self.replica,
            batch_size=cfg.store.batch_size,
            flush_interval_s=cfg.store.flush_interval_s,
            max_pending=cfg.store.max_pending,
            retention_days=cfg.store.retention_days,
            spend_refresh_s=cfg.store.spend_refresh_s,
        )
        self.translator = Translator(cfg.candidate)
        self.session: aiohttp.ClientSession | None = None
        # Candidate calls, comparison, redaction, cost and the pairs' store writes run in mirror worker
        # processes; this process forwards the primary and hands jobs off (shadow/mirror.py, shadow/worker.py).
        self.mirror = Mirror(cfg, writer=self.writer, metrics=self.metrics, replica=self.replica,
                             log_level=logging.getLevelName(get_logger().getEffectiveLevel()).lower(),
                             translator=self.translator)
        self._primary_base = cfg.primary.base_url  # ends without slash, e.g. https://api.openai.com/v1
        self._primary_prefix = self._primary_base[: -len("/v1")] if self._primary_base.endswith("/v1") else None
        # Idle timeouts, not a total: a long stream that keeps sending is fine, a silent upstream is not.
        self._primary_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=30, sock_read=cfg.server.primary_timeout_s
        )

    # ---- lifecycle ----
    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=self.cfg.server.max_request_bytes)
        app[PROXY_KEY] = self
        app.router.add_get("/metrics", self.handle_metrics)
        app.router.add_get("/healthz", self.handle_health)
        app.router.add_route("GET", "/admin/mirror", self.admin_get)
        app.router.add_route("PUT", "/admin/mirror", self.admin_put)
        app.router.add_route("POST", "/admin/flush", self.admin_flush)
        app.router.add_route("*", "/v1/{tail:.*}", self.handle_v1)
        app.on_startup.append(self._startup)
        app.on_shutdown.append(self._shutdown)
        self.app = app  # extensions mount their routes on `proxy.app`
        _load_builtin_extensions()
        for ext in _EXTENSIONS:
            ext(self)
        ramp = getattr(self, "ramp", None)
        if ramp is not None:  # a candidate whose breaker is open holds the ramp and rolls a serving share back
            from offramp.shadow.breaker import ramp_check

            ramp.controller.checks.append(ramp_check(self.mirror, self.engine))
        return app

    async def _startup(self, app: web.Application) -> None:
        await asyncio.to_thread(migrate, self.engine)
        await asyncio.to_thread(self.writer.load_spend)  # the day's spend so far, before the first request
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True)
        # Bytes are forwarded as received (no decompression); only the app's own Accept-Encoding is sent.
        # No cookie jar: a proxy shared by many apps must not keep one app's cookies (OpenAI sets some) and
        # replay them for another; each app's own Cookie and Set-Cookie headers pass through untouched.
        self.session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent", "Accept-Encoding"),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self.writer.start()
        await self.mirror.start()
        event(
            "shadow proxy started",
            primary=self.cfg.primary.base_url,
            candidate=self.cfg.candidate.base_url,
            sample=self.mirror.share,
            noise_sample=self.mirror.noise_share,
            comparators=[c.name for c in self.comparators],
            privacy=self.cfg.store.privacy,
            admin="enabled" if self.admin_token else "disabled",
            notes=self.notes + self.mirror.notes,
            endpoints=sorted(self.mirror.endpoints),
        )

    async def _shutdown(self, app: web.Application) -> None:
        await self.mirror.stop()
        for c in self.comparators:
            close = getattr(c, "close", None)
            if close is not None:  # e.g. the embedding worker process: never keep the exit waiting
                await asyncio.to_thread(close)
        await self.writer.close()
        if self.session is not None:
            await self.session.close()
        self.engine.dispose()
        event("shadow proxy stopped", written=self.mirror.recorded + self.writer.written, dropped=self.writer.dropped,
              failed=self.writer.failed, **self.mirror.accounting())

    # ---- /v1 ----
    async def handle_v1(self, request: web.Request) -> web.StreamResponse:
        t0 = time.perf_counter()
        path = request.path
        try:
            raw = await request.read() if request.can_read_body else b""
        except web.HTTPRequestEntityTooLarge:
            self.metrics.requests.labels("too_large", "413").inc()
            return _error(413, f"request body exceeds server.max_request_bytes ({self.cfg.server.max_request_bytes})")
        info = RequestInfo(path, raw, request.headers)
        route = self.router.decide(info)
        if route.serve != "primary" and self.serve_candidate is not None:
            # The rollout's candidate-serving path (shadow/ramp) owns the answer, fallback and shadowing.
            return await self.serve_candidate(request, raw, info, route, t0)
        job = None
        if request.method == "POST" and route.mirror:
            job = self.mirror.offer(
                info, request.headers.get("authorization"), served_by=route.serve, ramp_share=route.ramp_share
            )
        elif route.mirror:
            self.mirror.skip_offered("endpoint_not_mirrored")
        try:
            return await self.forward_primary(request, raw, t0, job)
        except BaseException as exc:
            if job is not None:
                why = "client_disconnected" if isinstance(exc, (asyncio.CancelledError, ConnectionError)) else (
                    f"proxy_error: {type(exc).__name__}")
                job.set_primary(PrimaryOutcome(None, None, None, job.stream, None, None, why))
            raise

    def _upstream_url(self, request: web.Request) -> str:
        qs = request.query_string
        base = self._primary_prefix + request.path if self._primary_prefix is not None else (
            self._primary_base + request.path[len("/v1"):]
        )
        return f"{base}?{qs}" if qs else base

    async def forward_primary(
        self, request: web.Request, raw: bytes, t0: float | None = None, job: MirrorJob | None = None
    ) -> web.StreamResponse:
        """Answer `request` from the primary, byte for byte (status, headers, body; streams chunk by chunk).

        `raw` is the request body already read; `t0` the `perf_counter()` at arrival (for the overhead header;
        now if omitted); `job` the mirror job to complete with the primary's outcome, if any. Public for
        extensions that decide not to answer from the candidate (the ramp's fallback).
        """
        t0 = time.perf_counter() if t0 is None else t0
        path = request.path
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in _HOP)
        label = _NAMED.get(path, "other")
        t_send = time.perf_counter()
        try:
            up_cm = self.session.request(
                request.method, self._upstream_url(request), headers=headers, data=raw or None,
                timeout=self._primary_timeout, allow_redirects=False,
            )
            up = await up_cm.__aenter__()
        except (asyncio.TimeoutError, TimeoutError):
            self.metrics.requests.labels(label, "504").inc()
            if job:
                job.set_primary(PrimaryOutcome(None, None, None, job.stream, None, None, "primary_timeout"))
            return _error(504, "offramp: the primary did not answer in time")
        except aiohttp.ClientError as exc:
            self.metrics.requests.labels(label, "502").inc()
            if job:
                job.set_primary(PrimaryOutcome(None, None, None, job.stream, None, None, "primary_unreachable"))
            return _error(502, f"offramp: primary unreachable ({type(exc).__name__})")
        try:
            out_headers = CIMultiDict((k, v) for k, v in up.headers.items() if k.lower() not in _HOP)
            ctype = up.headers.get("content-type", "")
            if "text/event-stream" in ctype:
                return await self._stream_back(request, up, out_headers, t0, t_send, label, job)
            body = await up.read()
            t_done = time.perf_counter()
            overhead = (t_done - t0) - (t_done - t_send)
            out_headers[OVERHEAD_HEADER] = f"{overhead * 1000:.3f}"
            resp = web.Response(status=up.status, body=body, headers=out_headers)
            if job:
                upstream_ms = (t_done - t_send) * 1000
                job.set_primary(PrimaryOutcome(up.status, body, up.headers.get("content-encoding"), False,
                                               upstream_ms, upstream_ms))
            self._count(label, up.status)
            self.metrics.overhead.observe(overhead)
            up.release()
            return resp
        finally:
            if not up.closed:
                up.close()  # cancelled or failed mid-body: drop the upstream connection, never reuse it

    async def _stream_back(self, request, up, out_headers, t0, t_send, label, job) -> web.StreamResponse:
        t_headers = time.perf_counter()
        overhead = (t_headers - t0) - (t_headers - t_send)
        out_headers[OVERHEAD_HEADER] = f"{overhead * 1000:.3f}"
        resp = web.StreamResponse(status=up.status, headers=out_headers)
        await resp.prepare(request)
        parts: list[bytes] | None = [] if job else None
        times: list[float] = []
        try:
            async for chunk in up.content.iter_any():
                await resp.write(chunk)
                if parts is not None:
                    times.append(time.perf_counter())
                    parts.append(chunk)
        except aiohttp.ClientPayloadError:
            # The primary cut its stream: the app sees the same cut; the pair records it.
            if job:
                job.set_primary(PrimaryOutcome(up.status, b"".join(parts or []), None, True, None, None,
                                               "primary_stream_cut"))
            self.metrics.requests.labels(label, "stream_cut").inc()
            request.transport and request.transport.close()
            return resp
        await resp.write_eof()
        up.release()
        t_done = time.perf_counter()
        if job:
            i = first_token_index(parts)
            t_first = times[i] if i is not None else t_done
            job.set_primary(PrimaryOutcome(
                up.status, b"".join(parts), up.headers.get("content-encoding"), True,
                (t_first - t_send) * 1000, (t_done - t_send) * 1000,
            ))
        self._count(label, up.status)
        self.metrics.overhead.observe(overhead)
        return resp

    def _count(self, label: str, status: int) -> None:
        child = self._req_children.get((label, status))
        if child is None:
            child = self._req_children[(label, status)] = self.metrics.requests.labels(label, str(status))
        child.inc()

    # ---- ops ----
    async def handle_metrics(self, request: web.Request) -> web.Response:
        # Gauges are read at scrape time, not set on every request and mirror job.
        self.metrics.store_pending.set(self.writer.pending)
        self.metrics.queue_depth.set(self.mirror.queue.qsize())
        self.metrics.in_flight.set(len(self.mirror.inflight))
        self.metrics.spend.set(self.mirror.spend.spent)
        data = generate_latest(self.metrics.registry)
        return web.Response(body=data, headers={"content-type": CONTENT_TYPE_LATEST})

    async def handle_health(self, request: web.Request) -> web.Response:
        # The proxy serves from its first second; the mirror workers join a few seconds later.
        return web.json_response({"ok": True, "mirror_ready": all(ln.ready for ln in self.mirror.links)})

    def _authorized(self, request: web.Request) -> web.Response | None:
        if not self.admin_token:
            return _error(503, f"admin API disabled: set {self.cfg.server.admin_token_env} and restart")
        got = request.headers.get("authorization", "")
        if not hmac.compare_digest(got.encode(), f"Bearer {self.admin_token}".encode()):
            return _error(401, "admin API: missing or wrong bearer token", "unauthorized")
        return None

    def mirror_state(self) -> dict:
        m = self.mirror
        return {
            "sample": m.share,
            "noise_sample": m.noise_share,
            "queue_depth": m.queue.qsize(),
            "queue_size": m.queue.maxsize,
            "queue_bytes": m.held_bytes,
            "queue_bytes_max": m.byte_limit,
            "skips": dict(m.skips),
            "outcomes": dict(m.outcomes),
            "accounting": m.accounting(),
            "breaker": m.breaker.snapshot(),
            "workers": [{"pid": ln.proc.pid if ln.proc else None, "alive": ln.alive, "restarts": ln.restarts}
                        for ln in m.links],
            "spend_usd_today": round(m.spend.spent, 6),
            "daily_spend_cap_usd": m.spend.cap,
            "store": {"pending": self.writer.pending, "written": self.writer.written + m.recorded, "dropped": self.writer.dropped,
                      "failed": self.writer.failed, "write_errors": self.writer.errors},
        }

    async def admin_get(self, request: web.Request) -> web.Response:
        return self._authorized(request) or web.json_response(self.mirror_state())

    async def admin_put(self, request: web.Request) -> web.Response:
        denied = self._authorized(request)
        if denied:
            return denied
        try:
            data = await request.json()
        except (ValueError, json.JSONDecodeError):
            return _error(400, "admin: body must be JSON like {\"sample\": 0.25}", "invalid_request_error")
        if not isinstance(data, dict):
            return _error(400, "admin: body must be a JSON object", "invalid_request_error")
        for key in ("sample", "noise_sample"):
            if key in data:
                v = data[key]
                if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0.0 <= v <= 1.0:
                    return _error(400, f"admin: {key} must be a number between 0 and 1", "invalid_request_error")
        unknown = set(data) - {"sample", "noise_sample"}
        if unknown:
            return _error(400, f"admin: unknown field {sorted(unknown)[0]!r}", "invalid_request_error")
        if "sample" in data:
            self.mirror.share = float(data["sample"])
            self.metrics.sample.set(self.mirror.share)
        if "noise_sample" in data:
            self.mirror.noise_share = float(data["noise_sample"])
        event("mirror sampling changed", sample=self.mirror.share, noise_sample=self.mirror.noise_share)
        return web.json_response(self.mirror_state())

    async def admin_flush(self, request: web.Request) -> web.Response:
        denied = self._authorized(request)
        if denied:
            return denied
        await self.writer.flush()
        return web.json_response(self.mirror_state())


async def start_site(proxy: ShadowProxy, host: str | None = None, port: int | None = None, *,
                     reuse_port: bool = False) -> web.AppRunner:
    """Start the proxy on host:port (port 0 = a free one); `runner.addresses` tells where. Client disconnects
    cancel the handler, which cancels the primary call. `reuse_port`: several processes share the port."""
    app = proxy.build_app()
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host or proxy.cfg.server.host, proxy.cfg.server.port if port is None else port,
                       reuse_port=reuse_port or None)
    try:
        await site.start()
    except BaseException:  # a busy port: stop what startup began (writer, ramp loop) or the process never exits
        await runner.cleanup()
        raise
    return runner
