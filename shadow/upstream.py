"""One timed upstream call for the mirror legs (candidate, second primary): status, parsed body, TTFT and total,
and a named error kind — a failing candidate is data to record, never an exception for the primary."""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from offramp.shadow.sse import StreamError, assemble_chat, first_token_index


@dataclass
class CallResult:
    status: int | None = None
    body: dict | None = None
    raw: bytes | None = None
    ttft_ms: float | None = None
    total_ms: float | None = None
    error: str | None = None  # timeout | connect_error | http_5xx | http_4xx | malformed_json | stream_cut | ...
    detail: str | None = None
    usage: dict | None = field(default=None)
    streamed: bool = False  # body was rebuilt from an SSE stream

    @property
    def ok(self) -> bool:
        return self.error is None and self.body is not None


def decode_body(raw: bytes, encoding: str | None) -> bytes:
    enc = (encoding or "").lower()
    if enc in ("gzip", "x-gzip"):
        return zlib.decompress(raw, 16 + zlib.MAX_WBITS)
    if enc == "deflate":
        try:
            return zlib.decompress(raw)
        except zlib.error:
            return zlib.decompress(raw, -zlib.MAX_WBITS)
    if enc == "br":
        import brotli  # type: ignore[import-not-found]

        return brotli.decompress(raw)
    return raw


def parse_response(raw: bytes, *, stream: bool, status: int, assemble=assemble_chat) -> CallResult:
    """Turn a finished upstream body (JSON or SSE bytes) into a CallResult (no timings). `assemble` rebuilds
    the final body of a stream (chat chunks by default; Responses events for /v1/responses)."""
    res = CallResult(status=status, raw=raw, streamed=stream)
    if status >= 400:
        res.error = f"http_{status // 100}xx"
        res.detail = raw[:200].decode("utf-8", "replace")
        return res
    try:
        res.body = assemble(raw) if stream else json.loads(raw)
    except StreamError as exc:
        res.error, res.detail = exc.kind, str(exc)
        return res
    except ValueError:
        res.error, res.detail = "malformed_json", "response body is not JSON"
        return res
    if not isinstance(res.body, dict):
        res.body, res.error = None, "malformed_json"
        return res
    res.usage = res.body.get("usage") if isinstance(res.body.get("usage"), dict) else None
    return res


_TIMEOUTS: dict[float, aiohttp.ClientTimeout] = {}  # one per configured timeout (frozen, shared)


async def call(
    session: aiohttp.ClientSession,
    url: str | URL,
    body: dict | bytes,
    headers: dict[str, str],
    *,
    stream: bool,
    timeout_s: float,
    assemble=assemble_chat,
) -> CallResult:
    """POST `body` (a dict, or JSON bytes already serialised — sent as they are, with the caller's
    content-type) and time it."""
    t0 = time.perf_counter()
    ttft = None
    payload = {"data": body} if isinstance(body, bytes) else {"json": body}
    timeout = _TIMEOUTS.get(timeout_s)
    if timeout is None:
        timeout = _TIMEOUTS[timeout_s] = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with session.post(url, headers=headers, timeout=timeout, **payload) as resp:
            if stream and resp.status < 400:
                parts, times = [], []
                async for chunk in resp.content.iter_any():
                    times.append(time.perf_counter())
                    parts.append(chunk)
                i = first_token_index(parts)
                ttft = (times[i if i is not None else -1] - t0) * 1000 if parts else None
                raw = b"".join(parts)
            else:
                raw = await resp.read()
            status = resp.status
            is_sse = "text/event-stream" in resp.headers.get("content-type", "")
    except (asyncio.TimeoutError, TimeoutError):
        return CallResult(error="timeout", total_ms=(time.perf_counter() - t0) * 1000, ttft_ms=ttft)
    except aiohttp.ClientPayloadError as exc:
        return CallResult(error="stream_cut", detail=type(exc).__name__, ttft_ms=ttft,
                          total_ms=(time.perf_counter() - t0) * 1000)
    except aiohttp.ClientError as exc:
        return CallResult(error="connect_error", detail=type(exc).__name__, total_ms=(time.perf_counter() - t0) * 1000)
    total = (time.perf_counter() - t0) * 1000
    res = parse_response(raw, stream=stream and is_sse and status < 400, status=status, assemble=assemble)
    res.total_ms = total
    res.ttft_ms = ttft if stream else total
    return res
