"""What of a request/response body reaches the store: `full`, `redacted` (PII masked) or `hash-only`.

Key-shaped secrets are masked in every mode: a prompt that pastes a key must not turn the store into a key dump.

`redacted` walks the JSON and rewrites string values only (and JSON embedded in strings, such as tool-call
arguments): numbers, keys and structure are never touched, so a stored body stays valid JSON and a timestamp
is never taken for a phone number.
"""

from __future__ import annotations

import hashlib
import json
import re

_KEYLIKE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{16,}|\b[Bb]earer\s+[A-Za-z0-9._\-]{12,}")
_BUILTIN = [
    ("EMAIL", re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")),
    # Card numbers before phones: 13-19 digits with optional separators.
    ("CARD", re.compile(r"\b(?:\d[ \-]?){12,18}\d\b")),
    ("PHONE", re.compile(r"(?<![\w])\+?\d{1,3}?[ .\-]?\(?\d{2,4}\)?[ .\-]?\d{3,4}[ .\-]?\d{3,4}\b")),
]


# Every built-in match needs an "@" (email) or a run of 8+ digits joined only by phone/card separators: one
# cheap search decides whether the three built-in patterns need to run on a string at all.
_MAYBE_NUMBER = re.compile(r"\d[\d .\-()]{6,}\d")
_N_BUILTIN = len(_BUILTIN)
# Anything that makes a string need a closer look: a built-in pattern's trigger, or JSON inside it. One search.
_ATTENTION = re.compile(r"[@{\[]|\d[\d .\-()]{6,}\d")
# Every _KEYLIKE match contains one of these: a substring test is far cheaper than the regex over a whole body.
_KEY_MARKERS = ("sk-", "pk-", "rk-", "earer")
# Identifiers the API itself generates, never PII: left as they are in the wire document (not in JSON an app put
# inside a string, such as tool-call arguments). llama-cpp-python's ids are `chatcmpl-<uuid4>`, and a uuid whose
# first groups are all digits reads as a phone number ("chatcmpl-01545906-7465-…" was stored as
# "chatcmpl-[REDACTED:PHONE]-…" against the real server).
_WIRE_IDS = frozenset({"id", "tool_call_id", "call_id", "system_fingerprint", "previous_response_id"})


def key_id(authorization: str | None) -> str | None:
    """A stable, non-reversible id of the app's key, so pairs can be grouped by caller without storing it."""
    if not authorization:
        return None
    token = authorization.split(None, 1)[-1].strip()
    return "k_" + hashlib.sha256(token.encode()).hexdigest()[:16]


def sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class Redactor:
    def __init__(self, mode: str, extra_patterns: list[str] | None = None) -> None:
        self.mode = mode
        self.patterns = list(_BUILTIN)
        for i, pat in enumerate(extra_patterns or []):
            try:
                self.patterns.append((f"CUSTOM{i}", re.compile(pat)))
            except re.error as exc:
                raise ValueError(f"store.redact_patterns[{i}]: invalid regex {pat!r}: {exc}") from None
        self._builtin_only = len(self.patterns) == _N_BUILTIN

    def scrub_secrets(self, text: str) -> str:
        if not any(m in text for m in _KEY_MARKERS):
            return text
        return _KEYLIKE.sub("[REDACTED:KEY]", text)

    def redact_text(self, text: str) -> str:
        """PII patterns over one piece of free text (a JSON string value, or a body that is not JSON)."""
        patterns = self.patterns
        if "@" not in text and _MAYBE_NUMBER.search(text) is None:
            patterns = patterns[_N_BUILTIN:]  # this runs on every stored string: skip what cannot match
        for label, pat in patterns:
            text = pat.sub(f"[REDACTED:{label}]", text)
        return text

    def _plain(self, s: str) -> bool:
        """True when no pattern can change `s` and it holds no JSON to descend into (most strings): the walk
        then skips the call into the patterns altogether."""
        return self._builtin_only and _ATTENTION.search(s) is None

    def _walk(self, value, changed: list, wire: bool = True):
        """`value` with PII masked in its strings; the very same object when nothing changed (no copy). `wire`:
        `value` is (part of) the request or response document, whose generated ids (_WIRE_IDS) stay as sent."""
        if isinstance(value, str):
            if self._plain(value):
                return value
            out = self._string(value, changed)
            if out != value:
                changed[0] = True
                return out
            return value
        if isinstance(value, dict):
            items = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            return value  # numbers, booleans, null: never PII patterns' business
        plain = self._plain
        keep = _WIRE_IDS if wire and isinstance(value, dict) else ()
        copy = None
        for k, v in items:
            if isinstance(v, str):
                if plain(v) or k in keep:
                    continue
                w = self._string(v, changed)
                if w == v:
                    continue
                changed[0] = True
            elif isinstance(v, (dict, list)):
                w = self._walk(v, changed, wire)
                if w is v:
                    continue
            else:
                continue
            if copy is None:
                copy = dict(value) if isinstance(value, dict) else list(value)
            copy[k] = w
        return value if copy is None else copy

    def _string(self, s: str, changed: list) -> str:
        t = s.lstrip()
        if t[:1] in ("{", "[") and len(t) > 1:
            try:
                inner = json.loads(s)  # JSON inside a string (tool-call arguments, JSON-mode content)
            except ValueError:
                pass
            else:
                sub = [False]
                out = self._walk(inner, sub, wire=False)
                return json.dumps(out, ensure_ascii=False) if sub[0] else s
        return self.redact_text(s)

    def apply(self, text: str | None, doc=...) -> str | None:
        """The stored form of a body (JSON text) under the configured mode. `doc`, when given, is
        `json.loads(text)` already at hand (the mirror parsed it to compare): it is not parsed again."""
        if text is None:
            return None
        if self.mode == "hash-only":
            return sha256(text)
        scrubbed = self.scrub_secrets(text)  # JSON-safe: a key never spans a quote
        if self.mode == "redacted":
            if scrubbed is not text or doc is ...:
                try:
                    doc = json.loads(scrubbed)
                except ValueError:
                    return self.redact_text(scrubbed)  # not JSON (a cut stream's prefix): plain text rules
            changed = [False]
            out = self._walk(doc, changed)
            # Nothing to mask: keep the text as received, byte for byte.
            return json.dumps(out, ensure_ascii=False) if changed[0] else scrubbed
        return scrubbed
