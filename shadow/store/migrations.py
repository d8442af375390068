"""A small versioned migration runner, per component, so `shadow/ramp` can ship its own tables next to ours.

Each migration runs once, in version order, inside a transaction; on PostgreSQL an advisory lock makes
concurrent replicas run them one at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection, Engine

from offramp.shadow.store import schema


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    apply: Callable[[Connection], None]


MIGRATIONS: list[Migration] = []


def register_migration(component: str, version: int, name: str):
    """Decorator: `@register_migration("ramp", 1, "ramp state")` on `def m(conn): ...`."""

    def deco(fn: Callable[[Connection], None]) -> Callable[[Connection], None]:
        if any(m.component == component and m.version == version for m in MIGRATIONS):
            raise ValueError(f"migration {component} v{version} is registered twice")
        MIGRATIONS.append(Migration(component, version, name, fn))
        return fn

    return deco


@register_migration("shadow", 1, "pairs, comparisons, counters")
def _v1(conn: Connection) -> None:
    for t in (schema.pairs, schema.comparisons, schema.counters):
        t.create(conn, checkfirst=True)


@register_migration("shadow", 2, "daily mirror spend")
def _v2(conn: Connection) -> None:
    schema.spend.create(conn, checkfirst=True)


@register_migration("shadow", 3, "candidate endpoint and embedding dimensions on pairs")
def _v3(conn: Connection) -> None:
    # A store created at v1 by this code already has the columns (v1 creates the table as schema.py is now).
    have = {c["name"] for c in inspect(conn).get_columns(schema.pairs.name)}
    for name in ("candidate_endpoint", "primary_dims", "candidate_dims", "noise_dims"):
        if name not in have:
            kind = schema.pairs.c[name].type.compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {schema.pairs.name} ADD COLUMN {name} {kind}"))


@register_migration("shadow", 4, "replica heartbeats and candidate breaker events")
def _v4(conn: Connection) -> None:
    schema.replicas.create(conn, checkfirst=True)
    schema.breaker_events.create(conn, checkfirst=True)


_PG_LOCK_KEY = 0x0FF7A3  # arbitrary constant advisory lock id for migrations


def migrate(engine: Engine) -> list[str]:
    """Apply pending migrations; returns the names applied."""
    applied: list[str] = []
    with engine.begin() as conn:
        # One process migrates at a time (`serve --workers N` starts N at once on one store): the others wait for
        # it, then find its migrations applied.
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        elif engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # SQLite's write lock, before the first read
        schema.migrations_table.create(conn, checkfirst=True)
        done = {(r.component, r.version) for r in conn.execute(select(schema.migrations_table))}
        for m in sorted(MIGRATIONS, key=lambda m: (m.component, m.version)):
            if (m.component, m.version) in done:
                continue
            m.apply(conn)
            conn.execute(
                schema.migrations_table.insert().values(
                    component=m.component, version=m.version, name=m.name, applied_at=time.time()
                )
            )
            applied.append(f"{m.component} v{m.version}: {m.name}")
    return applied
