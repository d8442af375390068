"""Rebuild a chat completion from the bytes of its SSE stream, so streamed pairs are compared like non-streamed
ones. Runs off the request path (the proxy forwards bytes untouched)."""

from __future__ import annotations

import json
import re


class StreamError(ValueError):
    """The stream was cut (no [DONE] / finish_reason) or carried malformed JSON."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


_FIRST_TOKEN = re.compile(
    rb'"(?:content|refusal)":\s*"[^"]|"tool_calls":\s*\['
    rb'|"response\.(?:output_text|refusal|function_call_arguments)\.delta"'  # Responses API events
)


def first_token_index(chunks: list[bytes]) -> int | None:
    """Index of the network chunk that carried the first answer token (content, refusal or a tool call; for a
    Responses stream its first text, refusal or argument delta), so TTFT is not fooled by an early role-only
    chunk, `response.created` or keep-alive comments."""
    for i, c in enumerate(chunks):
        if _FIRST_TOKEN.search(c):
            return i
    return None


def iter_events(raw: bytes):
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        data = [ln[5:].strip() for ln in block.split(b"\n") if ln.startswith(b"data:")]
        if data:
            yield b"\n".join(data)


def _event_texts(text: str) -> list[str]:
    """The data of each event (str), like `iter_events`; a one-line `data:` block (nearly all of them) is
    taken without splitting it into lines."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    out = []
    for block in text.split("\n\n"):
        if block.startswith("data:") and "\n" not in block:
            out.append(block[5:].strip())
            continue
        data = [ln[5:].strip() for ln in block.split("\n") if ln.startswith("data:")]
        if data:
            out.append("\n".join(data))
    return out


_raw_decode = json.JSONDecoder().raw_decode


def _loads(data: str):
    """json.loads of one event's data without its per-call wrappers (the event is already a stripped str)."""
    obj, end = _raw_decode(data)
    if end != len(data):
        raise ValueError("extra data")
    return obj


_META = ("id", "model", "created", "system_fingerprint")
_TEXT_KEYS = ("content", "refusal", "reasoning_content")


def assemble_chat(raw: bytes) -> dict:
    """Merge `chat.completion.chunk` events into one `chat.completion` dict.

    Text and tool-call arguments are gathered as lists and joined once at the end: appending to a growing
    string stored in a dict copies it every time (quadratic in a long answer)."""
    try:
        events: list = _event_texts(raw.decode("utf-8"))
        loads = _loads
    except UnicodeDecodeError:  # an invalid byte somewhere (maybe a comment): event by event, as bytes
        events, loads = list(iter_events(raw)), json.loads
    out: dict = {"object": "chat.completion", "choices": []}
    choices: dict[int, dict] = {}
    parts: dict[tuple, list] = {}  # (choice index, key) or (choice index, call index, field) -> pieces
    done = False
    finished = False
    for data in events:
        if data == "[DONE]" or data == b"[DONE]":
            done = True
            break
        try:
            chunk = loads(data)
        except ValueError:
            raise StreamError("malformed_json", "a stream event is not JSON") from None
        if not isinstance(chunk, dict):
            raise StreamError("malformed_json", "a stream event is not an object")
        get = chunk.get
        if "error" in chunk and not get("choices"):
            raise StreamError("stream_error", str(get("error"))[:200])
        for k in _META:
            v = get(k)
            if v is not None:
                out[k] = v
        if get("usage"):
            out["usage"] = chunk["usage"]
        for ch in get("choices") or []:
            idx = ch.get("index", 0)
            cur = choices.get(idx)
            if cur is None:
                cur = choices[idx] = {
                    "index": idx, "message": {"role": "assistant", "content": None}, "finish_reason": None
                }
            msg = cur["message"]
            delta = ch.get("delta") or {}
            for key in _TEXT_KEYS:
                v = delta.get(key)
                if v:
                    pieces = parts.get((idx, key))
                    if pieces is None:
                        pieces = parts[(idx, key)] = []
                        msg[key] = None  # the key's place in the message; filled below
                    pieces.append(v)
            for tc in delta.get("tool_calls") or []:
                calls = msg.setdefault("tool_calls", [])
                ti = tc.get("index", len(calls))
                while len(calls) <= ti:
                    calls.append({"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
                slot = calls[ti]
                # llama-cpp-python repeats the call's id and name in every delta: a repeated head is not a piece
                repeat = bool(tc.get("id")) and slot["id"] == tc["id"]
                if tc.get("id"):
                    slot["id"] = tc["id"]
                fn = tc.get("function") or {}
                for field in ("name", "arguments"):
                    v = fn.get(field)
                    if v and not (field == "name" and repeat):
                        parts.setdefault((idx, ti, field), []).append(v)
            if ch.get("finish_reason"):
                cur["finish_reason"] = ch["finish_reason"]
                finished = True
    if not done and not finished:
        raise StreamError("stream_cut", "the stream ended before [DONE] or a finish_reason")
    if choices and not finished:  # llama-cpp-python ends a stream it interrupts with [DONE] and no finish_reason
        raise StreamError("stream_cut", "the stream ended with [DONE] but no finish_reason")
    for key, pieces in parts.items():
        msg = choices[key[0]]["message"]
        if len(key) == 2:
            msg[key[1]] = "".join(pieces)
        else:
            msg["tool_calls"][key[1]]["function"][key[2]] = "".join(pieces)
    out["choices"] = [choices[i] for i in sorted(choices)]
    return out
