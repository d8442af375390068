"""Responses API ↔ Chat Completions, as plain dict translation (the adapter and the shadow proxy share it).

Apps written against `client.responses.*` keep working on backends that only serve Chat Completions (or whose
Responses endpoint the profile does not trust, `responses = "chat"` in rules/backends/): the request becomes a
chat body, the chat answer (or chat stream) becomes a Response object (or Responses SSE events). Built-in tools
(web_search, file_search, code_interpreter, computer use, ...) have no chat equivalent: `BuiltinToolError`.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from offramp.adapters.profiles import BUILTIN_TOOL_TYPES

# Responses tool types that run on OpenAI's side; a backend serves only those its profile lists.
BUILTIN_TOOLS = BUILTIN_TOOL_TYPES
# Request fields with no chat meaning that Offramp consumes itself or drops with a record.
_CONSUMED = {"input", "instructions", "previous_response_id", "store", "text", "reasoning", "tools", "tool_choice",
             "max_output_tokens", "include", "stream", "model", "truncation", "max_tool_calls", "stream_options",
             "context_management", "prompt_cache_retention", "top_logprobs"}
_PASSED = {"temperature", "top_p", "user", "safety_identifier", "prompt_cache_key", "metadata", "service_tier",
           "parallel_tool_calls"}
_UNSUPPORTED = {"background": "background mode needs a server that keeps running responses",
                "conversation": "Conversations objects live at OpenAI; chain turns with previous_response_id",
                "prompt": "stored prompt templates live at OpenAI"}


class ResponsesError(ValueError):
    """A Responses request that cannot be expressed for the backend; `param` names the field (400)."""

    def __init__(self, message: str, param: str | None = None, code: str = "offramp_untranslatable") -> None:
        super().__init__(message)
        self.param, self.code = param, code


class BuiltinToolError(ResponsesError):
    def __init__(self, tool: str, backend: str) -> None:
        super().__init__(f"built-in tool {tool!r} is not available on backend {backend}: it runs on OpenAI's "
                         "side and has no equivalent there; route this call to openai ([routes.capabilities] "
                         "responses = \"openai\") or implement it as a function tool", "tools",
                         "unsupported_builtin_tool")
        self.tool = tool


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"


def builtin_tools(body: dict) -> list[str]:
    """Built-in tool types the request names (tools and a built-in tool_choice), in order."""
    out = [t.get("type") for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") in BUILTIN_TOOLS]
    tc = body.get("tool_choice")
    if isinstance(tc, dict) and tc.get("type") in BUILTIN_TOOLS and tc["type"] not in out:
        out.append(tc["type"])
    return [str(t) for t in out]


def check_builtin_tools(body: dict, served: list[str], backend: str) -> None:
    for tool in builtin_tools(body):
        if tool not in served:
            raise BuiltinToolError(tool, backend)


def input_items(value: Any) -> list[dict]:
    """`input` as a list of items (a string is one user message)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
        raise ResponsesError("input: must be a string or a list of input items (objects)", "input")
    return list(value)


def output_as_input(output: list[dict]) -> list[dict]:
    """A response's output items as next-turn input (status fields dropped; OpenAI accepts the rest as is)."""
    return [{k: v for k, v in item.items() if k != "status"} for item in output if isinstance(item, dict)]


