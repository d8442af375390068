"""The comparator contract: two chat-completion dicts in, one verdict out. Comparators are looked up by the
name given in config, so adding one is a registry entry, not a branch in the proxy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Verdict:
    agree: bool | None  # None: not applicable to this pair (e.g. no text on either side)
    score: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class CompareContext:
    request: dict  # the app's request body (response_format, tools)
    session: Any = None  # aiohttp.ClientSession, for comparators that call a backend
    side: str = "candidate"  # candidate | noise: which pair this is (stateful comparators keep one window each)
    family: str | None = None  # the request family (shadow.family)


class Comparator:
    name: str = ""
    # Comparators that call a model are opt-in and run after the cheap ones.
    is_async: bool = False
    # A multi comparator returns {comparator name: [verdicts]} (several names, several verdicts per pair, e.g.
    # one per embedded input and k) instead of one Verdict.
    multi: bool = False

    def compare(self, a: dict, b: dict, ctx: CompareContext) -> Verdict:
        raise NotImplementedError

    async def acompare(self, a: dict, b: dict, ctx: CompareContext) -> Verdict:
        return self.compare(a, b, ctx)


def choice_messages(resp: dict) -> list[dict]:
    """(message, finish_reason) of each choice, ordered by index, tolerant of partial bodies."""
    out = []
    for ch in sorted(resp.get("choices") or [], key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0):
        if isinstance(ch, dict):
            out.append({"message": ch.get("message") or {}, "finish_reason": ch.get("finish_reason")})
    return out


def content_text(resp: dict) -> str | None:
    msgs = choice_messages(resp)
    if not msgs:
        return None
    c = msgs[0]["message"].get("content")
    if isinstance(c, list):  # content parts
        c = "".join(p.get("text", "") for p in c if isinstance(p, dict))
    return c if isinstance(c, str) and c.strip() else None
