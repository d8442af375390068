"""httpx transports that run the engine under the openai SDK: the SDK builds requests and parses responses
(its own types, exceptions, `parse()`, streams); routing and translation happen on the wire in between.

The httpx flavour is whatever the installed SDK imports (httpx2 for openai 3.x, httpx for 1.x).
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from openai import _base_client

from offramp.adapters.engine import (
    Done,
    Engine,
    Outbound,
    Parallel,
    Reply,
    Send,
    Sleep,
    StreamDone,
    closing_events,
    relay_line,
)
from offramp.adapters.engine import stream_error_event as _deadline_event

httpx: Any = getattr(_base_client, "httpx2", None) or getattr(_base_client, "httpx")  # noqa: B009

RECORD_KEY = "offramp_record"
FAN_OUT_THREADS = 4  # sync n>1 fan-out: calls in flight at once (a small pool; async has no such limit)
BASE_KEY = "offramp_base"


def outbound(request: Any) -> Outbound:
    """The request as the engine sees it. The body must already be read (`_read_body`): multipart uploads and
    other streamed contents have no `.content` until then."""
    base = request.extensions.get(BASE_KEY) or ""
    url = str(request.url)
    no_query = url.split("?", 1)[0]
    path = no_query[len(base):] if base and no_query.startswith(base) else request.url.path
    return Outbound(
        method=request.method,
        path=path.lstrip("/"),
        query=request.url.query.decode() if isinstance(request.url.query, bytes) else str(request.url.query),
        headers={k.lower(): v for k, v in request.headers.items()},
        content=request.content,
        app_base=base or f"{request.url.scheme}://{request.url.netloc.decode()}",
    )


def _read_body(request: Any) -> None:
    """Buffer a streamed body (multipart file uploads, iterators) so it can be inspected for routing and sent
    again on a retry or a fallback; the SDK's own requests are small enough to hold in memory."""
    request.read()


async def _aread_body(request: Any) -> None:
    await request.aread()


def _build(method: str, url: str, headers: dict[str, str], content: bytes, ext: dict) -> Any:
    return httpx.Request(method, url, headers=headers, content=content, extensions=ext)


def _timeout_ext(request: Any, engine: Engine) -> dict:
    ext = {k: v for k, v in request.extensions.items() if k == "timeout"}
    t = engine.config.timeouts.request
    if t is not None:
        ext["timeout"] = {"connect": t, "read": t, "write": t, "pool": t}
    return ext


def _stream_ext(ext: dict, engine: Engine) -> dict:
    """A silent upstream must not outlive the stream's total deadline either: cap the read timeout."""
    total = engine.config.timeouts.stream_total
    t = dict(ext.get("timeout") or {})
    t["read"] = min(t.get("read") or total, total)
    return {**ext, "timeout": t}


def _deadline_message(sd: StreamDone, total: float) -> bytes:
    return _deadline_event(f"offramp: stream from {sd.record.backend} exceeded its total deadline of {total:g}s "
                           "(timeouts.stream_total)", "stream_deadline_exceeded")


def _broken_message(sd: StreamDone, exc: Exception, engine: Engine) -> bytes:
    if isinstance(exc, httpx.TimeoutException):
        return _deadline_message(sd, engine.config.timeouts.stream_total)
    return _deadline_event(f"offramp: stream from {sd.record.backend} broke off ({type(exc).__name__}: {exc})",
                           "stream_interrupted")


_NEXT, _END = "next", "end"


class _Relay:
    """What the sync and async relays share: per-line handling; they differ only in how they read and close."""

    def __init__(self, sd: StreamDone, engine: Engine) -> None:
        self.sd, self.engine, self._closed = sd, engine, False

    def _line(self, line: str) -> tuple[list[bytes], str | None]:
        """Events for one upstream line, and whether to stop: `_NEXT` stream (at `[DONE]`) or `_END` of all."""
        sd = self.sd
        if time.monotonic() > sd.deadline:
            return [_deadline_message(sd, self.engine.config.timeouts.stream_total)], _END
        events = relay_line(line, sd)
        if events is None:
            return [], _NEXT
        return events, _END if sd.normalizer.failed_reason else None

    def _mark_closed(self) -> bool:
        """True the first time only: the handles are closed and the call finished exactly once."""
        if self._closed:
            return False
        self._closed = True
        return True


class _SyncRelay(_Relay, httpx.SyncByteStream):
    def __iter__(self):
        sd = self.sd
        try:
            for n, handle in enumerate(sd.handles):
                if n:
                    sd.normalizer.next_stream()
                if sd.raw:
                    for data in handle.iter_bytes():
                        if time.monotonic() > sd.deadline:
                            return
                        yield data
                    return
                try:
                    for line in handle.iter_lines():
                        events, stop = self._line(line)
                        yield from events
                        if stop is _END:
                            return
                        if stop is _NEXT:
                            break
                except httpx.TransportError as exc:
                    yield _broken_message(sd, exc, self.engine)
                    return
            yield from closing_events(sd)
        finally:
            self.close()

    def close(self) -> None:
        if self._mark_closed():
            for h in self.sd.handles:
                h.close()
            self.engine.stream_finished(self.sd)