# ---------------------------------------------------------------------------------------------- request
def _part_to_chat(part: Any, where: str) -> dict:
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if not isinstance(part, dict):
        raise ResponsesError(f"{where}: content parts must be objects", where)
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
        return {"type": "text", "text": part.get("text") or ""}
    if kind == "refusal":
        return {"type": "text", "text": part.get("refusal") or ""}
    if kind == "input_image":
        if part.get("image_url"):
            img: dict = {"url": part["image_url"]}
            if part.get("detail") and part["detail"] != "auto":
                img["detail"] = part["detail"]
            return {"type": "image_url", "image_url": img}
        if part.get("file_id"):
            return {"type": "file", "file": {"file_id": part["file_id"]}}
        raise ResponsesError(f"{where}: input_image needs image_url or file_id", where)
    if kind == "input_file":
        f = {k: part[k] for k in ("file_id", "file_data", "filename") if part.get(k)}
        if part.get("file_url") and not f:
            raise ResponsesError(f"{where}: input_file by file_url has no Chat Completions equivalent; send "
                                 "file_data or a file_id", where)
        return {"type": "file", "file": f}
    if kind == "input_audio":
        return {"type": "input_audio", "input_audio": part.get("input_audio") or {}}
    raise ResponsesError(f"{where}: content part type {kind!r} has no Chat Completions equivalent", where)


def _text_only(parts: list[dict]) -> str:
    return "".join(p.get("text", "") for p in parts if p.get("type") == "text")


def _output_text(output: Any) -> Any:
    if isinstance(output, str) or output is None:
        return output or ""
    if isinstance(output, list):
        parts = [_part_to_chat(p, "input.output") for p in output]
        return _text_only(parts) if all(p["type"] == "text" for p in parts) else parts
    return json.dumps(output)


def items_to_messages(items: list[dict], instructions: str | None = None) -> list[dict]:
    """Responses input items → chat messages. A reasoning item rides on the next assistant turn as
    reasoning_content (the chat translation then re-sends or strips it per the backend's profile); consecutive
    function_call items (and the assistant text before them) make one assistant turn with tool_calls."""
    msgs: list[dict] = []
    if instructions:
        msgs.append({"role": "system", "content": instructions})
    reasoning: str | None = None
    turn: dict | None = None  # the assistant turn that function_call items still join

    def assistant() -> dict:
        nonlocal reasoning, turn
        if turn is None:
            turn = {"role": "assistant", "content": None}
            if reasoning is not None:
                turn["reasoning_content"] = reasoning
                reasoning = None
            msgs.append(turn)
        return turn

    for i, item in enumerate(items):
        where = f"input[{i}]"
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise ResponsesError(f"{where}.role: {role!r} is not user, assistant, system or developer", where)
            content = item.get("content")
            if isinstance(content, list):
                parts = [_part_to_chat(p, f"{where}.content[{j}]") for j, p in enumerate(content)]
                text_only = all(p["type"] == "text" for p in parts)
                content_out: Any = _text_only(parts) if text_only or role != "user" else parts
            else:
                content_out = content if isinstance(content, str) else ""
            if role == "assistant":
                if turn is not None and turn.get("tool_calls"):  # text after calls starts a new turn
                    turn = None
                m = assistant()
                m["content"] = m["content"] + content_out if m["content"] else content_out
            else:
                turn = None
                msgs.append({"role": role, "content": content_out})
        elif kind == "function_call":
            assistant().setdefault("tool_calls", []).append({
                "id": item.get("call_id") or item.get("id"), "type": "function",
                "function": {"name": item.get("name"), "arguments": item.get("arguments") or "{}"}})
        elif kind == "function_call_output":
            turn = None
            msgs.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": _output_text(item.get("output"))})
        elif kind == "reasoning":
            turn = None
            texts = [c.get("text", "") for c in item.get("content") or [] if isinstance(c, dict)]
            if not texts:
                texts = [s.get("text", "") for s in item.get("summary") or [] if isinstance(s, dict)]
            reasoning = (reasoning or "") + "".join(texts)
        elif kind == "item_reference":
            raise ResponsesError(f"{where}: item_reference needs OpenAI's stored items; send the item itself or "
                                 "chain with previous_response_id", where)
        else:
            raise ResponsesError(f"{where}: input item type {kind!r} (a built-in tool's item) has no Chat "
                                 "Completions equivalent", where)
    return msgs


