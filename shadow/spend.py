"""The mirror's spend per UTC day, shared through the store so the daily cap survives a restart and holds across
replicas — without a store round-trip on the request path.

The request path only reads `exhausted()`: the day's total as last read from the store (every replica's spend,
refreshed by the store writer every few seconds) plus what this process spent since and has not written yet.
The store writer moves the unwritten part into its batch (`take`), then reports the new total (`settle`) or
puts it back when the write failed (`restore`).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone


def _day_number(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // 86400)


def day_label(day: int) -> str:
    """The store's key of a UTC day: YYYY-MM-DD."""
    return datetime.fromtimestamp(day * 86400, timezone.utc).strftime("%Y-%m-%d")


class SpendMeter:
    """Mirror spend (candidate + second primary) per UTC day against an optional cap (0 = none)."""

    def __init__(self, cap_usd: float, clock=time.time) -> None:
        self.cap = cap_usd
        self._clock = clock
        self._pending: dict[int, float] = {}  # spent here, not yet handed to the writer
        self._inflight: dict[int, float] = {}  # in the writer's current batch
        self._stored_day: int | None = None
        self._stored = 0.0  # the day's total in the store (all replicas) at the last refresh

    @property
    def day(self) -> str:
        return day_label(_day_number(self._clock()))

    @property
    def spent(self) -> float:
        """Today's spend across every replica sharing the store, as far as this process knows."""
        d = _day_number(self._clock())
        stored = self._stored if self._stored_day == d else 0.0
        return stored + self._pending.get(d, 0.0) + self._inflight.get(d, 0.0)

    def exhausted(self) -> bool:
        return self.cap > 0 and self.spent >= self.cap

    def add(self, usd: float | None) -> None:
        if usd:
            d = _day_number(self._clock())
            self._pending[d] = self._pending.get(d, 0.0) + usd

    # ---- store writer side ----
    def take(self) -> dict[str, float]:
        """The unwritten spend by day label, now in flight."""
        for d, v in self._pending.items():
            self._inflight[d] = self._inflight.get(d, 0.0) + v
        self._pending.clear()
        return {day_label(d): v for d, v in self._inflight.items() if v}

    def today(self) -> str:
        return self.day

    def settle(self, day: str, total: float | None) -> None:
        """The batch was written; `total` is the store's figure for `day` read in the same transaction."""
        self._inflight.clear()
        if total is not None:
            self._stored_day = _day_number(datetime.strptime(day, "%Y-%m-%d").replace(
                tzinfo=timezone.utc).timestamp())
            self._stored = total

    def restore(self) -> None:
        """The write failed: the in-flight spend goes back to pending, to be written with the next batch."""
        for d, v in self._inflight.items():
            self._pending[d] = self._pending.get(d, 0.0) + v
        self._inflight.clear()
