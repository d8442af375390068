"""The aiohttp application: core OpenAI-compatible endpoints plus the `/_fake/*` control endpoints."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from offramp.migrate.fake_upstream import azure, chat, synth
from offramp.migrate.fake_upstream.chat import Draw
from offramp.migrate.fake_upstream.errors import ApiError
from offramp.migrate.fake_upstream.faults import Fault
from offramp.migrate.fake_upstream.http import (
    STATE_KEY,
    error_middleware,
    intake,
    json_response,
    sse_response,
    state_of,
)
from offramp.migrate.fake_upstream.options import FakeOptions
from offramp.migrate.fake_upstream.state import ServerState


def _require_object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return body


def degrade_errors(state: ServerState, draw: Draw) -> None:
    """Rollout-benchmark degradations that turn a request into a retryable error."""
    deg = state.options.degrade
    if draw.hit(deg.rate_limit):
        raise ApiError(429, None, headers={"Retry-After": "1"})
    if draw.hit(deg.error):
        raise ApiError(500, None)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "chat")
    state, flavor, opts = got.state, got.state.flavor, got.state.options
    body = _require_object(got.body)
    model = chat.resolve_model(flavor, opts, body.get("model"))
    thinking = chat.thinking_enabled(flavor, opts, model, body)
    chat.validate(flavor, opts, body, model, thinking)
    draw = state.draw(request.path, got.raw)
    degrade_errors(state, draw)
    choices = chat.answer(flavor, opts, body, thinking, draw)
    if got.fault is not None:
        for choice in choices:
            if got.fault.content is not None:
                choice.content, choice.tool_calls = got.fault.content, []
            if got.fault.finish_reason is not None:
                choice.finish_reason = got.fault.finish_reason
    usage = chat.usage(flavor, body, choices, state.cache, model)
    if body.get("stream"):
        chunks = chat.stream_chunks(flavor, body, model, choices, usage, draw, thinking)
        return await sse_response(request, state, chunks, got.fault, keepalive=True)
    await _ttft(state, got.fault)
    return json_response(
        state, chat.completion_body(flavor, body, model, choices, usage, draw, thinking), fault=got.fault
    )


async def _ttft(state: ServerState, fault: Fault | None) -> None:
    ttft = fault.ttft_ms if fault and fault.ttft_ms is not None else state.options.ttft_ms
    if ttft:
        await asyncio.sleep(ttft / 1000)


async def completions(request: web.Request) -> web.StreamResponse:
    """Legacy text completions: the answer echoes the prompt, like chat does for the last user message."""
    got = await intake(request, "completions")
    state, flavor, opts = got.state, got.state.flavor, got.state.options
    if flavor.name == "deepseek" and not request.path.startswith("/beta/"):
        raise ApiError(404, "Not Found: DeepSeek serves completions (FIM) only under /beta", code="not_found")
    body = _require_object(got.body)
    model = chat.resolve_model(flavor, opts, body.get("model"))
    if flavor.name == "vllm" and body.get("suffix"):
        raise ApiError(400, "suffix is not currently supported", param="suffix")
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise ApiError(400, "'prompt' must be a string or an array of strings", param="prompt")
    draw = state.draw(request.path, got.raw)
    degrade_errors(state, draw)
    n = body.get("n") or 1
    limit = body.get("max_tokens") or 16
    choices = []
    for p_index, text in enumerate(prompts):
        for k in range(n):
            answer = synth.answer_text(
                text.strip() or synth.DEFAULT_USER_TEXT, draw.noise if k == 0 else None
            )
            finish = "stop"
            if synth.estimate_tokens(answer) > limit:
                answer, finish = answer[: limit * 4], "length"
            choices.append(
                {"text": answer, "index": p_index * n + k, "logprobs": None, "finish_reason": finish}
            )
    prompt_tokens = sum(synth.estimate_tokens(p) for p in prompts)
    completion_tokens = sum(synth.estimate_tokens(c["text"]) for c in choices)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    base = {
        "id": f"cmpl-{draw.request_key:016x}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
    }
    if body.get("stream"):
        chunks: list[dict] = []
        for c in choices:
            for piece in synth.split_tokens(c["text"]):
                chunks.append(
                    {
                        **base,
                        "choices": [
                            {"text": piece, "index": c["index"], "logprobs": None, "finish_reason": None}
                        ],
                    }
                )
            chunks.append(
                {
                    **base,
                    "choices": [
                        {
                            "text": "",
                            "index": c["index"],
                            "logprobs": None,
                            "finish_reason": c["finish_reason"],
                        }
                    ],
                }
            )
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({**base, "choices": [], "usage": usage})
        return await sse_response(request, state, chunks, got.fault, keepalive=True)
    await _ttft(state, got.fault)
    return json_response(state, {**base, "choices": choices, "usage": usage}, fault=got.fault)


async def embeddings(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "embeddings")
    state, flavor, opts = got.state, got.state.flavor, got.state.options
    body = _require_object(got.body)
    model = chat.resolve_model(flavor, opts, body.get("model"))
    raw_input = body.get("input")
    inputs = [raw_input] if isinstance(raw_input, str) else raw_input
    if not isinstance(inputs, list) or not inputs:
        raise ApiError(400, "'input' must be a non-empty string or array", param="input")
    if len(inputs) > 2048:
        raise ApiError(400, "'input' must have at most 2048 items", param="input")
    texts = []
    for item in inputs:
        if isinstance(item, str):
            if not item:
                raise ApiError(400, "'input' cannot contain an empty string", param="input")
            texts.append(item)
        elif isinstance(item, list) and all(isinstance(t, int) for t in item):
            texts.append(" ".join(map(str, item)))  # token arrays embed deterministically too
        else:
            raise ApiError(400, "'input' items must be strings or arrays of token ids", param="input")
    native = flavor.embedding_models.get(model, 1536 if flavor.name == "openai" else 1024)
    dims = body.get("dimensions")
    if dims is not None:
        if model in flavor.embedding_fixed_dims:
            raise ApiError(400, "This model does not support specifying dimensions.", param="dimensions")
        if not isinstance(dims, int) or not 1 <= dims <= native:
            raise ApiError(400, f"'dimensions' must be an integer between 1 and {native}", param="dimensions")
    size = dims or native
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise ApiError(
            400,
            f"Invalid value: '{encoding}'. Supported values are: 'float' and 'base64'.",
            param="encoding_format",
        )
    draw = state.draw(request.path, got.raw)
    degrade_errors(state, draw)
    data = []
    for i, text in enumerate(texts):
        vec = synth.embedding(text, size, opts.seed, model, opts.degrade.embedding_noise)
        data.append(
            {
                "object": "embedding",
                "index": i,
                "embedding": synth.embedding_b64(vec) if encoding == "base64" else vec,
            }
        )
    tokens = sum(synth.estimate_tokens(t) for t in texts)
    await _ttft(state, got.fault)
    return json_response(
        state,
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
        fault=got.fault,
    )


async def list_models(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "models")
    flavor = got.state.flavor
    models = got.state.options.models or list(flavor.models)
    data = [
        {"id": m, "object": "model", "owned_by": flavor.owned_by, "permissions": []}
        if flavor.name == "llama-cpp-python"
        else {"id": m, "object": "model", "created": 1_700_000_000, "owned_by": flavor.owned_by}
        for m in models
    ]
    return json_response(got.state, {"object": "list", "data": data}, fault=got.fault)


async def retrieve_model(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "models")
    flavor = got.state.flavor
    model = request.match_info["model"]
    models = got.state.options.models or list(flavor.models)
    if model not in models and not (flavor.accept_any_model and got.state.options.models is None):
        raise ApiError(404, f"The model '{model}' does not exist", param="model", code="model_not_found")
    return json_response(
        got.state,
        {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": flavor.owned_by},
        fault=got.fault,
    )


# --- control endpoints ---------------------------------------------------------------------------------------


def _admin(request: web.Request) -> ServerState:
    state = state_of(request)
    token = state.options.admin_token
    if token is not None and request.headers.get("Authorization", "") != f"Bearer {token}":
        raise ApiError(401, "the /_fake endpoints need Authorization: Bearer <admin token>")
    return state


async def script(request: web.Request) -> web.Response:
    state = _admin(request)
    try:
        payload = await request.json()
    except ValueError:
        raise ApiError(400, "POST /_fake/script expects a JSON object or array of faults") from None
    items = payload.get("faults", [payload]) if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        raise ApiError(400, "POST /_fake/script expects a JSON object or array of faults")
    parsed = []
    for i, item in enumerate(items):
        try:
            parsed.append(Fault.model_validate(item))
        except Exception as exc:
            first = exc.errors()[0] if hasattr(exc, "errors") else {"loc": (), "msg": str(exc)}
            where = ".".join(str(p) for p in first["loc"]) or "fault"
            raise ApiError(400, f"faults[{i}].{where}: {first['msg']}") from None
    for fault in parsed:
        state.faults.add(fault)
    return web.json_response({"pending": state.faults.pending()})


async def clear_script(request: web.Request) -> web.Response:
    state = _admin(request)
    state.faults.clear()
    return web.json_response({"pending": []})


async def recorded(request: web.Request) -> web.Response:
    state = _admin(request)
    return web.json_response({"requests": [r.to_dict() for r in state.recorded()]})


async def reset(request: web.Request) -> web.Response:
    _admin(request).reset()
    return web.json_response({"ok": True})


async def health(request: web.Request) -> web.Response:
    state = state_of(request)
    return web.json_response({"ok": True, "flavor": state.flavor.name})


def create_app(options: FakeOptions | None = None, state: ServerState | None = None) -> web.Application:
    from offramp.migrate.fake_upstream import platform

    state = state or ServerState(options or FakeOptions())
    app = web.Application(middlewares=[error_middleware], client_max_size=64 * 1024**2)
    app[STATE_KEY] = state
    for prefix in ("/v1", ""):  # DeepSeek and vLLM also answer without /v1
        app.router.add_post(f"{prefix}/chat/completions", chat_completions)
        app.router.add_post(f"{prefix}/completions", completions)
        app.router.add_post(f"{prefix}/embeddings", embeddings)
        app.router.add_get(f"{prefix}/models", list_models)
        app.router.add_get(f"{prefix}/models/{{model:.+}}", retrieve_model)
        platform.add_routes(app, prefix)
    azure.add_routes(
        app, {"chat/completions": chat_completions, "completions": completions, "embeddings": embeddings}
    )
    app.router.add_post("/beta/chat/completions", chat_completions)  # DeepSeek beta: prefix / strict tools
    app.router.add_post("/beta/completions", completions)  # DeepSeek beta: FIM
    app.router.add_post("/_fake/script", script)
    app.router.add_delete("/_fake/script", clear_script)
    app.router.add_get("/_fake/requests", recorded)
    app.router.add_post("/_fake/reset", reset)
    app.router.add_get("/_fake/health", health)
    return app
