"""Responses API bodies in the chat-completion shape the comparators read, so a Responses pair is judged by the
same structural and text comparators as a chat pair: answer text, refusal, tool calls (name + parsed arguments),
the JSON body under `text.format`, and a finish reason.

Both directions a mirror needs: a Responses object (or the `response.completed` event of its SSE stream) as a
`chat.completion`, and a Responses request as a chat request — for the comparators' context (JSON mode, tools,
the last user turn) and for a candidate that only serves chat completions.
"""

from __future__ import annotations

import json

from offramp.shadow.sse import StreamError, iter_events

_TERMINAL = ("response.completed", "response.incomplete")


class NotChatExpressible(ValueError):
    """A Responses request a chat-completions backend cannot take (built-in tools, item references)."""

    public = True  # the message names an item or tool type, never request content: safe to store


def assemble_responses(raw: bytes) -> dict:
    """The final Responses object of an SSE stream: the `response` of its `response.completed` (or
    `response.incomplete`) event. A `response.failed`/`error` event or a stream without a terminal event is a
    StreamError, like a chat stream cut before its finish_reason."""
    final = None
    for data in iter_events(raw):
        try:
            ev = json.loads(data)
        except ValueError:
            raise StreamError("malformed_json", "a stream event is not JSON") from None
        if not isinstance(ev, dict):
            raise StreamError("malformed_json", "a stream event is not an object")
        kind = ev.get("type")
        if kind in _TERMINAL and isinstance(ev.get("response"), dict):
            final = ev["response"]
        elif kind == "response.failed":
            err = (ev.get("response") or {}).get("error") if isinstance(ev.get("response"), dict) else None
            raise StreamError("stream_error", str(err or "response.failed")[:200])
        elif kind == "error":
            raise StreamError("stream_error", str(ev.get("message") or ev.get("error") or ev)[:200])
    if final is None:
        raise StreamError("stream_cut", "the stream ended before response.completed")
    return final


def _text_parts(content) -> tuple[str, str]:
    if isinstance(content, str):
        return content, ""
    text, refusal = [], []
    for p in content or []:
        if not isinstance(p, dict):
            continue
        if p.get("type") in ("output_text", "text", "input_text"):
            text.append(p.get("text") or "")
        elif p.get("type") == "refusal":
            refusal.append(p.get("refusal") or "")
    return "".join(text), "".join(refusal)


def usage_as_chat(usage) -> dict | None:
    if not isinstance(usage, dict):
        return None
    if "prompt_tokens" in usage:
        return usage
    out = {"prompt_tokens": usage.get("input_tokens") or 0, "completion_tokens": usage.get("output_tokens") or 0,
           "total_tokens": usage.get("total_tokens") or 0}
    if isinstance(usage.get("input_tokens_details"), dict):
        out["prompt_tokens_details"] = usage["input_tokens_details"]
    if isinstance(usage.get("output_tokens_details"), dict):
        out["completion_tokens_details"] = usage["output_tokens_details"]
    return out


def to_chat(resp: dict) -> dict:
    """A Responses object as a one-choice `chat.completion`. Built-in tool calls (web_search_call, ...) become
    tool calls named by their type, so a candidate that answers them differently shows in the structural diff."""
    if not isinstance(resp, dict) or resp.get("object") == "chat.completion" or "choices" in resp:
        return resp  # already chat-shaped (a chat-only candidate's answer)
    texts, refusals, calls, reasoning = [], [], [], []
    for item in resp.get("output") or []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            t, r = _text_parts(item.get("content"))
            texts.append(t)
            refusals.append(r)
        elif kind == "function_call":
            calls.append({"id": item.get("call_id") or item.get("id"), "type": "function",
                          "function": {"name": item.get("name"), "arguments": item.get("arguments")}})
        elif kind == "reasoning":
            reasoning += [s.get("text", "") for s in item.get("summary") or [] if isinstance(s, dict)]
        elif isinstance(kind, str) and kind.endswith("_call"):
            args = {k: v for k, v in item.items() if k in ("action", "queries", "code", "arguments", "input")}
            calls.append({"id": item.get("id"), "type": "function",
                          "function": {"name": kind, "arguments": json.dumps(args, sort_keys=True, default=str)}})
    text, refusal = "".join(texts), "".join(refusals)
    msg: dict = {"role": "assistant", "content": text or None}
    if refusal:
        msg["refusal"] = refusal
    if calls:
        msg["tool_calls"] = calls
    if reasoning:
        msg["reasoning_content"] = "\n".join(reasoning)
    reason = (resp.get("incomplete_details") or {}).get("reason") if resp.get("status") == "incomplete" else None
    finish = {"max_output_tokens": "length", "content_filter": "content_filter"}.get(reason or "", None)
    if finish is None:
        finish = "length" if reason else ("tool_calls" if calls else "stop")
    out = {"id": resp.get("id"), "object": "chat.completion", "model": resp.get("model"),
           "choices": [{"index": 0, "message": msg, "finish_reason": finish}]}
    usage = usage_as_chat(resp.get("usage"))
    if usage is not None:
        out["usage"] = usage
    return out


