"""Shared fixtures: the PostgreSQL service and the CI switch."""

from __future__ import annotations

import os
import socket

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
