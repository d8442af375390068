"""Shared fixtures: the PostgreSQL service and the CI switch."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_URL = os.environ.get("OFFRAMP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def need_service(reason: str) -> None:
    """Skip where a service is missing; in CI a missing service is a failure, never a silent skip."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: services must be present)")
    pytest.skip(reason)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A SQLAlchemy URL of the PostgreSQL service (database `test`)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        need_service("psycopg is not installed: pip install -e '.[test]'")
    if not _reachable("127.0.0.1", 5432):
        need_service("PostgreSQL is not reachable at 127.0.0.1:5432")
    return PG_URL


@contextlib.contextmanager
def private_pg_schema(pg_url: str, prefix: str = "offramp") -> Iterator[str]:
    """A URL whose search_path is a new schema of its own, dropped afterwards: suites (and several checkouts of
    this repository testing at once) share the `test` database without touching each other's tables."""
    from sqlalchemy import create_engine, text

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    sep = "&" if "?" in pg_url else "?"
    try:
        yield f"{pg_url}{sep}options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        admin.dispose()


@pytest.fixture
def pg_schema_url(pg_url: str) -> Iterator[str]:
    """A private PostgreSQL schema per test (see private_pg_schema)."""
    with private_pg_schema(pg_url) as url:
        yield url
