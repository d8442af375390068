"""Record what a real OpenAI-compatible server answers to a fixed set of requests, as wire shapes.

    python -m tests.selfhosted.capture http://127.0.0.1:PORT/v1 --model tiny --out tests/fixtures/llamacpp

writes one JSON file per case: status, content type, and the JSON body (or, for a stream, every SSE line as
received, `[DONE]` included). The slow test re-captures the live server and holds it to these files, and the
fake upstream's `llamacpp` flavor is held to them offline (tests/fake_upstream/test_fixtures.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import httpx

USER = [{"role": "user", "content": "Hello"}]
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 8}},
            "required": ["city"],
        },
    },
}
NAMED = {"type": "function", "function": {"name": "get_weather"}}


def cases(model: str, n_ctx: int) -> dict[str, tuple[str, str, Any]]:
    """name -> (method, path, body). Short max_tokens everywhere: a random model rarely says its end token."""
    chat = {"model": model, "messages": USER, "max_tokens": 8, "seed": 1}
    return {
        "chat_completion": ("post", "/chat/completions", chat),
        "chat_length": ("post", "/chat/completions", {**chat, "max_tokens": 2}),
        "chat_stream": ("post", "/chat/completions", {**chat, "stream": True}),
        "chat_stream_usage": (
            "post", "/chat/completions", {**chat, "stream": True, "stream_options": {"include_usage": True}}
        ),
        "chat_tool_call": (
            "post", "/chat/completions", {**chat, "max_tokens": 64, "tools": [TOOL], "tool_choice": NAMED}
        ),
        "chat_tool_call_stream": (
            "post", "/chat/completions",
            {**chat, "max_tokens": 64, "tools": [TOOL], "tool_choice": NAMED, "stream": True},
        ),
        "chat_tools_auto": ("post", "/chat/completions", {**chat, "tools": [TOOL], "tool_choice": "auto"}),
        "chat_n2": ("post", "/chat/completions", {**chat, "n": 2}),
        "chat_unknown_model": ("post", "/chat/completions", {**chat, "model": "no-such-model"}),
        "chat_unknown_field": ("post", "/chat/completions", {**chat, "no_such_field": 1}),
        "chat_no_messages": ("post", "/chat/completions", {"model": model, "max_tokens": 8}),
        "error_bad_role": (
            "post", "/chat/completions", {**chat, "messages": [{"role": "developer", "content": "Be brief."}, *USER]}
        ),
        "error_json_schema": (
            "post", "/chat/completions",
            {**chat, "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}},
        ),
        "error_context_length": (
            "post", "/chat/completions",
            {**chat, "messages": [{"role": "user", "content": "word " * (n_ctx * 2)}]},
        ),
        "error_not_json": ("post", "/chat/completions", "{not json"),
        "error_unknown_path": ("post", "/no/such/path", {}),
        "models": ("get", "/models", None),
    }


def record(client: httpx.Client, method: str, path: str, body: Any, api_key: str = "sk-capture") -> dict:
    headers = {"Authorization": f"Bearer {api_key}"}
    if isinstance(body, str):
        req = client.build_request(method, path, content=body, headers={**headers, "Content-Type": "application/json"})
    else:
        req = client.build_request(method, path, json=body, headers=headers)
    try:
        resp = client.send(req, stream=True)
    except httpx.TransportError as exc:  # the server dropped the connection without an answer
        return {"status": None, "transport_error": type(exc).__name__}
    try:
        raw = b"".join(resp.iter_raw()).decode()
    finally:
        resp.close()
    out: dict[str, Any] = {"status": resp.status_code, "content_type": resp.headers.get("content-type", "")}
    if out["content_type"].startswith("text/event-stream"):
        out["sse"] = raw.split("\n")
    else:
        try:
            out["body"] = json.loads(raw)
        except ValueError:
            out["text"] = raw
    return out


def capture(
    base_url: str, model: str, n_ctx: int = 512, timeout: float = 120.0, api_key: str = "sk-capture"
) -> dict[str, dict]:
    out = {}
    for name, case in cases(model, n_ctx).items():
        # a connection of its own per case: after an unhandled error the server drops the connection
        with httpx.Client(base_url=base_url, timeout=timeout) as client:
            out[name] = record(client, *case, api_key=api_key)
    return out


def sse_events(lines: list[str]) -> list[str]:
    """The `data:` payloads of an SSE stream, in order (`[DONE]` included)."""
    return [ln[len("data: "):].rstrip("\r") for ln in lines if ln.startswith("data: ")]


def differences(want: dict, got: dict) -> list[str]:
    """How a capture differs from a recorded one in status, content type and structure (keys and JSON types of
    the body; of the first, second and last chunk of a stream, which must end in `[DONE]`)."""
    from tests.fake_upstream.test_fixtures import shape_diff

    out = []
    if got["status"] != want["status"]:
        out.append(f"status {got['status']}, recorded {want['status']}")
    ctype = got.get("content_type", "").split(";")[0]
    if ctype != want.get("content_type", "").split(";")[0]:
        out.append(f"content type {ctype!r}, recorded {want.get('content_type')!r}")
    if "body" in want:
        out += shape_diff(want["body"], got.get("body"))
    if "text" in want and got.get("text") != want["text"]:
        out.append(f"text {got.get('text')!r}, recorded {want['text']!r}")
    if "sse" in want:
        w, g = sse_events(want["sse"]), sse_events(got.get("sse") or [])
        if not g or g[-1] != "[DONE]":
            out.append("stream does not end in [DONE]")
        else:
            for i in (0, 1, -2):
                out += [f"chunk {i}: {d}" for d in shape_diff(json.loads(w[i]), json.loads(g[i]))]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base_url")
    ap.add_argument("--model", required=True)
    ap.add_argument("--n-ctx", type=int, default=512, help="the server's --n_ctx (to overflow it)")
    ap.add_argument("--server", required=True, help="server name and version, written into each file")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, rec in capture(args.base_url, args.model, args.n_ctx).items():
        rec = {"_server": args.server, **rec}
        (args.out / f"{name}.json").write_text(json.dumps(rec, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(cases(args.model, args.n_ctx))} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