def _tool_to_chat(tool: dict, where: str) -> dict:
    if tool.get("type") != "function":
        raise ResponsesError(f"{where}: tool type {tool.get('type')!r} has no Chat Completions equivalent", where)
    fn = {k: tool[k] for k in ("name", "description", "parameters", "strict") if tool.get(k) is not None}
    return {"type": "function", "function": fn}


def _tool_choice_to_chat(tc: Any) -> Any:
    if tc is None or isinstance(tc, str):
        return tc
    if isinstance(tc, dict):
        if tc.get("type") == "function":
            return {"type": "function", "function": {"name": tc.get("name")}}
        if tc.get("type") == "allowed_tools":
            return "required" if tc.get("mode") == "required" else "auto"
    raise ResponsesError(f"tool_choice: {json.dumps(tc)} has no Chat Completions equivalent", "tool_choice")


def text_format_to_response_format(fmt: Any) -> dict | None:
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return None
    if fmt["type"] == "json_object":
        return {"type": "json_object"}
    if fmt["type"] == "json_schema":
        js = {k: fmt[k] for k in ("name", "description", "schema", "strict") if fmt.get(k) is not None}
        return {"type": "json_schema", "json_schema": js}
    raise ResponsesError(f"text.format: type {fmt['type']!r} has no Chat Completions equivalent", "text.format")


def check_unsupported(body: dict, backend: str) -> None:
    for key, why in _UNSUPPORTED.items():
        if body.get(key):
            raise ResponsesError(f"{key}: not available on backend {backend} ({why})", key)


def to_chat(body: dict, history: list[dict] | None = None) -> tuple[dict, list[str]]:
    """A Responses request (previous turns already expanded into `history`) → (chat body, notes on what was
    dropped). Raises ResponsesError for what has no chat form."""
    notes: list[str] = []
    items = [*(history or []), *input_items(body.get("input"))]
    chat: dict = {"model": body.get("model"), "messages": items_to_messages(items, body.get("instructions"))}
    for key in _PASSED:
        if body.get(key) is not None:
            chat[key] = body[key]
    if body.get("max_output_tokens") is not None:
        chat["max_completion_tokens"] = body["max_output_tokens"]
    tools = body.get("tools")
    if tools:
        chat["tools"] = [_tool_to_chat(t, f"tools[{i}]") for i, t in enumerate(tools) if isinstance(t, dict)]
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = _tool_choice_to_chat(body["tool_choice"])
    rf = text_format_to_response_format((body.get("text") or {}).get("format"))
    if rf is not None:
        chat["response_format"] = rf
    verbosity = (body.get("text") or {}).get("verbosity")
    if verbosity:
        chat["verbosity"] = verbosity
    effort = (body.get("reasoning") or {}).get("effort")
    if effort is not None:
        chat["reasoning_effort"] = effort
    if body.get("stream"):
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}  # response.completed carries usage
    for key in ("truncation", "max_tool_calls", "include", "top_logprobs"):
        if body.get(key) not in (None, "disabled", []):
            notes.append(f"{key}: no Chat Completions equivalent, not sent")
    return chat, notes


