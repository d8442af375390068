"""Serving a request from the candidate once the ramp gives it a share (the proxy's `serve_candidate` hook).

The candidate's answer is buffered before anything reaches the app, so a candidate error, timeout, malformed
body or cut stream is answered from the primary within the same request — the app never sees half a candidate
stream. The fallback is recorded against the candidate (it counts in the error-rate gate). A stable sample of
candidate-served requests is still asked of the primary afterwards and compared, so agreement keeps being
measured at every step.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import time
import uuid
from datetime import datetime, timezone

from aiohttp import web

from offramp.shadow.routing import RequestInfo
from offramp.shadow.store import schema

# Set while the primary path handles a request the ramp already dealt with (fallback): the router then answers
# "primary, no mirror" so the candidate is not called a second time for it.
FALLBACK: contextvars.ContextVar[bool] = contextvars.ContextVar("offramp_ramp_fallback", default=False)
CHAT = "/v1/chat/completions"
SERVED_HEADER = "x-offramp-served-by"


class CandidateServer:
    def __init__(self, proxy, runtime) -> None:
        self.proxy = proxy
        self.runtime = runtime
        self.tasks: set[asyncio.Task] = set()
        self.counts = {"candidate_served": 0, "fallback": 0, "shadowed": 0}
        cfg = proxy.cfg
        self.url = cfg.candidate.base_url + "/chat/completions"
        self.primary_url = cfg.primary.base_url + "/chat/completions"
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
                    self._spawn(self._record(body, raw, creq, res, res.error, share, created, stream, shadow,
                                             request.headers.get("authorization"), served_by="candidate"))
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
            self._spawn(self._record(body, raw, creq, res, None, share, created, stream, shadow,
                                     request.headers.get("authorization"), served_by="candidate"))
            return out
        # Fallback: the primary answers this request; the candidate's failure is recorded against it.
        self.counts["fallback"] += 1
        resp = await self._primary(request, raw, t0)
        if not resp.prepared:
            resp.headers[SERVED_HEADER] = "primary-fallback"
        self._spawn(self._record(body, raw, creq, res, err or "no_response", share, created, stream, False,
                                 request.headers.get("authorization"), primary_status=resp.status))
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

    async def _record(self, body: dict, raw: bytes, creq, res, error: str | None, share: float, created: float,
                      stream: bool, shadow: bool, authorization: str | None,
                      primary_status: int | None = None, served_by: str = "primary") -> None:
        """Write the pair; for a shadow-sampled request ask the primary now and compare with what was served."""
        from offramp.shadow.comparators import CompareContext, run_all
        from offramp.shadow.family import request_family
        from offramp.shadow.translation import cost_usd
        from offramp.shadow.upstream import CallResult, call

        px = self.proxy
        cfg = px.cfg
        red = px.redactor.apply
        res = res or CallResult(error=error)
        if error and res.error is None:
            res.error = error
        primary = None
        if shadow:
            headers = {"content-type": "application/json"}
            if authorization:
                headers["authorization"] = authorization  # the app's own key, to its own provider; never stored
            primary = await call(px.session, self.primary_url, body, headers, stream=stream,
                                 timeout_s=cfg.server.primary_timeout_s)
            self.counts["shadowed"] += 1
        cand_model = creq.body.get("model") if creq else None
        if res.error is None and res.body is not None and creq is not None:
            try:
                res.body = px.translator.normalize(res.body, cand_model)
            except Exception:  # noqa: BLE001
                pass
        now = datetime.now(timezone.utc)
        pprov = cfg.primary.price_provider or cfg.primary.kind
        cprov = cfg.candidate.price_provider or cfg.candidate.kind
        pair_id = uuid.uuid4().hex
        family = request_family(body)
        cmp_rows = []
        if shadow and primary is not None and primary.error is None and res.error is None and primary.body \
                and res.body:
            verdicts = await run_all(px.comparators, primary.body, res.body,
                                     CompareContext(request=body, session=px.session))
            for name, v in verdicts.items():
                cmp_rows.append({"pair_id": pair_id, "created_at": time.time(), "family": family,
                                 "side": "candidate", "comparator": name, "agree": v.agree, "score": v.score,
                                 "detail": json.dumps(v.detail, default=str) if v.detail else None})

        def side(name: str, r, provider: str, model: str | None) -> dict:
            if r is None:
                return {}
            text = json.dumps(r.body) if r.body is not None else (
                r.raw[:4096].decode("utf-8", "replace") if r.raw is not None else None)
            return {f"{name}_status": r.status, f"{name}_body": red(text), f"{name}_ttft_ms": r.ttft_ms,
                    f"{name}_total_ms": r.total_ms, f"{name}_usage": json.dumps(r.usage) if r.usage else None,
                    f"{name}_cost_usd": cost_usd(provider, model, r.usage, now),
                    f"{name}_error": (r.error + (f": {r.detail}" if r.detail else ""))[:200] if r.error else None}

        from offramp.shadow.privacy import key_id

        pair = {
            "id": pair_id, "created_at": created, "endpoint": CHAT, "family": family,
            "key_id": key_id(authorization) if authorization else None, "stream": stream,
            "served_by": served_by, "ramp_share": share,
            "privacy": px.redactor.mode, "primary_model": body.get("model"), "candidate_model": cand_model,
            "request_body": red(raw.decode("utf-8", "replace")),
            "candidate_request": red(json.dumps(creq.body)) if creq else None,
            "translation_changes": json.dumps(creq.changes, default=str) if creq else error,
            **side("candidate", res, cprov, cand_model),
            **side("primary", primary, pprov, body.get("model")),
        }
        if primary is None and primary_status is not None:
            pair["primary_status"] = primary_status
        # Every column present: the writer inserts batches with executemany, which needs uniform rows.
        full = {c.name: None for c in schema.pairs.columns}
        full.update(pair)
        px.writer.submit(full, cmp_rows)

    async def drain(self, timeout_s: float = 5.0) -> None:
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=timeout_s)
