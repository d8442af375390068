"""Responses API: create (plain, tools, stream), stored retrieval and `previous_response_id` chaining.

OpenAI keeps responses (store defaults to true); DeepSeek's and vLLM's Responses API is stateless, so
`previous_response_id` is rejected there (reference §1, Responses API row). DeepSeek's (fact-check-2026-12 #32-#35):
thinking on unless `reasoning.effort` is "none" (a reasoning item with reasoning_text precedes the answer), native
`text.format` json_schema, a forced tool_choice in thinking mode is a 400, no built-in tools, developer → user."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from offramp.migrate.fake_upstream import chat, synth
from offramp.migrate.fake_upstream.errors import ApiError
from offramp.migrate.fake_upstream.flavors import Flavor
from offramp.migrate.fake_upstream.http import intake, json_response, sse_response, state_of


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return ""
    if part.get("type") == "input_image":
        return "[image]"
    return str(part.get("text") or part.get("refusal") or "")


def _input_messages(flavor: Flavor, value: Any) -> list[dict]:
    """`input` as chat-like messages (what the synthesiser reads); function calls and their outputs included."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list):
        raise ApiError(400, "'input' must be a string or an array of input items", param="input")
    messages: list[dict] = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ApiError(400, f"Invalid type for 'input[{i}]': expected an object", param=f"input[{i}]")
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise ApiError(400, f"Invalid value for 'input[{i}].role': {role!r}", param=f"input[{i}].role")
            if role == "developer" and flavor.name == "deepseek":
                role = "user"  # "developer is treated as user" (DeepSeek's Responses reference)
            content = item.get("content")
            if isinstance(content, list):
                text = " ".join(_part_text(p) for p in content)
            else:
                text = content if isinstance(content, str) else ""
            messages.append({"role": role, "content": text})
        elif kind == "function_call":
            messages.append({"role": "assistant", "content": "", "call": item.get("call_id")})
        elif kind == "function_call_output":
            if not item.get("call_id"):
                raise ApiError(400, f"Missing required parameter: 'input[{i}].call_id'.", param=f"input[{i}].call_id")
            out = item.get("output", "")
            text = out if isinstance(out, str) else " ".join(_part_text(p) for p in out or [])
            messages.append({"role": "tool", "content": text})
        elif kind == "reasoning":
            continue
        else:
            raise ApiError(400, f"Invalid value for 'input[{i}].type': {kind!r} is not supported",
                           param=f"input[{i}].type")
    return messages


def _usage(flavor: Flavor, prompt: int, output: int, reasoning: int = 0) -> dict:
    details: dict = {"cached_tokens": 0}
    if flavor.name == "openai":
        details["cache_write_tokens"] = 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": details,
        "output_tokens": output + reasoning,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + output + reasoning,
    }


def _check_tools(flavor: Flavor, body: dict) -> list[dict]:
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise ApiError(400, "'tools' must be an array", param="tools")
    for i, t in enumerate(tools):
        kind = t.get("type") if isinstance(t, dict) else None
        if kind != "function" and kind not in flavor.responses_builtin_tools:
            raise ApiError(400, f"Invalid value for 'tools[{i}].type': {kind!r} is not supported",
                           param=f"tools[{i}].type")
        if kind == "function" and not t.get("name"):
            raise ApiError(400, f"Missing required parameter: 'tools[{i}].name'.", param=f"tools[{i}].name")
    return [t for t in tools if t.get("type") == "function"]


def _thinking(flavor: Flavor, body: dict) -> bool:
    effort = (body.get("reasoning") or {}).get("effort")
    if effort is not None:
        return effort != "none" and flavor.responses_thinking_default
    return flavor.responses_thinking_default


