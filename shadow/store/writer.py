"""Batched, off-request-path writes. The proxy appends records to memory; a background task writes them in a
worker thread every `flush_interval_s` or `batch_size` records; `close()` writes everything still pending.

A batch is one executemany per table, so every row of a batch carries every column (missing ones filled with
the column default). When a batch fails, its records are retried one pair at a time: a bad record is counted
(`failed`) and logged, never taking the rest of the batch with it; while the store is unreachable the records
go back to the queue (up to `max_pending`) and are written when it returns.

The writer also carries the mirror's daily spend (shadow/spend.py): each flush adds this replica's unwritten
spend to the day's row and reads the day's total back, so the cap check never touches the store itself.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Callable

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from offramp.shadow.logs import event
from offramp.shadow.store import schema
from offramp.shadow.store.queries import purge

_DEFAULTS: dict[str, dict] = {}


def _defaults(table: Table) -> dict:
    """Every insertable column of `table` with its scalar default (or None)."""
    d = _DEFAULTS.get(table.name)
    if d is None:
        auto = table.autoincrement_column
        d = _DEFAULTS[table.name] = {
            c.name: (c.default.arg if c.default is not None and c.default.is_scalar else None)
            for c in table.columns
            if c is not auto
        }
    return d


def uniform_rows(table: Table, rows: list[dict]) -> list[dict]:
    """Rows with the same key set, as executemany requires (a missing key would fail the whole batch)."""
    d = _defaults(table)
    return [{**d, **r} for r in rows]


_POSITIONAL = {"qmark": "?", "format": "%s", "pyformat": "%s"}
_SQL: dict[tuple[str, str, str], str] = {}


def insert_rows(conn: Connection, table: Table, rows: list[dict]) -> None:
    """One driver-level executemany of positional tuples, every column filled (missing ones with the column
    default). SQLAlchemy Core's per-row parameter processing costs more CPU than SQLite's insert itself, and
    it runs in the writer thread holding the GIL the proxy's event loop needs; the rows are plain str, float,
    int, bool and None, which both drivers bind natively."""
    mark = _POSITIONAL.get(conn.dialect.paramstyle)
    if mark is None:  # a driver with named parameters only: Core does the binding
        conn.execute(table.insert(), uniform_rows(table, rows))
        return
    d = _defaults(table)
    key = (table.name, conn.dialect.name, mark)
    sql = _SQL.get(key)
    if sql is None:
        q = conn.dialect.identifier_preparer
        sql = _SQL[key] = (f"INSERT INTO {q.format_table(table)} ({', '.join(q.quote(c) for c in d)}) "
                           f"VALUES ({', '.join([mark] * len(d))})")
    items = tuple(d.items())
    conn.exec_driver_sql(sql, [tuple(r[c] if c in r else v for c, v in items) for r in rows])


def _unavailable(exc: BaseException) -> bool:
    """The store itself is down or unreachable (retry later), as opposed to one record it refuses."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def add_spend(conn: Connection, deltas: dict[str, float], now: float) -> None:
    """`usd += delta` per day, one upsert each: concurrent replicas never overwrite each other."""
    t = schema.spend
    ins = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    for day, usd in deltas.items():
        stmt = ins(t).values(day=day, usd=usd, updated_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.day], set_={"usd": t.c.usd + stmt.excluded.usd, "updated_at": now}
        )
        conn.execute(stmt)


def upsert_replica(conn: Connection, row: dict) -> None:
    t = schema.replicas
    ins = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = ins(t).values(**row)
    conn.execute(stmt.on_conflict_do_update(index_elements=[t.c.replica],
                                            set_={k: stmt.excluded[k] for k in row if k != "replica"}))


