"""Serving a request from the candidate once the ramp gives it a share (the proxy's `serve_candidate` hook).

The candidate's answer is buffered before anything reaches the app, so a candidate error, timeout, malformed
body or cut stream is answered from the primary within the same request — the app never sees half a candidate
stream. The fallback is recorded against the candidate (it counts in the error-rate gate). A stable sample of
candidate-served requests is still asked of the primary afterwards and compared, so agreement keeps being
measured at every step.

The answer (candidate, or primary on fallback) is made here, in the proxy process; what follows it — the shadow
primary call, the comparison, redaction, pricing and the store write (shadow/ramp/record.py) — is handed to a
mirror worker process like the mirror's own jobs (`Mirror.hand_record`), and done here only when no worker can
take it.
"""

from __future__ import annotations

import asyncio
import contextvars
import time

from aiohttp import web

from offramp.shadow.ramp.record import CHAT, ServedRecord, record_served
from offramp.shadow.routing import RequestInfo

# Set while the primary path handles a request the ramp already dealt with (fallback): the router then answers
# "primary, no mirror" so the candidate is not called a second time for it.
FALLBACK: contextvars.ContextVar[bool] = contextvars.ContextVar("offramp_ramp_fallback", default=False)
SERVED_HEADER = "x-offramp-served-by"


