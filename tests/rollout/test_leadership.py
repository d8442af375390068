"""Exactly one controller: the PostgreSQL advisory lock and the SQLite lease."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from shadow.ramp.store import Leadership, RampStore
from shadow.store import open_engine


def test_sqlite_lease_is_exclusive_and_taken_over_when_it_expires(engine):
    a = Leadership(engine, holder="a", lease_seconds=0.3)
    b = Leadership(engine, holder="b", lease_seconds=0.3)
    assert a.check() and not b.check()
    assert a.check()  # renewal
    assert b.holder_now() == "a"
    time.sleep(0.35)  # a stops renewing (its process died)
    assert b.check() and not a.check()
    b.release()
    assert a.check()


@pytest.mark.postgres
def test_pg_advisory_lock_one_holder_and_handover(pg_url):
    name = f"rollout_lock_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    url = f"{pg_url}{'&' if '?' in pg_url else '?'}options=-csearch_path%3D{name}"
    e1, e2 = open_engine(url), open_engine(url)
    try:
        RampStore(e1).ensure()
        a, b = Leadership(e1, holder="replica-a"), Leadership(e2, holder="replica-b")
        assert a.check() and not b.check()
        assert a.check() and Leadership(e2, holder="x").holder_now() == "replica-a"
        a._conn.invalidate()  # the holder's session dies (process killed): the server drops the lock
        a._conn = None
        deadline = time.monotonic() + 5
        while not b.check() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b.holder_now() == "replica-b"
        b.release()
        assert b.holder_now() is None
    finally:
        a.release()
        b.release()
        e1.dispose()
        e2.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()