def read_spend(conn: Connection, day: str) -> float:
    v = conn.execute(select(schema.spend.c.usd).where(schema.spend.c.day == day)).scalar()
    return float(v or 0.0)


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
        spend_refresh_s: float = 2.0,
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
        self.spend_refresh_s = spend_refresh_s
        self._spend = None  # a shadow.spend.SpendMeter, when the mirror has one
        self._spend_read = float("-inf")
        self.dropped = 0  # records refused at submit (bound reached) or not re-queued after a failed write
        self.written = 0
        self.errors = 0  # failed batch writes
        self.failed = 0  # records the store refused (bad record) or lost at shutdown while it was down
        # Told the fate of every submitted pair once it is known: [(pair id, None = written | "store_full" |
        # "store_refused" | "store_lost")]. The mirror worker reports it back, so accounting follows the store.
        self.on_settled: Callable[[list[tuple[str, str | None]]], None] | None = None
        # This replica's row of `shadow_replicas`, taken with the counters so both land in one transaction.
        self.heartbeat: Callable[[], dict] | None = None
        self.heartbeat_s = 2.0
        self._beat = float("-inf")
        self._events: deque[dict] = deque()  # shadow_breaker_events rows

    @property
    def pending(self) -> int:
        return len(self._pairs)

    def submit(self, pair: dict, comparisons: list[dict]) -> bool:
        """Queue one pair and its comparator results; False (and counted) when the bound is reached."""
        if len(self._pairs) >= self.max_pending:
            self.dropped += 1
            self._settle([(pair.get("id"), "store_full")])
            return False
        pair.setdefault("replica", self.replica)
        self._pairs.append(pair)
        self._cmps.extend(comparisons)
        if len(self._pairs) >= self.batch_size:
            self._wake.set()
        return True

    def track_spend(self, meter) -> None:
        """Write `meter`'s spend with every batch and refresh its view of the day's total (all replicas)."""
        self._spend = meter

    def load_spend(self) -> None:
        """Read the day's total now (blocking; call off the event loop at startup, before any request)."""
        if self._spend is None:
            return
        day = self._spend.today()
        with self.engine.connect() as conn:
            total = read_spend(conn, day)
        self._spend.settle(day, total)
        self._spend_read = time.monotonic()

    def count(self, name: str, label: str, delta: float = 1.0) -> None:
        self._counters[(name, label)] += delta

    def add_event(self, row: dict) -> None:
        """A `shadow_breaker_events` row, written with the next batch (with the counters)."""
        self._events.append(row)

    def _settle(self, fates: list[tuple[str, str | None]]) -> None:
        if self.on_settled is not None and fates:
            try:
                self.on_settled(fates)
            except Exception as exc:  # noqa: BLE001 - reporting must never stop recording
                event("store settle callback failed", 40, error=f"{type(exc).__name__}: {exc}"[:200])

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
        extra = [{"created_at": now, **e, "_table": "events"} for e in self._events]
        self._events.clear()
        beat = self.heartbeat() if self.heartbeat is not None else None
        if beat is not None:
            self._beat = time.monotonic()
            extra.append({**beat, "replica": self.replica, "updated_at": now, "_table": "replicas"})
        return pairs, cmps, counters + extra

    def _write(self, pairs: list[dict], cmps: list[dict], counters: list[dict], spend: dict[str, float],
               spend_day: str | None) -> float | None:
        with self.engine.begin() as conn:
            if pairs:
                insert_rows(conn, schema.pairs, pairs)
            if cmps:
                insert_rows(conn, schema.comparisons, cmps)
            if counters:
                plain = [k for k in counters if "_table" not in k]
                if plain:
                    insert_rows(conn, schema.counters, plain)
                for k in counters:
                    if k.get("_table") == "events":
                        conn.execute(schema.breaker_events.insert().values(
                            {c: v for c, v in k.items() if c not in ("_table", "created_at")}))
                    elif k.get("_table") == "replicas":
                        upsert_replica(conn, {c: v for c, v in k.items() if c != "_table"})
            if spend:
                add_spend(conn, spend, time.time())
            return read_spend(conn, spend_day) if spend_day is not None else None

    def _salvage(self, pairs: list[dict], cmps: list[dict], counters: list[dict]):
        """After a failed batch: one transaction per pair (with its comparisons), then the rest. Returns
        (ids written, ids refused, first refusal, pairs, comparisons and counters to retry because the store is
        down)."""
        by_pair: dict[str, list[dict]] = defaultdict(list)
        for c in cmps:
            by_pair[c.get("pair_id")].append(c)
        groups: list[tuple[list[dict], list[dict], list[dict]]] = [([p], by_pair.pop(p.get("id"), []), [])
                                                                   for p in pairs]
        orphans = [c for rows in by_pair.values() for c in rows]
        if orphans or counters:
            groups.append(([], orphans, counters))
        written: list[str] = []
        refused: list[str] = []
        refused_other = 0
        first: str | None = None
        retry: tuple[list[dict], list[dict], list[dict]] = ([], [], [])
        for i, (ps, cs, ks) in enumerate(groups):
            try:
                self._write(ps, cs, ks, {}, None)
                written += [p.get("id") for p in ps]
            except Exception as exc:  # noqa: BLE001
                if _unavailable(exc):
                    for g in groups[i:]:
                        for acc, rows in zip(retry, g, strict=True):
                            acc.extend(rows)
                    return written, refused, refused_other, first or _why(exc), *retry
                refused += [p.get("id") for p in ps]
                refused_other += 0 if ps else len(cs) + len(ks)
                first = first or _why(exc)
        return written, refused, refused_other, first, *retry

    async def flush(self, *, final: bool = False) -> None:
        async with self._lock:
            idle = not (self._pairs or self._cmps or self._counters or self._events)
            if idle and self.heartbeat is not None and not final and time.monotonic() - self._beat < self.heartbeat_s:
                beat, self.heartbeat = self.heartbeat, None  # nothing new and the row is fresh: no write
                try:
                    pairs, cmps, counters = self._take()
                finally:
                    self.heartbeat = beat
            else:
                pairs, cmps, counters = self._take()
            meter = self._spend
            deltas = meter.take() if meter is not None else {}
            refresh = meter is not None and (
                bool(deltas) or time.monotonic() - self._spend_read >= self.spend_refresh_s
            )
            if not (pairs or cmps or counters or refresh):
                return
            day = meter.today() if refresh else None
            try:
                total = await asyncio.to_thread(self._write, pairs, cmps, counters, deltas, day)
            except Exception as exc:  # noqa: BLE001 - the store being down must never fail a request
                self.errors += 1
                if meter is not None:
                    meter.restore()  # written with the next batch
                event("store write failed", 40, error=_why(exc), pairs=len(pairs))
                if pairs or cmps or counters:
                    await self._recover(pairs, cmps, counters, final)
                return
            self.written += len(pairs)
            self._settle([(p.get("id"), None) for p in pairs])
            if meter is not None:
                meter.settle(day, total) if day is not None else meter.settle(meter.today(), None)
                if day is not None:
                    self._spend_read = time.monotonic()

    async def _recover(self, pairs: list[dict], cmps: list[dict], counters: list[dict], final: bool) -> None:
        written, refused, refused_other, why, r_pairs, r_cmps, r_counters = await asyncio.to_thread(
            self._salvage, pairs, cmps, counters
        )
        self.written += len(written)
        self.failed += len(refused) + refused_other
        fates: list[tuple[str, str | None]] = [(i, None) for i in written] + [(i, "store_refused") for i in refused]
        lost = 0
        if final:
            lost = len(r_pairs)  # shutting down with the store unreachable: nothing left to retry with
            self.failed += lost
            fates += [(p.get("id"), "store_lost") for p in r_pairs]
        elif r_pairs or r_cmps or r_counters:
            room = max(0, self.max_pending - len(self._pairs))
            keep = r_pairs[:room]
            lost = len(r_pairs) - len(keep)
            self.dropped += lost
            gone = {p.get("id") for p in r_pairs[room:]}
            fates += [(i, "store_full") for i in gone]
            self._pairs.extendleft(reversed(keep))
            self._cmps.extendleft(reversed([c for c in r_cmps if c.get("pair_id") not in gone]))
            for k in r_counters:
                if k.get("_table") == "events":
                    self._events.appendleft({c: v for c, v in k.items() if c not in ("_table", "created_at")})
                elif "_table" not in k:
                    self._counters[(k["name"], k["label"])] += k["value"]
        self._settle(fates)
        if refused or refused_other or lost or r_pairs:
            event("store records not written", 40, written=len(written), refused=len(refused) + refused_other,
                  retrying=len(r_pairs) - lost, lost=lost, error=why)

    async def close(self) -> None:
        """Stop the background task and write everything pending (shutdown flush)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush(final=True)


def _why(exc: BaseException) -> str:
    """A short, key-free reason: the exception type and the first line of the driver's message."""
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {str(orig).splitlines()[0] if str(orig) else ''}"[:200]
