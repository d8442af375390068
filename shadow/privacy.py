"""What of a request/response body reaches the store: `full`, `redacted` (PII masked) or `hash-only`.

Key-shaped secrets are masked in every mode: a prompt that pastes a key must not turn the store into a key dump.
"""

from __future__ import annotations

import hashlib
import re

_KEYLIKE = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{16,}|\b[Bb]earer\s+[A-Za-z0-9._\-]{12,}")
_BUILTIN = [
    ("EMAIL", re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")),
    # Card numbers before phones: 13-19 digits with optional separators.
    ("CARD", re.compile(r"\b(?:\d[ \-]?){12,18}\d\b")),
    ("PHONE", re.compile(r"(?<![\w])\+?\d{1,3}?[ .\-]?\(?\d{2,4}\)?[ .\-]?\d{3,4}[ .\-]?\d{3,4}\b")),
]


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

    def scrub_secrets(self, text: str) -> str:
        return _KEYLIKE.sub("[REDACTED:KEY]", text)

    def apply(self, text: str | None) -> str | None:
        """The stored form of a body (JSON text) under the configured mode."""
        if text is None:
            return None
        if self.mode == "hash-only":
            return sha256(text)
        text = self.scrub_secrets(text)
        if self.mode == "redacted":
            for label, pat in self.patterns:
                if label == "EMAIL" and "@" not in text:
                    continue  # cheap pre-check: this runs on every stored body
                text = pat.sub(f"[REDACTED:{label}]", text)
        return text
