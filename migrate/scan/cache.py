"""Result caches for re-scans.

`ResultCache`: one JSON file of per-file results keyed by content, context, rules and engine, so a re-scan
after an edit re-analyses only the files whose content or project context changed.
`ProjectCache`: the whole scan's answer keyed by every walked file (its stat, and its content hash when the
stat cannot be trusted), the rules and the engine, so a re-scan of an unchanged tree costs walking and
`stat`-ing it, not reading it (the API graph depends on every file: imports, duck-typed calls, constants).
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
PROJECT_FILE = "project.json"
# A file modified less than this long before the previous scan started may have changed again within the same
# mtime tick after it was read: its content hash decides (git's "racy" entries).
RACY_NS = 2_000_000_000


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


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def file_stat(path: Path) -> list[int] | None:
    """What identifies an unchanged file without reading it: size, mtime, ctime (which no user can set back)
    and inode."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class ProjectCache:
    """The previous scan's answer for the same root, reused when its key and every walked file match."""

    def __init__(self, directory: Path | None) -> None:
        self.dir = directory

    def load(self, key: str, files: list[tuple[str, Path]]) -> dict[str, Any] | None:
        """The stored answer when `key` (engine, rules, options, the walked file list) matches and no file
        changed; None otherwise."""
        if self.dir is None:
            return None
        try:
            data = json.loads((self.dir / PROJECT_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("engine") != ENGINE_VERSION or data.get("key") != key:
            return None
        stored, started = data.get("files"), data.get("started_ns")
        if not isinstance(stored, dict) or not isinstance(started, int) or len(stored) != len(files):
            return None
        for rel, path in files:
            old = stored.get(rel)
            if not isinstance(old, list) or len(old) != 2:
                return None
            st = file_stat(path)
            if st is None:
                return None
            if st == old[0] and st[1] < started - RACY_NS:
                continue
            try:
                if content_hash(path.read_bytes()) != old[1]:
                    return None
            except OSError:
                return None
        answer = data.get("answer")
        return answer if isinstance(answer, dict) else None

    def save(self, key: str, started_ns: int, files: dict[str, list[Any]], answer: dict[str, Any]) -> None:
        """`files`: rel -> [stat as read, content hash]; written atomically, an unwritable cache is no error."""
        if self.dir is None:
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".project.")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"engine": ENGINE_VERSION, "key": key, "started_ns": started_ns, "files": files,
                           "answer": answer}, f, separators=(",", ":"))
            os.replace(tmp, self.dir / PROJECT_FILE)
        except OSError:
            pass
