"""Sticky assignment: a request's conversation key hashes to a bucket in [0, 100); bucket < share → candidate.

Raising the share only adds buckets, so nobody already on the candidate moves back, and a conversation keeps its
model for its whole life (its key — the user, a session header or its opening messages — does not change as it
grows). A separate hash decides which candidate-served requests are still shadowed to the primary, so the
sample is stable too and independent of the assignment.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from offramp.shadow.ramp.plan import AssignConfig


@dataclass(frozen=True)
class Assignment:
    key_kind: str  # which configured key decided (user, header:x-session-id, messages, none)
    bucket: float  # 0 <= bucket < 100
    candidate: bool
    shadow_primary: bool  # candidate-served and sampled for a primary comparison


def _h(salt: str, *parts: str) -> float:
    digest = hashlib.blake2b("\x1f".join((salt, *parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * 100.0


def _opening(body: Mapping, n: int) -> str | None:
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        inp = body.get("input")  # Responses API
        if isinstance(inp, str):
            return inp
        msgs = inp if isinstance(inp, list) else None
    if not msgs:
        return None
    # The first n messages, plus the first user message wherever it is (system prompts alone are shared).
    head = list(msgs[:n])
    first_user = next((m for m in msgs if isinstance(m, dict) and m.get("role") == "user"), None)
    if first_user is not None and first_user not in head:
        head.append(first_user)
    return json.dumps(head, sort_keys=True, default=str, ensure_ascii=False)


class Assigner:
    def __init__(self, cfg: AssignConfig | None = None) -> None:
        self.cfg = cfg or AssignConfig()

    def key(self, body: Mapping | None, headers: Mapping[str, str]) -> tuple[str, str] | None:
        """(kind, value) of the first configured key present in the request."""
        body = body or {}
        lower = {k.lower(): v for k, v in headers.items()}
        for kind in self.cfg.keys:
            value: object = None
            if kind == "user":
                value = body.get("user") or body.get("safety_identifier")
            elif kind.startswith("header:"):
                value = lower.get(kind[7:])
            elif kind.startswith("metadata:"):
                meta = body.get("metadata")
                value = meta.get(kind[9:]) if isinstance(meta, Mapping) else None
            elif kind == "messages":
                value = _opening(body, self.cfg.opening_messages)
            if value:
                return kind, str(value)
        return None

    def assign(self, body: Mapping | None, headers: Mapping[str, str], share: float,
               shadow_share: float = 0.0, request_id: str = "") -> Assignment:
        """`share` in percent; `shadow_share` in 0..1. A request with no key at all stays on the primary unless
        the share is 100: without a key there is no way to keep it sticky."""
        k = self.key(body, headers)
        if k is None:
            on = share >= 100
            return Assignment("none", 100.0, on, on and _h(self.cfg.salt, "shadow", request_id) < shadow_share * 100)
        kind, value = k
        bucket = _h(self.cfg.salt, kind, value)
        on = bucket < share
        shadow = on and _h(self.cfg.salt, "shadow", kind, value, request_id) < shadow_share * 100
        return Assignment(kind, bucket, on, shadow)
