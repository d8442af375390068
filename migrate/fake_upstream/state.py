"""Per-server state: options, the recorded requests, scripted faults, caches and stored objects."""

from __future__ import annotations

import hashlib
import random
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from offramp.migrate.fake_upstream import synth
from offramp.migrate.fake_upstream.chat import Draw, PrefixCache
from offramp.migrate.fake_upstream.faults import FaultQueue
from offramp.migrate.fake_upstream.flavors import FLAVORS, Flavor
from offramp.migrate.fake_upstream.options import FakeOptions

_REDACT = frozenset({"authorization", "api-key", "x-api-key"})


def key_fingerprint(key: str) -> str:
    """Compare keys in tests without storing them: sha256 prefix of the key."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def key_hint(key: str) -> str | None:
    """The last four characters, as OpenAI's own 401 shows them; None for a key too short to spare four."""
    return key[-4:] if len(key) > 8 else None


@dataclass
class RecordedRequest:
    """What a client sent (API keys redacted: only a hint and a fingerprint are kept)."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    query: dict[str, str] = field(default_factory=dict)
    key_hint: str | None = None
    key_fingerprint: str | None = None

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "path": self.path,
            "headers": self.headers,
            "json": self.json,
            "query": self.query,
            "key_hint": self.key_hint,
            "key_fingerprint": self.key_fingerprint,
        }


class ServerState:
    def __init__(self, options: FakeOptions) -> None:
        self.options = options
        self.flavor: Flavor = FLAVORS[options.flavor]
        self.keepalives = (
            options.keepalives if options.keepalives is not None else self.flavor.keepalives_default
        )
        self.requests: deque[RecordedRequest] = deque(maxlen=options.record_limit or None)
        self.faults = FaultQueue()
        self.cache = PrefixCache()
        self._occurrences: dict[int, int] = {}
        self._lock = threading.Lock()
        self.store: dict[str, dict[str, Any]] = {}  # kind -> id -> object (files, jobs, batches, responses)
        self.file_bytes: dict[str, bytes] = {}
        self.created_counter = 0
        self._degrading = options.degrade.any()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._occurrences.clear()
            self.store.clear()
            self.file_bytes.clear()
        self.faults.clear()
        self.cache = PrefixCache()

    def record(self, method: str, path: str, headers: Any, body: Any, query: Any) -> None:
        if self.options.record_limit == 0:
            return
        clean = {}
        key = None
        for name, value in headers.items():
            if name.lower() in _REDACT:
                key = value.removeprefix("Bearer ").strip() if value else None
                clean[name] = "<redacted>"
            else:
                clean[name] = value
        entry = RecordedRequest(
            method,
            path,
            clean,
            body,
            dict(query),
            key_hint=key_hint(key) if key else None,
            key_fingerprint=key_fingerprint(key) if key else None,
        )
        with self._lock:
            self.requests.append(entry)

    def recorded(self) -> list[RecordedRequest]:
        """A snapshot, safe to take from another thread while the server records."""
        with self._lock:
            return list(self.requests)

    def draw(self, path: str, raw: bytes) -> Draw:
        """Seeded per request and per repeat: identical requests are answered identically unless noise hits."""
        body_key = synth.digest(self.options.seed, path, raw)
        with self._lock:
            if len(self._occurrences) > 100_000:
                self._occurrences.clear()
            occurrence = self._occurrences.get(body_key, 0)
            self._occurrences[body_key] = occurrence + 1
        noise = None
        if self.options.noise > 0:
            rng = random.Random(synth.digest("noise", body_key, occurrence))
            noise = rng if rng.random() < self.options.noise else None
        degrade = random.Random(synth.digest("degrade", body_key, occurrence)) if self._degrading else None
        return Draw(noise=noise, degrade=degrade, request_key=synth.digest(body_key, occurrence))

    def put(self, kind: str, obj: dict) -> dict:
        with self._lock:
            self.store.setdefault(kind, {})[obj["id"]] = obj
        return obj

    def get(self, kind: str, obj_id: str) -> dict | None:
        return self.store.get(kind, {}).get(obj_id)

    def next_id(self, prefix: str) -> str:
        with self._lock:
            self.created_counter += 1
            return f"{prefix}-{synth.digest(self.options.seed, prefix, self.created_counter):016x}"
