"""Batched, off-request-path writes. The proxy appends records to memory; a background task writes them in a
worker thread every `flush_interval_s` or `batch_size` records; `close()` writes everything still pending."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque

from sqlalchemy.engine import Engine

from shadow.logs import event
from shadow.store import schema
from shadow.store.queries import purge


class StoreWriter:
    def __init__(
        self,
        engine: Engine,
        *,
        replica: str = "",
        batch_size: int = 200,
        flush_interval_s: float = 0.5,
        max_pending: int = 10_000,
        retention_days: int | None = None,
    ) -> None:
        self.engine = engine
        self.replica = replica
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_pending = max_pending
        self.retention_days = retention_days
        self._pairs: deque[dict] = deque()
        self._cmps: deque[dict] = deque()
        self._counters: dict[tuple[str, str], float] = defaultdict(float)
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()
        self._last_purge = 0.0
        self.dropped = 0
        self.written = 0
        self.errors = 0

    @property
    def pending(self) -> int:
        return len(self._pairs)

    def submit(self, pair: dict, comparisons: list[dict]) -> bool:
        """Queue one pair and its comparator results; False (and counted) when the bound is reached."""
        if len(self._pairs) >= self.max_pending:
            self.dropped += 1
            return False
        pair.setdefault("replica", self.replica)
        self._pairs.append(pair)
        self._cmps.extend(comparisons)
        if len(self._pairs) >= self.batch_size:
            self._wake.set()
        return True

    def count(self, name: str, label: str, delta: float = 1.0) -> None:
        self._counters[(name, label)] += delta

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="shadow-store-writer")

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            await self.flush()
            if self.retention_days and time.time() - self._last_purge > 3600:
                self._last_purge = time.time()
                try:
                    await asyncio.to_thread(purge, self.engine, self.retention_days)
                except Exception as exc:  # noqa: BLE001 - a failing purge must not stop recording
                    event("store purge failed", 40, error=type(exc).__name__)

    def _take(self) -> tuple[list[dict], list[dict], list[dict]]:
        pairs = [self._pairs.popleft() for _ in range(len(self._pairs))]
        cmps = [self._cmps.popleft() for _ in range(len(self._cmps))]
        now = time.time()
        counters = [
            {"created_at": now, "replica": self.replica, "name": n, "label": lab, "value": v}
            for (n, lab), v in self._counters.items()
            if v
        ]
        self._counters.clear()
        return pairs, cmps, counters

    def _write(self, pairs: list[dict], cmps: list[dict], counters: list[dict]) -> None:
        with self.engine.begin() as conn:
            if pairs:
                conn.execute(schema.pairs.insert(), pairs)
            if cmps:
                conn.execute(schema.comparisons.insert(), cmps)
            if counters:
                conn.execute(schema.counters.insert(), counters)

    async def flush(self) -> None:
        async with self._lock:
            pairs, cmps, counters = self._take()
            if not (pairs or cmps or counters):
                return
            try:
                await asyncio.to_thread(self._write, pairs, cmps, counters)
                self.written += len(pairs)
            except Exception as exc:  # noqa: BLE001 - the store being down must never fail a request
                self.errors += 1
                event("store write failed", 40, error=type(exc).__name__, pairs=len(pairs))

    async def close(self) -> None:
        """Stop the background task and write everything pending (shutdown flush)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush()
