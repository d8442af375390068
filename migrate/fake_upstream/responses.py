"""Responses API: create (plain, tools, stream), stored retrieval and `previous_response_id` chaining.

OpenAI keeps responses (store defaults to true); DeepSeek's and vLLM's Responses API is stateless, so
`previous_response_id` is rejected there (reference §1, Responses API row)."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from offramp.migrate.fake_upstream import chat, synth
from offramp.migrate.fake_upstream.errors import ApiError
from offramp.migrate.fake_upstream.http import intake, json_response, sse_response, state_of


def _input_messages(value: Any) -> list[dict]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list):
        raise ApiError(400, "'input' must be a string or an array of input items", param="input")
    messages = []
    for item in value:
        if not isinstance(item, dict):
            raise ApiError(400, "'input' items must be objects", param="input")
        if item.get("type", "message") == "message" and "role" in item:
            content = item.get("content")
            if isinstance(content, list):
                text = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            else:
                text = content if isinstance(content, str) else ""
            messages.append({"role": item["role"], "content": text})
        elif item.get("type") == "function_call_output":
            messages.append({"role": "tool", "content": str(item.get("output", ""))})
    return messages


def _usage(prompt: int, output: int, reasoning: int = 0) -> dict:
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + output,
    }


async def create_response(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "responses")
    state, flavor = got.state, got.state.flavor
    body = got.body if isinstance(got.body, dict) else {}
    model = chat.resolve_model(flavor, state.options, body.get("model"))
    previous = body.get("previous_response_id")
    stateless = flavor.name != "openai"
    if previous and stateless:
        raise ApiError(
            400,
            "previous_response_id is not supported: this Responses API is stateless",
            param="previous_response_id",
        )
    history: list[dict] = []
    if previous:
        prior = state.get("responses", previous)
        if prior is None:
            raise ApiError(
                404, f"Previous response with id '{previous}' not found.", param="previous_response_id"
            )
        history = prior["_messages"]
    messages = history + _input_messages(body.get("input", ""))
    if body.get("instructions"):
        messages = [{"role": "system", "content": body["instructions"]}, *messages]
    draw = state.draw(request.path, got.raw)
    user_text = synth.last_user_text(messages)
    rid = f"resp_{draw.request_key:016x}"
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"]
    output: list[dict]
    followup = messages[-1]["role"] == "tool" if messages else False
    if tools and body.get("tool_choice") != "none" and not followup:
        fn = tools[0]
        if isinstance(body.get("tool_choice"), dict):
            fn = next((t for t in tools if t.get("name") == body["tool_choice"].get("name")), fn)
        schema = fn.get("parameters") or {"type": "object", "properties": {}}
        args = json.dumps(synth.instance(schema, schema, fn.get("name", "arg"), user_text, draw.noise))
        output = [
            {
                "type": "function_call",
                "id": f"fc_{draw.request_key:016x}",
                "call_id": f"call_{draw.request_key:016x}",
                "name": fn.get("name"),
                "arguments": args,
                "status": "completed",
            }
        ]
        text = ""
    else:
        text = (
            ("Based on the tool results: " + messages[-1]["content"])
            if followup
            else synth.answer_text(user_text, draw.noise)
        )
        output = [
            {
                "type": "message",
                "id": f"msg_{draw.request_key:016x}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
            }
        ]
    prompt_tokens = sum(synth.estimate_tokens(str(m.get("content", ""))) + 4 for m in messages)
    out_tokens = synth.estimate_tokens(text or json.dumps(output))
    resp = {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "status": "completed",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": previous,
        "reasoning": {"effort": None, "summary": None},
        "store": bool(body.get("store", True)) and not stateless,
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": _usage(prompt_tokens, out_tokens),
        "user": None,
        "metadata": body.get("metadata") or {},
    }
    if resp["store"]:
        reply = {"role": "assistant", "content": text} if text else {"role": "assistant", "content": ""}
        state.put("responses", {**resp, "_messages": [*messages, reply]})
    if body.get("stream"):
        return await sse_response(request, state, _events(resp, text), got.fault, keepalive=False, done=False)
    return json_response(state, resp, fault=got.fault)


def _events(resp: dict, text: str) -> list[tuple[str, dict]]:
    """Responses streaming events; `event:` lines precede each data line like OpenAI's."""
    events: list[tuple[str, dict]] = []
    start = {**resp, "status": "in_progress", "output": [], "usage": None}
    events.append(("response.created", {"response": start}))
    events.append(("response.in_progress", {"response": start}))
    item = resp["output"][0]
    if item["type"] == "message":
        empty = {**item, "status": "in_progress", "content": []}
        events.append(("response.output_item.added", {"output_index": 0, "item": empty}))
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        events.append(
            (
                "response.content_part.added",
                {"item_id": item["id"], "output_index": 0, "content_index": 0, "part": part},
            )
        )
        for piece in synth.split_tokens(text):
            events.append(
                (
                    "response.output_text.delta",
                    {
                        "item_id": item["id"],
                        "output_index": 0,
                        "content_index": 0,
                        "delta": piece,
                        "logprobs": [],
                    },
                )
            )
        events.append(
            (
                "response.output_text.done",
                {"item_id": item["id"], "output_index": 0, "content_index": 0, "text": text, "logprobs": []},
            )
        )
        events.append(
            (
                "response.content_part.done",
                {"item_id": item["id"], "output_index": 0, "content_index": 0, "part": item["content"][0]},
            )
        )
    else:
        events.append(
            (
                "response.output_item.added",
                {"output_index": 0, "item": {**item, "arguments": "", "status": "in_progress"}},
            )
        )
        events.append(
            (
                "response.function_call_arguments.delta",
                {"item_id": item["id"], "output_index": 0, "delta": item["arguments"]},
            )
        )
        events.append(
            (
                "response.function_call_arguments.done",
                {"item_id": item["id"], "output_index": 0, "arguments": item["arguments"]},
            )
        )
    events.append(("response.output_item.done", {"output_index": 0, "item": item}))
    events.append(("response.completed", {"response": resp}))
    out = []
    for seq, (name, payload) in enumerate(events):
        out.append((name, {"type": name, "sequence_number": seq, **payload}))
    return out


def _public(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


async def retrieve_response(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "responses")
    obj = got.state.get("responses", request.match_info["rid"])
    if obj is None:
        raise ApiError(404, f"Response with id '{request.match_info['rid']}' not found.")
    return json_response(got.state, _public(obj), fault=got.fault)


async def delete_response(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "responses")
    rid = request.match_info["rid"]
    if got.state.store.get("responses", {}).pop(rid, None) is None:
        raise ApiError(404, f"Response with id '{rid}' not found.")
    return json_response(state_of(request), {"id": rid, "object": "response.deleted", "deleted": True})


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_post(f"{prefix}/responses", create_response)
    app.router.add_get(f"{prefix}/responses/{{rid}}", retrieve_response)
    app.router.add_delete(f"{prefix}/responses/{{rid}}", delete_response)