class _AsyncRelay(_Relay, httpx.AsyncByteStream):
    async def __aiter__(self):
        sd = self.sd
        try:
            for n, handle in enumerate(sd.handles):
                if n:
                    sd.normalizer.next_stream()
                if sd.raw:
                    async for data in handle.aiter_bytes():
                        if time.monotonic() > sd.deadline:
                            return
                        yield data
                    return
                try:
                    async for line in handle.aiter_lines():
                        events, stop = self._line(line)
                        for e in events:
                            yield e
                        if stop is _END:
                            return
                        if stop is _NEXT:
                            break
                except httpx.TransportError as exc:
                    yield _broken_message(sd, exc, self.engine)
                    return
            for e in closing_events(sd):
                yield e
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._mark_closed():
            for h in self.sd.handles:
                await h.aclose()
            self.engine.stream_finished(self.sd)


def _final(result: Done | StreamDone, request: Any, engine: Engine, relay: Any) -> Any:
    if isinstance(result, StreamDone):
        headers = {**result.headers, "content-type": "text/event-stream"}
        return httpx.Response(200, headers=headers, stream=relay(result, engine), request=request,
                              extensions={RECORD_KEY: result.record})
    engine.finish(result.record)
    if result.raise_exc is not None:
        raise result.raise_exc
    return httpx.Response(result.status, headers=result.headers, content=result.content, request=request,
                          extensions={RECORD_KEY: result.record})


class OfframpTransport(httpx.BaseTransport):
    """Sync transport: runs the engine's generator, doing its sends on the wrapped transport."""

    def __init__(self, engine: Engine, inner: Any = None) -> None:
        self.engine = engine
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: Any) -> Any:
        _read_body(request)
        gen = self.engine.exchange(outbound(request))
        ext = _timeout_ext(request, self.engine)
        result = self._drive(gen, ext, threading.Lock())
        if isinstance(result, Done):
            for h in result.close:
                h.close()
        return _final(result, request, self.engine, _SyncRelay)

    def _drive(self, gen: Any, ext: dict, lock: threading.Lock) -> Any:
        """Run an engine generator to its result. The generators share the call's record, so stepping them is
        serialised by `lock`; only the HTTP sends and sleeps of a fan-out overlap."""
        reply: Any = None
        while True:
            try:
                with lock:
                    op = gen.send(reply)
            except StopIteration as stop:
                return stop.value
            reply = None
            if isinstance(op, Sleep):
                time.sleep(op.seconds)
            elif isinstance(op, Parallel):
                workers = min(len(op.steps), FAN_OUT_THREADS)
                with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="offramp-fan-out") as pool:
                    reply = list(pool.map(lambda step: self._drive(step, ext, lock), op.steps))
            else:
                reply = self._send(op, ext)

    def _send(self, op: Send, ext: dict) -> Reply:
        try:
            ext = _stream_ext(ext, self.engine) if op.stream else ext
            resp = self.inner.handle_request(_build(op.method, op.url, op.headers, op.content, ext))
        except httpx.TransportError as exc:
            return Reply(0, {}, error=exc)
        headers = {k.lower(): v for k, v in resp.headers.items()}
        if op.stream and resp.status_code == 200:
            return Reply(200, headers, handle=resp)
        try:
            body = resp.read()
        finally:
            resp.close()
        return Reply(resp.status_code, headers, body)

    def close(self) -> None:
        self.inner.close()


class AsyncOfframpTransport(httpx.AsyncBaseTransport):
    def __init__(self, engine: Engine, inner: Any = None) -> None:
        self.engine = engine
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: Any) -> Any:
        await _aread_body(request)
        gen = self.engine.exchange(outbound(request))
        ext = _timeout_ext(request, self.engine)
        result = await self._drive(gen, ext)
        if isinstance(result, Done):
            for h in result.close:
                await h.aclose()
        return _final(result, request, self.engine, _AsyncRelay)

    async def _drive(self, gen: Any, ext: dict) -> Any:
        reply: Any = None
        while True:
            try:
                op = gen.send(reply)
            except StopIteration as stop:
                return stop.value
            reply = None
            if isinstance(op, Sleep):
                await asyncio.sleep(op.seconds)
            elif isinstance(op, Parallel):
                reply = list(await asyncio.gather(*(self._drive(step, ext) for step in op.steps)))
            else:
                reply = await self._send(op, ext)

    async def _send(self, op: Send, ext: dict) -> Reply:
        try:
            ext = _stream_ext(ext, self.engine) if op.stream else ext
            resp = await self.inner.handle_async_request(_build(op.method, op.url, op.headers, op.content, ext))
        except httpx.TransportError as exc:
            return Reply(0, {}, error=exc)
        headers = {k.lower(): v for k, v in resp.headers.items()}
        if op.stream and resp.status_code == 200:
            return Reply(200, headers, handle=resp)
        try:
            body = await resp.aread()
        finally:
            await resp.aclose()
        return Reply(resp.status_code, headers, body)

    async def aclose(self) -> None:
        await self.inner.aclose()