class CandidateServer:
    def __init__(self, proxy, runtime) -> None:
        self.proxy = proxy
        self.runtime = runtime
        self.tasks: set[asyncio.Task] = set()  # records made in this process (no worker could take them)
        self.handed: set[asyncio.Future] = set()  # records handed to a mirror worker, until it wrote them
        self.counts = {"candidate_served": 0, "fallback": 0, "shadowed": 0}
        cfg = proxy.cfg
        self.url = cfg.candidate.base_url + "/chat/completions"
        mirror = getattr(proxy, "mirror", None)
        if mirror is not None:  # records a dead worker held: made here, like those no worker could take
            mirror.records_orphaned = lambda rec: self._spawn(record_served(self.proxy, rec))
        self.key = cfg.candidate.api_key()
        self.timeout_s = cfg.mirror.timeout_s

    async def serve(self, request: web.Request, raw: bytes, info: RequestInfo, route, t0: float):
        """The proxy's `serve_candidate` hook: called for requests the router gave to the candidate."""
        body = info.body
        if body is None or request.method != "POST" or request.path != CHAT:
            return await self._primary(request, raw, t0)
        return await self._serve(request, raw, body, route.ramp_share or 0.0, bool(route.mirror), t0)

    async def _primary(self, request: web.Request, raw: bytes, t0: float):
        """The proxy's own primary path, byte for byte (the body was already read, so it is passed on)."""
        tok = FALLBACK.set(True)
        try:
            return await self.proxy.forward_primary(request, raw, t0)
        finally:
            FALLBACK.reset(tok)

    async def _serve(self, request, raw: bytes, body: dict, share: float, shadow: bool, t0: float):
        from offramp.shadow.upstream import call

        px = self.proxy
        created = time.time()
        stream = bool(body.get("stream"))
        try:
            creq = px.translator.chat(body)
        except Exception as exc:  # noqa: BLE001 - an untranslatable request goes to the primary, counted
            creq, res = None, None
            err = f"translation_error: {type(exc).__name__}"
        else:
            headers = {"content-type": "application/json"}
            if self.key:
                headers["authorization"] = f"Bearer {self.key}"
            if stream:
                served, res = await self._stream(request, creq.body, headers)
                if served is not None:
                    self.counts["candidate_served"] += 1
                    self._record(raw, creq, res, res.error, share, created, stream, shadow,
                                 request.headers.get("authorization"), served_by="candidate")
                    return served
            else:
                res = await call(px.session, self.url, creq.body, headers, stream=False, timeout_s=self.timeout_s)
            err = res.error or (None if res.raw is not None else "no_response")
        if res is not None and err is None and res.raw is not None:
            self.counts["candidate_served"] += 1
            out = web.Response(body=res.raw, status=res.status or 200, content_type=(
                "text/event-stream" if stream else "application/json"))
            out.headers[SERVED_HEADER] = "candidate"
            out.headers["x-offramp-overhead-ms"] = f"{(time.perf_counter() - t0) * 1000 - (res.total_ms or 0):.2f}"
            self._record(raw, creq, res, None, share, created, stream, shadow,
                         request.headers.get("authorization"), served_by="candidate")
            return out
        # Fallback: the primary answers this request; the candidate's failure is recorded against it.
        self.counts["fallback"] += 1
        resp = await self._primary(request, raw, t0)
        if not resp.prepared:
            resp.headers[SERVED_HEADER] = "primary-fallback"
        self._record(raw, creq, res, err or "no_response", share, created, stream, False,
                     request.headers.get("authorization"), primary_status=resp.status)
        return resp

    async def _stream(self, request: web.Request, cbody: dict, headers: dict):
        """Stream the candidate's answer through as it arrives. Nothing reaches the app before the first answer
        token, so a candidate that fails before it (error status, timeout, connection error, an empty cut
        stream) still falls back to the primary; a cut after it can only be recorded, and counts against the
        candidate. Returns (response or None for fallback, CallResult)."""
        import aiohttp

        from offramp.shadow.sse import first_token_index
        from offramp.shadow.upstream import CallResult, parse_response

        t_send = time.perf_counter()
        parts: list[bytes] = []
        times: list[float] = []
        out: web.StreamResponse | None = None
        error = None
        status = None
        try:
            async with self.proxy.session.post(self.url, json=cbody, headers=headers,
                                               timeout=aiohttp.ClientTimeout(total=self.timeout_s)) as up:
                status = up.status
                if up.status >= 400 or "text/event-stream" not in up.headers.get("content-type", ""):
                    res = parse_response(await up.read(), stream=False, status=up.status)
                    res.error = res.error or "not_a_stream"
                    res.total_ms = (time.perf_counter() - t_send) * 1000
                    return None, res
                async for chunk in up.content.iter_any():
                    parts.append(chunk)
                    times.append(time.perf_counter())
                    if out is None:
                        if first_token_index(parts) is None:
                            continue  # role-only chunks and keep-alives: not committed yet
                        out = web.StreamResponse(status=200, headers={
                            "content-type": "text/event-stream", "cache-control": "no-cache", SERVED_HEADER:
                            "candidate"})
                        await out.prepare(request)
                        await out.write(b"".join(parts))
                    else:
                        await out.write(chunk)
        except (asyncio.TimeoutError, TimeoutError):
            error = "timeout"
        except aiohttp.ClientPayloadError:
            error = "stream_cut"
        except aiohttp.ClientError:
            error = "connect_error"
        raw = b"".join(parts)
        if error is None:
            res = parse_response(raw, stream=True, status=status or 200)
        else:
            res = CallResult(status=status, raw=raw, error=error)
        i = first_token_index(parts)
        res.ttft_ms = (times[i] - t_send) * 1000 if i is not None else None
        res.total_ms = (time.perf_counter() - t_send) * 1000
        if out is None:
            if res.error is not None:
                return None, res
            # A complete answer without any token (an empty completion): pass it on as it is.
            out = web.StreamResponse(status=200, headers={"content-type": "text/event-stream",
                                                          SERVED_HEADER: "candidate"})
            await out.prepare(request)
            await out.write(raw)
        await out.write_eof()
        return out, res

    def _spawn(self, coro) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    def _record(self, raw: bytes, creq, res, error: str | None, share: float, created: float,
                stream: bool, shadow: bool, authorization: str | None,
                primary_status: int | None = None, served_by: str = "primary") -> None:
        """Have the pair written (for a shadow-sampled request, the primary asked now and compared with what was
        served): by a mirror worker, or here when none can take it."""
        rec = ServedRecord(raw, creq, res, error, share, created, stream, shadow, authorization, primary_status,
                           served_by)
        if shadow:
            self.counts["shadowed"] += 1
        mirror = getattr(self.proxy, "mirror", None)
        fut = mirror.hand_record(rec) if mirror is not None else None
        if fut is not None:
            self.handed.add(fut)
            fut.add_done_callback(self.handed.discard)
            return
        self._spawn(record_served(self.proxy, rec))

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Until every record made so far is in the store (written here, or by a worker that said so)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        # Again after each wait: a record a dead worker held is made here (a new task) when its future resolves.
        while (pending := [*self.tasks, *self.handed]) and (left := deadline - asyncio.get_running_loop().time()) > 0:
            await asyncio.wait(pending, timeout=left)
