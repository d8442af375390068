"""Request family: requests that share a system prompt, tool set and response_format are compared together,
because the noise floor differs wildly between, say, a JSON classifier and an open-ended writer."""

from __future__ import annotations

import hashlib
import json


def _system_text(messages: list) -> str:
    parts = []
    for m in messages or []:
        if isinstance(m, dict) and m.get("role") in ("system", "developer"):
            c = m.get("content")
            parts.append(c if isinstance(c, str) else json.dumps(c, sort_keys=True))
    return "\n".join(parts)


def request_family(body: dict) -> str:
    tools = body.get("tools") or body.get("functions") or []
    names = sorted(
        (t.get("function", t).get("name", "") if isinstance(t, dict) else str(t)) for t in tools
    )
    key = json.dumps(
        {
            "system": _system_text(body.get("messages") or []) or body.get("instructions") or "",
            "tools": names,
            "tool_schemas": tools,
            "response_format": body.get("response_format") or body.get("text") or None,
        },
        sort_keys=True,
        default=str,
    )
    return "f_" + hashlib.sha256(key.encode()).hexdigest()[:12]


def system_text(body: dict) -> str:
    """The text a family is recognised by: the system/developer messages, or the Responses API's instructions."""
    if not isinstance(body, dict):
        return ""
    return _system_text(body.get("messages") or []) or str(body.get("instructions") or "")


def prompt_label(text: str, words: int = 6, max_chars: int = 48) -> str:
    """The first words of a system prompt, as a reader recognises it: 'You are a travel assistant.'"""
    out = " ".join(text.split()[:words])
    if len(out) > max_chars:
        out = out[: max_chars - 1].rstrip() + "…"
    elif len(text.split()) > words:
        out += " …"
    return out


def family_name(route: str | None, model: str | None, label: str | None) -> str:
    """`chat/completions · gpt-4o · “You are a travel assistant.”`; the hash is shown beside it, never instead."""
    parts = [(route or "?").removeprefix("/v1/").strip("/") or "?", model or "?"]
    if label:
        parts.append(f"“{label}”")
    return " · ".join(parts)
