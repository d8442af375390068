"""Ramp state in the shared store: one row every replica follows, the decision log, and leadership.

The state row carries a version; every writer (controller tick or operator command) does a compare-and-swap on
it, so an operator's `rollback` can never be overwritten by a controller that read the row a moment earlier.
Leadership: on PostgreSQL a session advisory lock held on a dedicated connection (released by the server when
the holder's process dies, so another replica takes over); on SQLite, a lease row renewed on every tick.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from datetime import datetime, timezone
from enum import Enum

from pydantic import BaseModel, Field
from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from offramp.shadow.store.migrations import register_migration

metadata = MetaData()

ramp_state = Table(
    "ramp_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("updated_at", Float, nullable=False),
)

ramp_decisions = Table(
    "ramp_decisions",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(32), nullable=False, unique=True),
    Column("at", Float, nullable=False),
    Column("action", String(32), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("from_share", Float, nullable=False),
    Column("to_share", Float, nullable=False),
    Column("outcome", String(16)),
    Column("reason", Text, nullable=False),
    Column("data", Text, nullable=False),  # JSON: gate figures (MetricResult dumps), concerns and pair ids
    Index("ix_ramp_decisions_at", "at"),
)

ramp_leader = Table(
    "ramp_leader",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", Float, nullable=False),
)


@register_migration("ramp", 1, "ramp state, decisions, leader lease")
def _ramp_v1(conn: Connection) -> None:
    for t in (ramp_state, ramp_decisions, ramp_leader):
        t.create(conn, checkfirst=True)


class Status(str, Enum):
    idle = "idle"
    running = "running"
    paused = "paused"
    awaiting_approval = "awaiting_approval"
    complete = "complete"
    rolled_back = "rolled_back"


class RampState(BaseModel):
    status: Status = Status.idle
    share: float = 0.0
    step: int = 0
    started_at: float | None = None  # ramp start: the quality evidence window opens here
    step_started_at: float | None = None
    approved: bool = False
    reason: str = ""
    last_decision_at: float | None = None
    last_hold_at: float | None = None
    version: int = 0
    updated_at: float = 0.0

    @property
    def serving(self) -> bool:
        """Whether real traffic goes to the candidate at all."""
        return self.share > 0 and self.status in (Status.running, Status.paused, Status.awaiting_approval,
                                                  Status.complete)


class Decision(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    at: float = Field(default_factory=time.time)
    action: str  # start advance hold rollback pause resume approve set await_approval complete
    actor: str = "controller"
    from_share: float
    to_share: float
    outcome: str | None = None  # gate outcome behind an automatic decision
    reason: str
    # MetricResult dumps: per gate the estimate, confidence-sequence bounds, thresholds, samples seen and needed,
    # the governing setting (decisions recorded before the sequential gates carry only `figures` inside them).
    figures: list[dict] = Field(default_factory=list)
    pair_ids: list[str] = Field(default_factory=list)
    concerns: list[dict] = Field(default_factory=list)  # controller.Concern dumps: every reason to roll back or hold

    @property
    def when(self) -> str:
        return datetime.fromtimestamp(self.at, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class RampStore:
    """Reads and compare-and-swap writes of the ramp state, and the decision log."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ensure(self) -> None:
        from offramp.shadow.store import migrate

        migrate(self.engine)

    def load(self) -> RampState:
        with self.engine.connect() as conn:
            row = conn.execute(select(ramp_state).where(ramp_state.c.id == 1)).first()
        if row is None:
            return RampState()
        st = RampState.model_validate_json(row.data)
        st.version, st.updated_at = row.version, row.updated_at
        return st

    def save(self, new: RampState, expected_version: int, decision: Decision | None = None) -> bool:
        """Write `new` if nobody changed the row since `expected_version`; the decision goes in the same
        transaction so the log never disagrees with the state."""
        now = time.time()
        data = new.model_dump_json(exclude={"version", "updated_at"})
        with self.engine.begin() as conn:
            if expected_version == 0:
                exists = conn.execute(select(ramp_state.c.version).where(ramp_state.c.id == 1)).first()
                if exists is not None:
                    return False
                conn.execute(insert(ramp_state).values(id=1, version=1, data=data, updated_at=now))
            else:
                res = conn.execute(
                    update(ramp_state)
                    .where(ramp_state.c.id == 1, ramp_state.c.version == expected_version)
                    .values(version=expected_version + 1, data=data, updated_at=now)
                )
                if res.rowcount != 1:
                    return False
            if decision is not None:
                self._append(conn, decision)
        new.version, new.updated_at = expected_version + 1, now
        return True

    def record(self, decision: Decision) -> None:
        with self.engine.begin() as conn:
            self._append(conn, decision)

    @staticmethod
    def _append(conn: Connection, d: Decision) -> None:
        conn.execute(
            insert(ramp_decisions).values(
                id=d.id, at=d.at, action=d.action, actor=d.actor, from_share=d.from_share, to_share=d.to_share,
                outcome=d.outcome, reason=d.reason,
                data=json.dumps({"figures": d.figures, "pair_ids": d.pair_ids, "concerns": d.concerns}, default=str),
            )
        )

    def decisions(self, limit: int = 200, since: float | None = None) -> list[Decision]:
        q = select(ramp_decisions).order_by(ramp_decisions.c.seq.desc()).limit(limit)
        if since is not None:
            q = q.where(ramp_decisions.c.at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        out = []
        for r in reversed(rows):
            extra = json.loads(r.data or "{}")
            out.append(Decision(id=r.id, at=r.at, action=r.action, actor=r.actor, from_share=r.from_share,
                                to_share=r.to_share, outcome=r.outcome, reason=r.reason,
                                figures=extra.get("figures", []), pair_ids=extra.get("pair_ids", []),
                                concerns=extra.get("concerns", [])))
        return out


_PG_LEADER_CLASS = 0x0FF7A4  # advisory lock class of the ramp controller (migrations use 0x0FF7A3)


def _schema_key(schema: str) -> int:
    """The second half of the leader's lock: one leader per store schema, so independent deployments sharing a
    PostgreSQL database (each in its own schema) never contend for one lock."""
    return int.from_bytes(hashlib.sha256(f"offramp-ramp:{schema}".encode()).digest()[:4], "big") & 0x7FFFFFFF


class Leadership:
    """Exactly one controller decides at a time. `check()` is cheap and called before every decision."""

    def __init__(self, engine: Engine, holder: str | None = None, lease_seconds: float = 15.0) -> None:
        self.engine = engine
        self.holder = holder or replica_id()
        self.lease_seconds = lease_seconds
        self._conn: Connection | None = None
        self._keys: dict[str, int] | None = None

    def _lock_keys(self, conn: Connection) -> dict[str, int]:
        if self._keys is None:
            schema = conn.execute(text("SELECT current_schema()")).scalar() or "public"
            self._keys = {"c": _PG_LEADER_CLASS, "k": _schema_key(schema)}
        return self._keys

    @property
    def pg(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def check(self) -> bool:
        """Take or keep leadership; False when another replica holds it."""
        return self._check_pg() if self.pg else self._check_lease()

    def _check_pg(self) -> bool:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1")).scalar()
                # End the implicit transaction: a session left "idle in transaction" is what managed servers
                # kill (idle_in_transaction_session_timeout), and with it the lock — leadership would flap.
                self._conn.commit()
                return True
            except Exception:  # the session (and with it the lock) is gone
                self._drop()
        conn = self.engine.connect()
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:c, :k)"), self._lock_keys(conn)).scalar()
            if got:  # name the session so `ramp status` can say which replica leads
                conn.execute(text("SELECT set_config('application_name', :n, false)"),
                             {"n": f"offramp-ramp {self.holder}"[:63]})
            conn.commit()
        except Exception:
            conn.close()
            raise
        if got:
            self._conn = conn
            return True
        conn.close()
        return False

    def _check_lease(self) -> bool:
        now = time.time()
        with self.engine.begin() as conn:
            row = conn.execute(select(ramp_leader).where(ramp_leader.c.id == 1)).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(ramp_leader).values(id=1, holder=self.holder,
                                                                expires_at=now + self.lease_seconds))
                except IntegrityError:
                    return False  # another replica created the lease first
                return True
            if row.holder != self.holder and row.expires_at > now:
                return False
            res = conn.execute(
                update(ramp_leader)
                .where(ramp_leader.c.id == 1, ramp_leader.c.holder == row.holder,
                       ramp_leader.c.expires_at == row.expires_at)
                .values(holder=self.holder, expires_at=now + self.lease_seconds)
            )
            return res.rowcount == 1

    def holder_now(self) -> str | None:
        """Which replica leads: the lease holder, or the session holding the advisory lock (named by us)."""
        if self.pg:
            with self.engine.connect() as conn:
                row = conn.execute(
                    text("SELECT l.pid, a.application_name FROM pg_locks l LEFT JOIN pg_stat_activity a "
                         "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.classid = :c AND l.objid = :k "
                         "AND l.objsubid = 2 AND l.granted "
                         "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
                    self._lock_keys(conn),
                ).first()
            if row is None:
                return None
            name = (row.application_name or "").removeprefix("offramp-ramp ")
            return name or f"pg backend {row.pid}"
        with self.engine.connect() as conn:
            row = conn.execute(select(ramp_leader).where(ramp_leader.c.id == 1)).first()
        return row.holder if row is not None and row.expires_at > time.time() else None

    def release(self) -> None:
        if self.pg:
            if self._conn is not None:
                try:
                    self._conn.execute(text("SELECT pg_advisory_unlock(:c, :k)"), self._lock_keys(self._conn))
                    self._conn.commit()
                except Exception:
                    pass
            self._drop()
            return
        with self.engine.begin() as conn:
            conn.execute(update(ramp_leader).where(ramp_leader.c.id == 1, ramp_leader.c.holder == self.holder)
                         .values(expires_at=0.0))

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None


class MemoryRampStore(RampStore):
    """The same compare-and-swap contract in memory: for simulations (bench/rollout) and dry runs."""

    def __init__(self) -> None:  # noqa: D107 - no engine
        self._state: RampState | None = None
        self._log: list[Decision] = []

    def ensure(self) -> None:
        return None

    def load(self) -> RampState:
        return self._state.model_copy() if self._state is not None else RampState()

    def save(self, new: RampState, expected_version: int, decision: Decision | None = None) -> bool:
        current = self._state.version if self._state is not None else 0
        if current != expected_version:
            return False
        new = new.model_copy(update={"version": expected_version + 1, "updated_at": time.time()})
        self._state = new
        if decision is not None:
            self._log.append(decision)
        return True

    def record(self, decision: Decision) -> None:
        self._log.append(decision)

    def decisions(self, limit: int = 200, since: float | None = None) -> list[Decision]:
        out = [d for d in self._log if since is None or d.at >= since]
        return out[-limit:]
