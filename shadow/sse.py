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


_FIRST_TOKEN = re.compile(rb'"(?:content|refusal)":\s*"[^"]|"tool_calls":\s*\[')


def first_token_index(chunks: list[bytes]) -> int | None:
    """Index of the network chunk that carried the first answer token (content, refusal or a tool call), so
    TTFT is not fooled by an early role-only chunk or keep-alive comments."""
    for i, c in enumerate(chunks):
        if _FIRST_TOKEN.search(c):
            return i
    return None


def iter_events(raw: bytes):
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        data = [ln[5:].strip() for ln in block.split(b"\n") if ln.startswith(b"data:")]
        if data:
            yield b"\n".join(data)


def assemble_chat(raw: bytes) -> dict:
    """Merge `chat.completion.chunk` events into one `chat.completion` dict."""
    out: dict = {"object": "chat.completion", "choices": []}
    choices: dict[int, dict] = {}
    done = False
    finished = False
    for data in iter_events(raw):
        if data == b"[DONE]":
            done = True
            break
        try:
            chunk = json.loads(data)
        except ValueError:
            raise StreamError("malformed_json", "a stream event is not JSON") from None
        if not isinstance(chunk, dict):
            raise StreamError("malformed_json", "a stream event is not an object")
        if "error" in chunk and not chunk.get("choices"):
            raise StreamError("stream_error", str(chunk.get("error"))[:200])
        for k in ("id", "model", "created", "system_fingerprint"):
            if chunk.get(k) is not None:
                out[k] = chunk[k]
        if chunk.get("usage"):
            out["usage"] = chunk["usage"]
        for ch in chunk.get("choices") or []:
            idx = ch.get("index", 0)
            cur = choices.setdefault(
                idx, {"index": idx, "message": {"role": "assistant", "content": None}, "finish_reason": None}
            )
            msg = cur["message"]
            delta = ch.get("delta") or {}
            for key in ("content", "refusal", "reasoning_content"):
                if delta.get(key):
                    msg[key] = (msg.get(key) or "") + delta[key]
            for tc in delta.get("tool_calls") or []:
                calls = msg.setdefault("tool_calls", [])
                ti = tc.get("index", len(calls))
                while len(calls) <= ti:
                    calls.append({"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
                slot = calls[ti]
                if tc.get("id"):
                    slot["id"] = tc["id"]
                fn = tc.get("function") or {}
                if fn.get("name"):
                    slot["function"]["name"] += fn["name"]
                if fn.get("arguments"):
                    slot["function"]["arguments"] += fn["arguments"]
            if ch.get("finish_reason"):
                cur["finish_reason"] = ch["finish_reason"]
                finished = True
    if not done and not finished:
        raise StreamError("stream_cut", "the stream ended before [DONE] or a finish_reason")
    out["choices"] = [choices[i] for i in sorted(choices)]
    return out
