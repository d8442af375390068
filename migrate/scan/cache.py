"""Result cache for re-scans: one JSON file of per-file results keyed by content, context, rules and engine.

A re-scan of an unchanged tree then costs reading and hashing the files, not parsing them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from offramp.migrate.scan.analyze import ENGINE_VERSION

CACHE_FILE = "results.json"


def cache_key(relpath: str, data: bytes, context_signature: str, rules_digest: str) -> str:
    h = hashlib.blake2b(digest_size=20)
    for part in (ENGINE_VERSION, rules_digest, relpath, context_signature):
        h.update(part.encode())
        h.update(b"\0")
    h.update(data)
    return h.hexdigest()


class ResultCache:
    def __init__(self, directory: Path | None) -> None:
        self.dir = directory
        self.old: dict[str, Any] = {}
        self.new: dict[str, Any] = {}
        if directory is not None:
            try:
                data = json.loads((directory / CACHE_FILE).read_text(encoding="utf-8"))
                if isinstance(data, dict) and data.get("engine") == ENGINE_VERSION:
                    self.old = data.get("results", {})
            except (OSError, ValueError):
                self.old = {}

    def get(self, key: str) -> dict[str, Any] | None:
        v = self.new.get(key) or self.old.get(key)
        if v is not None:
            self.new[key] = v
        return v

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.new[key] = value

    def save(self) -> None:
        """Keep only entries used by this run, written atomically; an unwritable cache is not an error."""
        if self.dir is None or self.new == self.old:
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".results.")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"engine": ENGINE_VERSION, "results": self.new}, f, separators=(",", ":"))
            os.replace(tmp, self.dir / CACHE_FILE)
        except OSError:
            pass
