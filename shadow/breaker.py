"""A circuit breaker per candidate: when the candidate fails (consecutive timeouts/5xx/refused connections, an
error rate over a window of calls, or calls that stall with none answering), the proxy stops mirroring to it,
records why, holds the ramp (rolls a serving share back) and probes it again — one mirrored request at a time —
with exponential backoff until it answers.

The breaker is fed by the mirror worker's per-call health messages (shadow/mirror.py); `allow()` is one
comparison on the request path. State changes go to the store (`shadow_breaker_events`, and the replica's row
in `shadow_replicas`), so `migrate shadow status`, the dashboard and every replica's ramp check see them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from offramp.shadow.config import BreakerConfig

CLOSED, HALF_OPEN, OPEN = "closed", "half_open", "open"
STATES = (CLOSED, HALF_OPEN, OPEN)

# Candidate call outcomes that say the candidate is unhealthy. A 4xx other than 429 is about the request, and a
# translation error about the adapter: neither trips the breaker.
FAILURE_KINDS = frozenset({"timeout", "connect_error", "http_5xx", "stream_cut", "malformed_json", "empty_stream"})


def is_failure(kind: str | None, status: int | None) -> bool:
    return kind in FAILURE_KINDS or status == 429


@dataclass
class BreakerEvent:
    at: float
    candidate: str
    from_state: str
    to_state: str
    reason: str


class Breaker:
    def __init__(self, cfg: BreakerConfig, candidate: str, clock: Callable[[], float] = time.time,
                 on_change: Callable[[BreakerEvent], None] | None = None) -> None:
        self.cfg = cfg
        self.candidate = candidate
        self.clock = clock
        self.on_change = on_change
        self.state = CLOSED
        self.reason = ""
        self.since = clock()
        self.retry_at: float | None = None
        self.backoff_s = cfg.open_s
        self.consecutive = 0
        self.window: deque[bool] = deque(maxlen=cfg.window)  # True = failure
        self.probe_out = False
        self.opened = 0  # times it opened (metrics)

    # ---- request path ----
    def allow(self, now: float) -> bool:
        """Whether this request may be mirrored; in half-open, one probe at a time."""
        if self.state == CLOSED or not self.cfg.enabled:
            return True
        if self.state == OPEN:
            if self.retry_at is not None and now >= self.retry_at:
                self._move(HALF_OPEN, f"probing after {self.backoff_s:g} s: {self.reason}", now)
            else:
                return False
        if self.probe_out:
            return False
        self.probe_out = True
        return True

    # ---- fed by the mirror ----
    def record(self, kind: str | None, status: int | None, now: float | None = None) -> None:
        """One candidate call finished (`kind` = its error kind, None when it answered)."""
        now = self.clock() if now is None else now
        failed = is_failure(kind, status)
        if self.state == HALF_OPEN:
            self.probe_out = False
            if failed:
                self.backoff_s = min(self.backoff_s * 2, self.cfg.max_open_s)
                self._open(f"probe failed ({_kind(kind, status)}); next probe in {self.backoff_s:g} s", now)
            else:
                self._close(now)
            return
        if self.state == OPEN:
            return  # calls sent before it opened: the probe decides
        self.window.append(failed)
        self.consecutive = self.consecutive + 1 if failed else 0
        if not self.cfg.enabled:
            return
        if self.consecutive >= self.cfg.consecutive_failures:
            self._open(f"{self.consecutive} consecutive candidate failures (last: {_kind(kind, status)})", now)
            return
        n = len(self.window)
        if n >= self.cfg.min_calls:
            bad = sum(self.window)
            if bad / n >= self.cfg.error_rate:
                self._open(f"candidate error rate {bad / n:.0%} over the last {n} calls "
                           f"(limit {self.cfg.error_rate:.0%})", now)

    def stalled(self, in_flight: int, oldest_s: float, quiet_s: float, now: float | None = None) -> None:
        """Calls are out but none has answered for `quiet_s` and the oldest has waited `oldest_s`: a hanging
        candidate is seen in seconds, not after the mirror's timeout."""
        if not self.cfg.enabled or self.state != CLOSED or in_flight == 0:
            return
        if oldest_s >= self.cfg.stall_s and quiet_s >= self.cfg.stall_s:
            self._open(f"candidate stalled: {in_flight} mirror calls in flight, none answered for "
                       f"{quiet_s:.0f} s", self.clock() if now is None else now)

    def probe_lost(self) -> None:
        """The probe never reached the candidate (skipped later, worker lost): let another one through."""
        self.probe_out = False

    # ---- transitions ----
    def _open(self, reason: str, now: float) -> None:
        self.retry_at = now + self.backoff_s
        self.opened += 1
        self._move(OPEN, reason, now)

    def _close(self, now: float) -> None:
        self.backoff_s = self.cfg.open_s
        self.retry_at = None
        self.consecutive = 0
        self.window.clear()
        self._move(CLOSED, "probe answered: mirroring resumed", now)

    def _move(self, to: str, reason: str, now: float) -> None:
        frm, self.state, self.reason, self.since = self.state, to, reason, now
        if to != HALF_OPEN:
            self.probe_out = False
        if self.on_change is not None:
            self.on_change(BreakerEvent(now, self.candidate, frm, to, reason))

    def snapshot(self) -> dict:
        return {"candidate": self.candidate, "state": self.state, "reason": self.reason, "since": self.since,
                "retry_at": self.retry_at, "consecutive_failures": self.consecutive,
                "window_error_rate": (sum(self.window) / len(self.window)) if self.window else None,
                "opened": self.opened}