# ---------------------------------------------------------------------------------------------- response
def usage_from_chat(u: dict | None) -> dict | None:
    if not isinstance(u, dict):
        return None
    prompt, out = int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0)
    cached = int((u.get("prompt_tokens_details") or {}).get("cached_tokens") or u.get("prompt_cache_hit_tokens") or 0)
    reasoning = int((u.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
    return {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
            "output_tokens": out, "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": int(u.get("total_tokens") or prompt + out)}


def usage_to_chat(u: dict | None) -> dict | None:
    """Responses usage → chat-shaped usage (for costs and comparators that read prompt/completion tokens)."""
    if not isinstance(u, dict):
        return None
    return {"prompt_tokens": int(u.get("input_tokens") or 0), "completion_tokens": int(u.get("output_tokens") or 0),
            "total_tokens": int(u.get("total_tokens") or 0),
            "prompt_tokens_details": {"cached_tokens": int((u.get("input_tokens_details") or {}).get("cached_tokens")
                                                           or 0)},
            "completion_tokens_details": {"reasoning_tokens": int((u.get("output_tokens_details") or {})
                                                                  .get("reasoning_tokens") or 0)}}


def _status(finish: str | None) -> tuple[str, dict | None]:
    if finish == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def reasoning_item(text: str, rid: str | None = None, status: str = "completed") -> dict:
    return {"type": "reasoning", "id": rid or new_id("rs"), "summary": [],
            "content": [{"type": "reasoning_text", "text": text}], "status": status}


def message_item(text: str | None, refusal: str | None = None, mid: str | None = None,
                 status: str = "completed") -> dict:
    content: list[dict] = []
    if text:
        content.append({"type": "output_text", "text": text, "annotations": [], "logprobs": []})
    if refusal:
        content.append({"type": "refusal", "refusal": refusal})
    return {"type": "message", "id": mid or new_id("msg"), "status": status, "role": "assistant", "content": content}


def function_call_item(call: dict, status: str = "completed") -> dict:
    fn = call.get("function") or {}
    return {"type": "function_call", "id": new_id("fc"), "call_id": call.get("id") or new_id("call"),
            "name": fn.get("name"), "arguments": fn.get("arguments") or "", "status": status}


def envelope(req: dict, rid: str, model: str | None, output: list[dict], usage: dict | None,
             status: str = "completed", incomplete: dict | None = None, created: int | None = None) -> dict:
    """A Response object echoing the request's settings, as OpenAI returns it."""
    text = dict(req.get("text") or {})
    text.setdefault("format", {"type": "text"})
    reasoning = req.get("reasoning") or {}
    return {
        "id": rid, "object": "response", "created_at": created or int(time.time()), "status": status,
        "background": False, "error": None, "incomplete_details": incomplete,
        "instructions": req.get("instructions"), "max_output_tokens": req.get("max_output_tokens"),
        "model": model or req.get("model"), "output": output,
        "parallel_tool_calls": req.get("parallel_tool_calls", True),
        "previous_response_id": req.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": req.get("store", True) is not False, "temperature": req.get("temperature", 1.0), "text": text,
        "tool_choice": req.get("tool_choice", "auto"), "tools": req.get("tools") or [],
        "top_p": req.get("top_p", 1.0), "truncation": req.get("truncation") or "disabled", "usage": usage,
        "user": req.get("user"), "metadata": req.get("metadata") or {},
    }


def from_chat(chat: dict, req: dict, rid: str | None = None) -> dict:
    """A (normalised) chat completion → the Response object the app asked for."""
    choice = (chat.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    output: list[dict] = []
    if isinstance(msg.get("reasoning_content"), str) and msg["reasoning_content"]:
        output.append(reasoning_item(msg["reasoning_content"]))
    if msg.get("content") or msg.get("refusal"):
        output.append(message_item(msg.get("content"), msg.get("refusal")))
    for call in msg.get("tool_calls") or []:
        output.append(function_call_item(call))
    if not output:
        output.append(message_item(""))
    status, incomplete = _status(choice.get("finish_reason"))
    return envelope(req, rid or new_id("resp"), chat.get("model"), output, usage_from_chat(chat.get("usage")),
                    status, incomplete, chat.get("created"))


def sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


class ChatStreamToResponses:
    """Chat chunks (already normalised to OpenAI's shape) → Responses stream events, in the order OpenAI sends
    them: created, in_progress, then per output item added → deltas → done, then completed (or incomplete)
    with usage. `response` holds the final Response object once `finish()` ran."""

    def __init__(self, req: dict, rid: str | None = None) -> None:
        self.req, self.rid = req, rid or new_id("resp")
        self.created = int(time.time())
        self.model: str | None = None
        self.seq = 0
        self.output: list[dict] = []
        self.open: dict | None = None  # the item being streamed
        self.calls: dict[int, dict] = {}  # chat tool-call index → function_call item
        self.finish_reason: str | None = None
        self.usage: dict | None = None
        self.started = False
        self.response: dict | None = None

    def _ev(self, event: str, **payload: Any) -> tuple[str, dict]:
        ev = (event, {"type": event, "sequence_number": self.seq, **payload})
        self.seq += 1
        return ev

    def _snapshot(self, status: str, output: list[dict], usage: dict | None = None,
                  incomplete: dict | None = None) -> dict:
        return envelope(self.req, self.rid, self.model, output, usage, status, incomplete, self.created)

    def _start(self) -> list[tuple[str, dict]]:
        if self.started:
            return []
        self.started = True
        snap = self._snapshot("in_progress", [])
        return [self._ev("response.created", response=snap), self._ev("response.in_progress", response=snap)]

    def _add(self, item: dict) -> list[tuple[str, dict]]:
        self.output.append(item)
        self.open = item
        shown = {**item, "status": "in_progress"}
        if item["type"] == "message":
            shown["content"] = []
        elif item["type"] == "reasoning":
            shown["content"] = []
        return [self._ev("response.output_item.added", output_index=len(self.output) - 1, item=shown)]

    def _close(self) -> list[tuple[str, dict]]:
        item, self.open = self.open, None
        if item is None:
            return []
        idx = self.output.index(item)
        evs = []
        if item["type"] == "reasoning":
            evs.append(self._ev("response.reasoning_text.done", item_id=item["id"], output_index=idx,
                                content_index=0, text=item["content"][0]["text"]))
        elif item["type"] == "message":
            part = item["content"][0]
            evs.append(self._ev("response.output_text.done", item_id=item["id"], output_index=idx, content_index=0,
                                text=part["text"], logprobs=[]))
            evs.append(self._ev("response.content_part.done", item_id=item["id"], output_index=idx,
                                content_index=0, part=part))
        else:
            evs.append(self._ev("response.function_call_arguments.done", item_id=item["id"], output_index=idx,
                                name=item["name"], arguments=item["arguments"]))
        item["status"] = "completed"
        evs.append(self._ev("response.output_item.done", output_index=idx, item=item))
        return evs

    def feed(self, chunk: dict) -> list[tuple[str, dict]]:
        evs = self._start()
        self.model = self.model or chunk.get("model")
        if isinstance(chunk.get("usage"), dict):
            self.usage = usage_from_chat(chunk["usage"])
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            r = delta.get("reasoning_content")
            if isinstance(r, str) and r:
                if self.open is None or self.open["type"] != "reasoning":
                    evs += self._close() + self._add(reasoning_item("", status="completed"))
                item = self.open
                item["content"][0]["text"] += r
                evs.append(self._ev("response.reasoning_text.delta", item_id=item["id"],
                                    output_index=len(self.output) - 1, content_index=0, delta=r))
            c = delta.get("content")
            if isinstance(c, str) and c:
                if self.open is None or self.open["type"] != "message":
                    evs += self._close() + self._add(message_item("", status="completed"))
                    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
                    self.open["content"] = [part]
                    evs.append(self._ev("response.content_part.added", item_id=self.open["id"],
                                        output_index=len(self.output) - 1, content_index=0, part=dict(part)))
                item = self.open
                item["content"][0]["text"] += c
                evs.append(self._ev("response.output_text.delta", item_id=item["id"],
                                    output_index=len(self.output) - 1, content_index=0, delta=c, logprobs=[]))
            for tc in delta.get("tool_calls") or []:
                idx = tc.get("index", 0)
                fn = tc.get("function") or {}
                if idx not in self.calls:
                    item = function_call_item({"id": tc.get("id"), "function": {"name": fn.get("name")}})
                    self.calls[idx] = item
                    evs += self._close() + self._add(item)
                item = self.calls[idx]
                if fn.get("name") and not item["name"]:
                    item["name"] = fn["name"]
                args = fn.get("arguments")
                if isinstance(args, str) and args:
                    item["arguments"] += args
                    evs.append(self._ev("response.function_call_arguments.delta", item_id=item["id"],
                                        output_index=self.output.index(item), delta=args))
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return evs

    def finish(self) -> list[tuple[str, dict]]:
        evs = self._start() + self._close()
        if not self.output:
            item = message_item("")
            self.output.append(item)
            evs.append(self._ev("response.output_item.added", output_index=0, item={**item, "status": "in_progress"}))
            evs.append(self._ev("response.output_item.done", output_index=0, item=item))
        status, incomplete = _status(self.finish_reason)
        self.response = self._snapshot(status, self.output, self.usage, incomplete)
        name = "response.completed" if status == "completed" else "response.incomplete"
        return evs + [self._ev(name, response=self.response)]


# ---------------------------------------------------------------------------------------------- native backends
def _effort_for(effort: str, effort_map: dict[str, str]) -> str:
    mapped = effort_map.get(effort, effort)
    return "none" if mapped == "off" else mapped


def native_request(body: dict, profile: Any, history: list[dict] | None = None) -> tuple[dict, list[str]]:
    """A Responses request for a backend that serves `/v1/responses` itself (`responses = "native"`): only what
    differs from OpenAI is changed. Returns (body, notes). `history` replaces `previous_response_id` on a
    stateless backend (Offramp's conversation store holds the earlier items)."""
    out = dict(body)
    notes: list[str] = []
    if history is not None:
        out["input"] = [*history, *input_items(body.get("input"))]
        out.pop("previous_response_id", None)
        notes.append(f"previous_response_id: expanded into {len(history)} earlier item(s) from the local "
                     "conversation store (the backend keeps no state)")
    if not profile.developer_role and isinstance(out.get("input"), list):
        items, n = [], 0
        for item in out["input"]:
            if isinstance(item, dict) and item.get("role") == "developer":
                item, n = {**item, "role": "system"}, n + 1
            items.append(item)
        if n:
            out["input"] = items
            notes.append(f"input: {n} developer message(s) sent as system (the backend would treat them as user)")
    for i, tool in enumerate(out.get("tools") or []):
        kind = tool.get("type", "function") if isinstance(tool, dict) else None
        if kind not in profile.tool_types and kind not in profile.builtin_tools:
            raise ResponsesError(f"tools[{i}]: tool type {tool.get('type')!r} is not supported by "
                                 f"{profile.kind}/{profile.family} (only {'/'.join(profile.tool_types)})", "tools")
    reasoning = dict(out.get("reasoning") or {})
    effort = reasoning.get("effort")
    thinking = profile.thinking_default
    if effort is not None and profile.effort_map:
        mapped = _effort_for(str(effort), profile.effort_map)
        if mapped != effort:
            reasoning["effort"] = mapped
            notes.append(f"reasoning.effort: {effort} → {mapped}")
        thinking = mapped != "none"
    elif effort is None and profile.thinking_default and profile.thinking_control != "none":
        reasoning["effort"] = "none"
        thinking = False
        notes.append("reasoning.effort: none (the app did not ask for reasoning; the backend's default is on)")
    tc = out.get("tool_choice")
    forced = tc == "required" or (isinstance(tc, dict) and tc.get("type") == "function")
    if thinking and forced and not profile.tool_choice_forced_in_thinking:
        reasoning["effort"] = "none"
        notes.append("reasoning.effort: none for this call (a forced tool_choice is rejected in thinking mode)")
    if reasoning:
        out["reasoning"] = reasoning
    limit = profile.max_output_tokens
    if limit and isinstance(out.get("max_output_tokens"), int) and out["max_output_tokens"] > limit:
        notes.append(f"max_output_tokens: clamped {out['max_output_tokens']} → {limit} (model maximum)")
        out["max_output_tokens"] = limit
    return out, notes
