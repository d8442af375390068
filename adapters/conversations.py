"""Local conversation state for `previous_response_id` on stateless backends.

DeepSeek's, vLLM's and Ollama's Responses endpoints keep nothing, and a Chat Completions backend never did, so
Offramp keeps each stored response's full item list (earlier input + this turn's input + its output) and expands
`previous_response_id` into `input` before the call leaves the process.

Where the state lives (`[responses]` in offramp.toml): in process memory by default (an LRU of `max_entries`, each
entry dropped `ttl` seconds after it was written, lost when the process ends); with `store = "path.sqlite"` in
a SQLite file shared by every process on the host that names the same file (same TTL, expired rows pruned on
write). Nothing leaves the host either way.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import OrderedDict
from typing import Any


class ConversationStore:
    """Stored responses by id: `{"items": [...], "response": {...}}`, each with a time to live."""

    def __init__(self, ttl: float = 3600.0, max_entries: int = 10_000, path: str | None = None) -> None:
        self.ttl, self.max_entries, self.path = ttl, max_entries, path
        self._lock = threading.Lock()
        self._mem: OrderedDict[str, tuple[float, dict]] = OrderedDict()
        self._db: sqlite3.Connection | None = None
        if path:
            try:
                self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
                self._db.execute("CREATE TABLE IF NOT EXISTS offramp_responses "
                                 "(id TEXT PRIMARY KEY, expires REAL NOT NULL, body TEXT NOT NULL)")
            except sqlite3.Error as exc:
                from offramp.adapters.config import ConfigError

                raise ConfigError(f"responses.store: cannot open SQLite file {path} ({exc})") from None

    @property
    def where(self) -> str:
        return f"sqlite file {self.path}" if self.path else "process memory"

    def put(self, rid: str, entry: dict, now: float | None = None) -> None:
        expires = (time.time() if now is None else now) + self.ttl
        with self._lock:
            if self._db is not None:
                self._db.execute("DELETE FROM offramp_responses WHERE expires < ?", (expires - self.ttl,))
                self._db.execute("INSERT OR REPLACE INTO offramp_responses VALUES (?, ?, ?)",
                                 (rid, expires, json.dumps(entry)))
                return
            self._mem[rid] = (expires, entry)
            self._mem.move_to_end(rid)
            while len(self._mem) > self.max_entries:
                self._mem.popitem(last=False)

    def get(self, rid: str, now: float | None = None) -> dict | None:
        now = time.time() if now is None else now
        with self._lock:
            if self._db is not None:
                row = self._db.execute("SELECT expires, body FROM offramp_responses WHERE id = ?", (rid,)).fetchone()
                if row is None or row[0] < now:
                    return None
                return json.loads(row[1])
            hit = self._mem.get(rid)
            if hit is None:
                return None
            if hit[0] < now:
                del self._mem[rid]
                return None
            self._mem.move_to_end(rid)
            return hit[1]

    def delete(self, rid: str) -> bool:
        with self._lock:
            if self._db is not None:
                return self._db.execute("DELETE FROM offramp_responses WHERE id = ?", (rid,)).rowcount > 0
            return self._mem.pop(rid, None) is not None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


_STORES: dict[tuple[Any, ...], ConversationStore] = {}
_STORES_LOCK = threading.Lock()


def store_for(ttl: float, max_entries: int, path: str | None) -> ConversationStore:
    """One store per setting in a process, so every client built from the same config shares its conversations."""
    key = (ttl, max_entries, path)
    with _STORES_LOCK:
        if key not in _STORES:
            _STORES[key] = ConversationStore(ttl, max_entries, path)
        return _STORES[key]


def reset_stores() -> None:
    with _STORES_LOCK:
        for s in _STORES.values():
            s.close()
        _STORES.clear()
