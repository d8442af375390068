"""Exactly one controller: the PostgreSQL advisory lock and the SQLite lease."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from sqlalchemy import text

from offramp.shadow.ramp.store import Leadership, RampStore
from offramp.shadow.store import open_engine


def test_sqlite_lease_is_exclusive_and_taken_over_when_it_expires(engine, clock, monkeypatch):
    # The lease reads the wall clock; a scripted one makes expiry exact however loaded the machine is.
    monkeypatch.setattr("offramp.shadow.ramp.store.time", SimpleNamespace(time=clock))
    a = Leadership(engine, holder="a", lease_seconds=15)
    b = Leadership(engine, holder="b", lease_seconds=15)
    assert a.check() and not b.check()
    clock.t += 10
    assert a.check()  # renewal: a fresh 15 s from now
    clock.t += 10
    assert not b.check() and b.holder_now() == "a"
    clock.t += 16  # a stops renewing (its process died)
    assert b.holder_now() is None
    assert b.check() and not a.check()
    b.release()
    assert a.check()


@pytest.mark.postgres
def test_pg_advisory_lock_one_holder_and_handover(pg_schema_url):
    url = pg_schema_url
    e1, e2 = open_engine(url), open_engine(url)
    try:
        RampStore(e1).ensure()
        a, b = Leadership(e1, holder="replica-a"), Leadership(e2, holder="replica-b")
        assert a.check() and not b.check()
        assert a.check() and Leadership(e2, holder="x").holder_now() == "replica-a"
        with e2.connect() as conn:  # the holder's session sits idle, not "idle in transaction" (servers kill those)
            state = conn.execute(text("SELECT state FROM pg_stat_activity WHERE application_name = "
                                      "'offramp-ramp replica-a'")).scalar()
        assert state == "idle"
        a._conn.invalidate()  # the holder's session dies (process killed): the server drops the lock
        a._conn = None
        deadline = time.monotonic() + 30  # the server notices the closed session; poll, never a fixed wait
        while not b.check():
            assert time.monotonic() < deadline, "replica-b never took the lock over"
            time.sleep(0.05)
        assert b.holder_now() == "replica-b"
        b.release()
        assert b.holder_now() is None
    finally:
        a.release()
        b.release()
        e1.dispose()
        e2.dispose()


@pytest.mark.postgres
def test_each_store_schema_has_its_own_leader(pg_url):
    """Two deployments sharing one PostgreSQL database, each in its own schema, lead independently."""
    import uuid

    from sqlalchemy import create_engine

    names = [f"rollout_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        for n in names:
            conn.execute(text(f"CREATE SCHEMA {n}"))
    sep = "&" if "?" in pg_url else "?"
    engines = [open_engine(f"{pg_url}{sep}options=-csearch_path%3D{n}") for n in names]
    leaders = [Leadership(e, holder=f"lead-{i}") for i, e in enumerate(engines)]
    try:
        for e in engines:
            RampStore(e).ensure()
        assert all(lead.check() for lead in leaders), "a leader in one schema must not block the other"
        assert [lead.holder_now() for lead in leaders] == ["lead-0", "lead-1"]
        assert not Leadership(engines[0], holder="x").check(), "within one schema there is still one leader"
    finally:
        for lead in leaders:
            lead.release()
        for e in engines:
            e.dispose()
        with admin.begin() as conn:
            for n in names:
                conn.execute(text(f"DROP SCHEMA {n} CASCADE"))
        admin.dispose()