def _kind(kind: str | None, status: int | None) -> str:
    return "http_429" if status == 429 and kind in (None, "http_4xx") else (kind or f"http_{status}")


def concern_for(state: str, candidate: str, reason: str, share: float, where: str = "") -> dict | None:
    """The ramp concern a non-closed breaker raises: roll back a serving share (the candidate is down), hold a
    shadow-only step (no evidence is coming). None when closed. A dict of `ramp.controller.Concern` fields."""
    if state == CLOSED:
        return None
    action = "rollback" if share > 0 and state == OPEN else "hold"
    what = "open" if state == OPEN else "half-open (probing)"
    return {"action": action, "source": f"breaker:{candidate}", "setting": "mirror.breaker",
            "reason": f"candidate {candidate} circuit breaker {what}{where}: {reason}"}


# A replica row older than this is a replica that stopped (or was killed): its breaker no longer speaks.
STALE_S = 15.0


def replica_rows(engine, now: float | None = None, stale_s: float = STALE_S) -> list[dict]:
    """Every replica's last row of `shadow_replicas`, each with `live` (updated within `stale_s`)."""
    from sqlalchemy import select

    from offramp.shadow.store import schema

    now = time.time() if now is None else now
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(schema.replicas).order_by(schema.replicas.c.replica))]
    for r in rows:
        r["live"] = r["updated_at"] >= now - stale_s
    return rows


def breaker_concerns(rows: list[dict], share: float) -> list[dict]:
    """One concern per live replica whose breaker is not closed (see `concern_for`)."""
    out = []
    for r in rows:
        if not r.get("live") or not r.get("breaker_state"):
            continue
        c = concern_for(r["breaker_state"], r.get("candidate") or "candidate", r.get("breaker_reason") or "",
                        share, where=f" on {r['replica']}")
        if c is not None:
            out.append(c)
    return out


def ramp_check(mirror, engine, stale_s: float = STALE_S):
    """`RampController.checks` entry: this process's breaker now, and every other live replica's from the store,
    so whichever replica leads the ramp holds it (or rolls a serving share back) while any candidate breaker is
    open."""
    from offramp.shadow.ramp.controller import Concern

    def check(st, now: float):
        b = mirror.breaker
        rows = [{"replica": mirror.replica, "live": True, "candidate": b.candidate, "breaker_state": b.state,
                 "breaker_reason": b.reason}]
        try:
            rows += [r for r in replica_rows(engine, now, stale_s) if r["replica"] != mirror.replica]
        except Exception:  # noqa: BLE001 - the store briefly down: this replica's own breaker still speaks
            pass
        return [Concern(**c) for c in breaker_concerns(rows, st.share)]

    return check
