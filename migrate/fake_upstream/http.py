"""Request intake and response writing shared by every endpoint: parse, record, auth, faults, latency."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from offramp.migrate.fake_upstream import azure
from offramp.migrate.fake_upstream.errors import ApiError, error_body
from offramp.migrate.fake_upstream.faults import Fault, parse_fault_header
from offramp.migrate.fake_upstream.state import ServerState, key_hint

STATE_KEY: web.AppKey[ServerState] = web.AppKey("fake_state", ServerState)
MALFORMED = b'{"id": "broken", "object": "chat.completion", "choices": [{"index": 0, "message": {"content": "'


@dataclass
class Intake:
    state: ServerState
    body: Any
    raw: bytes
    fault: Fault | None


def state_of(request: web.Request) -> ServerState:
    return request.app[STATE_KEY]


async def _parse(request: web.Request) -> tuple[Any, bytes]:
    ctype = request.content_type
    if ctype.startswith("multipart/"):
        form = await request.post()
        body: dict[str, Any] = {}
        for name, value in form.items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                body[name] = {
                    "filename": value.filename,
                    "size": len(data),
                    "content_type": value.content_type,
                    "_bytes": data,
                }
            else:
                body[name] = value
        return body, b""
    raw = await request.read()
    if not raw:
        return None, raw
    try:
        return json.loads(raw), raw
    except ValueError as exc:
        if state_of(request).flavor.fastapi_errors:  # its error handler re-parses the body and crashes
            raise RawReply(500, "Internal Server Error", {}, content_type="text/plain") from None
        raise ApiError(
            400,
            f"We could not parse the JSON body of your request. ({exc.msg} at line {exc.lineno} column "
            f"{exc.colno})",
        ) from None


def _check_auth(state: ServerState, request: web.Request) -> None:
    header = request.headers.get("Authorization", "")
    key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    wanted = state.options.api_key
    if not state.flavor.auth_required and wanted is None:
        return
    if not key:
        raise ApiError(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            code="invalid_api_key",
        )
    if wanted is not None and key != wanted:
        raise ApiError(401, f"Incorrect API key provided: ****{key_hint(key) or ''}.", code="invalid_api_key")


async def intake(request: web.Request, endpoint: str) -> Intake:
    """Everything before the endpoint's own work. Raises ApiError (rendered by the middleware)."""
    state = state_of(request)
    body, raw = await _parse(request)
    recorded = body
    if isinstance(body, dict) and any(isinstance(v, dict) and "_bytes" in v for v in body.values()):
        recorded = {
            k: ({kk: vv for kk, vv in v.items() if kk != "_bytes"} if isinstance(v, dict) else v)
            for k, v in body.items()
        }
    state.record(request.method, request.path, request.headers, recorded, request.query)
    azure_route = azure.DEPLOYMENT_KEY in request
    if azure_route:
        body = azure.check(state, request, body)
    header = request.headers.get("X-Fake-Fault")
    fault = None
    if header:
        try:
            fault = parse_fault_header(header)
        except ValueError as exc:
            raise ApiError(400, str(exc).splitlines()[0], param="X-Fake-Fault") from None
    model = body.get("model") if isinstance(body, dict) else None
    fault = fault or state.faults.take(request.path, model if isinstance(model, str) else None)
    opts = state.options
    delay = opts.latency_ms + opts.degrade.latency_ms + (fault.hang_s * 1000 if fault else 0)
    if delay:
        await asyncio.sleep(delay / 1000)
    if endpoint not in state.flavor.endpoints:
        raise ApiError(404, f"Not Found: {request.path} is not offered by this server", code="not_found")
    if not azure_route:
        _check_auth(state, request)
    if fault and fault.status and (fault.status >= 400 or fault.body is not None):
        headers = dict(fault.headers)
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        if fault.body is not None:
            text = fault.body if isinstance(fault.body, str) else json.dumps(fault.body)
            raise RawReply(fault.status, text, headers)
        raise ApiError(fault.status, fault.message, headers=headers)
    return Intake(state, body, raw, fault)


class RawReply(Exception):
    """A scripted reply with a literal body (bypasses the flavor's error shape)."""

    def __init__(self, status: int, text: str, headers: dict[str, str], content_type: str = "application/json"
                 ) -> None:
        super().__init__(status)
        self.status, self.text, self.headers, self.content_type = status, text, headers, content_type


def json_response(
    state: ServerState, obj: Any, status: int = 200, fault: Fault | None = None
) -> web.Response:
    if fault and fault.malformed:
        return web.Response(body=MALFORMED, status=status, content_type="application/json")
    body = json.dumps(obj).encode()
    if state.keepalives:  # DeepSeek sends blank lines while a request waits for capacity
        body = b"\n" * state.keepalives + body
    return web.Response(body=body, status=status, content_type="application/json")


async def sse_response(
    request: web.Request,
    state: ServerState,
    chunks: list[Any],
    fault: Fault | None,
    *,
    keepalive: bool,
    done: bool = True,
) -> web.StreamResponse:
    """Write an SSE stream; fast path writes everything at once when there is no delay to emulate."""
    opts = state.options
    ttft = fault.ttft_ms if fault and fault.ttft_ms is not None else opts.ttft_ms
    chunk_ms = fault.chunk_ms if fault and fault.chunk_ms is not None else opts.chunk_ms
    cut = fault.cut_after if fault else None
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    lines = [_sse(c) for c in chunks]
    if fault and fault.malformed and lines:
        lines[min(1, len(lines) - 1)] = b'data: {"id": "broken", "choices": [\n\n'
    head = b": keep-alive\n\n" * (state.keepalives if keepalive else 0)
    if cut is not None:
        await resp.write(head + b"".join(lines[:cut]))
        await asyncio.sleep(0)
        if request.transport is not None:
            request.transport.abort()
        return resp
    if done:
        lines.append(b"data: [DONE]\n\n")
    if not ttft and not chunk_ms:
        await resp.write(head + b"".join(lines))
    else:
        if head:
            await resp.write(head)
        if ttft:
            await asyncio.sleep(ttft / 1000)
        for i, line in enumerate(lines):
            if i and chunk_ms:
                await asyncio.sleep(chunk_ms / 1000)
            await resp.write(line)
    await resp.write_eof()
    return resp


def _sse(chunk: Any) -> bytes:
    if isinstance(chunk, tuple):  # (event name, payload): Responses-style named events
        return b"event: " + chunk[0].encode() + b"\ndata: " + json.dumps(chunk[1]).encode() + b"\n\n"
    return b"data: " + (chunk if isinstance(chunk, bytes) else json.dumps(chunk).encode()) + b"\n\n"


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    state = state_of(request)
    try:
        return await handler(request)
    except ApiError as err:
        return web.Response(
            body=error_body(state.flavor, err, vllm_style=state.options.vllm_error_style),
            status=err.status,
            content_type="application/json",
            headers=err.headers,
        )
    except azure.AzureReply as reply:
        return web.Response(text=reply.text, status=reply.status, content_type="application/json")
    except RawReply as reply:
        return web.Response(
            text=reply.text, status=reply.status, headers=reply.headers, content_type=reply.content_type
        )
    except web.HTTPNotFound:
        err = ApiError(404, f"Not Found: {request.method} {request.path}", code="not_found")
        return web.Response(
            body=error_body(state.flavor, err, vllm_style=state.options.vllm_error_style),
            status=404,
            content_type="application/json",
        )