def _content_as_chat(content, role: str):
    if isinstance(content, str) or content is None:
        return content or ""
    parts = []
    for p in content:
        if not isinstance(p, dict):
            continue
        kind = p.get("type")
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": p.get("text") or ""})
        elif kind == "input_image":
            url = p.get("image_url") or (f"file:{p['file_id']}" if p.get("file_id") else "")
            parts.append({"type": "image_url", "image_url": {"url": url, "detail": p.get("detail", "auto")}})
        elif kind == "refusal":
            parts.append({"type": "text", "text": p.get("refusal") or ""})
        else:
            raise NotChatExpressible(f"input content part {kind!r} has no chat-completions form")
    if role != "user" and all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)  # system/assistant turns: plain text is the portable form
    return parts


def _messages(body: dict, strict: bool) -> list[dict]:
    msgs: list[dict] = []
    if isinstance(body.get("instructions"), str) and body["instructions"]:
        msgs.append({"role": "system", "content": body["instructions"]})
    inp = body.get("input")
    if isinstance(inp, str):
        msgs.append({"role": "user", "content": inp})
        return msgs
    for item in inp or []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        try:
            if kind == "message":
                role = item.get("role", "user")
                msgs.append({"role": role, "content": _content_as_chat(item.get("content"), role)})
            elif kind == "function_call":
                call = {"id": item.get("call_id"), "type": "function",
                        "function": {"name": item.get("name"), "arguments": item.get("arguments") or "{}"}}
                last = msgs[-1] if msgs else None
                if last is not None and last["role"] == "assistant" and last.get("tool_calls") is not None:
                    last["tool_calls"].append(call)
                else:
                    msgs.append({"role": "assistant", "content": None, "tool_calls": [call]})
            elif kind == "function_call_output":
                out = item.get("output")
                msgs.append({"role": "tool", "tool_call_id": item.get("call_id"),
                             "content": out if isinstance(out, str) else json.dumps(out)})
            elif kind == "reasoning":
                continue  # the candidate reasons on its own
            else:
                raise NotChatExpressible(f"input item {kind!r} has no chat-completions form")
        except NotChatExpressible:
            if strict:
                raise
    return msgs


def json_format(body: dict) -> dict | None:
    """`text.format` as a chat `response_format` (None for plain text)."""
    fmt = (body.get("text") or {}).get("format") if isinstance(body.get("text"), dict) else None
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        js = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": js}
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    return None


def request_to_chat(body: dict, *, strict: bool = True) -> dict:
    """A Responses request as a chat-completions request. `strict`: raise NotChatExpressible for what chat cannot
    carry (built-in tools, item references, unknown content parts) instead of leaving it out — the mirror's
    candidate leg is strict (a silently different request would be compared as if it were the same)."""
    out: dict = {"model": body.get("model"), "messages": _messages(body, strict)}
    tools = []
    for t in body.get("tools") or []:
        if not isinstance(t, dict):
            continue
        if t.get("type") == "function":
            fn = {k: t[k] for k in ("name", "description", "parameters", "strict") if k in t}
            tools.append({"type": "function", "function": fn})
        elif strict:
            raise NotChatExpressible(f"built-in tool {t.get('type')!r} has no chat-completions form")
    if tools:
        out["tools"] = tools
    tc = body.get("tool_choice")
    if isinstance(tc, str):
        out["tool_choice"] = tc
    elif isinstance(tc, dict) and tc.get("type") == "function":
        out["tool_choice"] = {"type": "function", "function": {"name": tc.get("name")}}
    rf = json_format(body)
    if rf is not None:
        out["response_format"] = rf
    for src, dst in (("max_output_tokens", "max_completion_tokens"), ("temperature", "temperature"),
                     ("top_p", "top_p"), ("parallel_tool_calls", "parallel_tool_calls"), ("user", "user"),
                     ("top_logprobs", "top_logprobs")):
        if body.get(src) is not None:
            out[dst] = body[src]
    effort = (body.get("reasoning") or {}).get("effort") if isinstance(body.get("reasoning"), dict) else None
    if effort:
        out["reasoning_effort"] = effort
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out