async def create_response(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "responses")
    state, flavor = got.state, got.state.flavor
    body = got.body if isinstance(got.body, dict) else {}
    model = chat.resolve_model(flavor, state.options, body.get("model"))
    previous = body.get("previous_response_id")
    stateless = not flavor.responses_stateful
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
    tools = _check_tools(flavor, body)
    thinking = _thinking(flavor, body)
    tool_choice = body.get("tool_choice", "auto")
    forced = tool_choice == "required" or isinstance(tool_choice, dict)
    if forced and thinking and not flavor.forced_tool_choice_in_thinking:
        raise ApiError(400, "Thinking mode does not support this tool_choice", param="tool_choice")
    messages = history + _input_messages(flavor, body.get("input", ""))
    if body.get("instructions"):
        messages = [{"role": "system", "content": body["instructions"]}, *messages]
    draw = state.draw(request.path, got.raw)
    user_text = synth.last_user_text(messages)
    rid = f"resp_{draw.request_key:016x}"
    output: list[dict] = []
    incomplete: dict | None = None
    reasoning = synth.reasoning_text(user_text) if thinking else ""
    if reasoning:
        output.append({"type": "reasoning", "id": f"rs_{draw.request_key:016x}", "summary": [],
                       "content": [{"type": "reasoning_text", "text": reasoning}], "status": "completed"})
    followup = messages[-1]["role"] == "tool" if messages else False
    fmt = (body.get("text") or {}).get("format") or {"type": "text"}
    if tools and tool_choice != "none" and not followup:
        fn = tools[0]
        if isinstance(tool_choice, dict):
            fn = next((t for t in tools if t.get("name") == tool_choice.get("name")), fn)
        schema = fn.get("parameters") or {"type": "object", "properties": {}}
        args = json.dumps(synth.instance(schema, schema, fn.get("name", "arg"), user_text, draw.noise))
        output.append(
            {
                "type": "function_call",
                "id": f"fc_{draw.request_key:016x}",
                "call_id": f"call_{draw.request_key:016x}",
                "name": fn.get("name"),
                "arguments": args,
                "status": "completed",
            }
        )
        text = ""
    else:
        if fmt.get("type") == "json_schema":
            if not isinstance(fmt.get("schema"), dict) or not fmt.get("name"):
                raise ApiError(400, "Missing required parameter: 'text.format.name' / 'text.format.schema'.",
                               param="text.format")
            text = synth.json_for_schema(fmt["schema"], user_text, draw.noise)
        elif fmt.get("type") == "json_object":
            text = synth.json_object_answer(user_text, draw.noise)
        elif followup:
            text = "Based on the tool results: " + messages[-1]["content"]
        else:
            text = synth.answer_text(user_text, draw.noise)
        limit = body.get("max_output_tokens")
        if isinstance(limit, int) and limit > 0 and len(synth.split_tokens(text)) > limit:
            text = "".join(synth.split_tokens(text)[:limit])
            incomplete = {"reason": "max_output_tokens"}
        output.append(
            {
                "type": "message",
                "id": f"msg_{draw.request_key:016x}",
                "status": "incomplete" if incomplete else "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
            }
        )
    prompt_tokens = sum(synth.estimate_tokens(str(m.get("content", ""))) + 4 for m in messages)
    out_tokens = synth.estimate_tokens(text or json.dumps(output[-1]))
    resp = {
        "id": rid,
        "object": "response",
        "created_at": int(time.time()),
        "status": "incomplete" if incomplete else "completed",
        "background": False,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": previous,
        "reasoning": {"effort": (body.get("reasoning") or {}).get("effort") or ("high" if thinking else None),
                      "summary": None},
        "store": bool(body.get("store", True)) and not stateless,
        "temperature": body.get("temperature", 1.0),
        "text": {"format": fmt},
        "tool_choice": tool_choice,
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": _usage(flavor, prompt_tokens, out_tokens, synth.estimate_tokens(reasoning) if reasoning else 0),
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }
    if resp["store"]:
        reply = {"role": "assistant", "content": text} if text else {"role": "assistant", "content": ""}
        state.put("responses", {**resp, "_messages": [*messages, reply]})
    if body.get("stream"):
        return await sse_response(request, state, _events(resp), got.fault, keepalive=False, done=False)
    return json_response(state, resp, fault=got.fault)


def _events(resp: dict) -> list[tuple[str, dict]]:
    """Responses streaming events, one `event:` line before each data line like OpenAI's: created, in_progress,
    then per output item added → deltas → done, then completed (with usage)."""
    events: list[tuple[str, dict]] = []
    start = {**resp, "status": "in_progress", "output": [], "usage": None}
    events.append(("response.created", {"response": start}))
    events.append(("response.in_progress", {"response": start}))
    for n, item in enumerate(resp["output"]):
        ref = {"item_id": item["id"], "output_index": n}
        if item["type"] == "reasoning":
            text = item["content"][0]["text"]
            events.append(("response.output_item.added",
                           {"output_index": n, "item": {**item, "status": "in_progress", "content": []}}))
            for piece in synth.split_tokens(text):
                events.append(("response.reasoning_text.delta", {**ref, "content_index": 0, "delta": piece}))
            events.append(("response.reasoning_text.done", {**ref, "content_index": 0, "text": text}))
        elif item["type"] == "message":
            text = item["content"][0]["text"]
            empty = {**item, "status": "in_progress", "content": []}
            events.append(("response.output_item.added", {"output_index": n, "item": empty}))
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            events.append(("response.content_part.added", {**ref, "content_index": 0, "part": part}))
            for piece in synth.split_tokens(text):
                events.append(
                    ("response.output_text.delta", {**ref, "content_index": 0, "delta": piece, "logprobs": []})
                )
            events.append(("response.output_text.done", {**ref, "content_index": 0, "text": text, "logprobs": []}))
            events.append(("response.content_part.done", {**ref, "content_index": 0, "part": item["content"][0]}))
        else:
            events.append(
                (
                    "response.output_item.added",
                    {"output_index": n, "item": {**item, "arguments": "", "status": "in_progress"}},
                )
            )
            events.append(("response.function_call_arguments.delta", {**ref, "delta": item["arguments"]}))
            events.append(
                (
                    "response.function_call_arguments.done",
                    {**ref, "name": item["name"], "arguments": item["arguments"]},
                )
            )
        events.append(("response.output_item.done", {"output_index": n, "item": item}))
    events.append(("response.incomplete" if resp["status"] == "incomplete" else "response.completed",
                   {"response": resp}))
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
