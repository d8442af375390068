"""Ordinary failures of `migrate shadow ...` as one line naming the problem, exit 2: a busy port, a store that is
unreachable or of a kind Offramp does not support. A traceback is for bugs, and for `MIGRATE_DEBUG=1`."""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator

import typer

DEBUG_ENV = "MIGRATE_DEBUG"
SUPPORTED_STORES = ("sqlite", "postgresql", "postgres")


def debug() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def fail(msg: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {msg}", err=True)
    return typer.Exit(code)


def safe_url(url: str) -> str:
    """The URL without a password (never print a credential)."""
    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", url)


def store_url_problem(url: str, where: str = "store.url") -> str | None:
    """Why `url` cannot be a store (None: it can): the scheme must be SQLite or PostgreSQL."""
    if "://" not in url:
        return None  # a SQLite path
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme not in SUPPORTED_STORES:
        return (f"{where}: {safe_url(url)}: {scheme}:// is not a supported store (a SQLite path, sqlite:///PATH or "
                "postgresql://USER@HOST/DB)")
    return None


def describe(exc: BaseException, store_url: str | None = None) -> str | None:
    """One line for an ordinary failure; None for anything else (a bug: let it show)."""
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

    store = f"store {safe_url(store_url)}" if store_url else "store"
    if isinstance(exc, OSError) and exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
        m = re.search(r"\('([^']*)', (\d+)\)", str(exc))
        where = f"{m.group(1)}:{m.group(2)}" if m else "the address"
        reason = {errno.EADDRINUSE: "the port is in use (stop what holds it, or pass --port)",
                  errno.EACCES: "permission denied (ports below 1024 need privileges; pass --port)",
                  errno.EADDRNOTAVAIL: "no such local address (pass --host)"}[exc.errno]
        return f"server: cannot listen on {where}: {reason}"
    if isinstance(exc, (NoSuchModuleError, ArgumentError)):
        return f"{store}: not a URL Offramp can open ({str(exc).splitlines()[0]})"
    if isinstance(exc, DBAPIError):
        first = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc).strip() else type(exc).__name__
        return f"{store}: cannot connect: {first}"
    if isinstance(exc, SQLAlchemyError):
        return f"{store}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    return None


@contextlib.contextmanager
def one_line(store_url: str | None = None) -> Iterator[None]:
    """Turn an ordinary failure inside the block into `error: ...` and exit 2 (MIGRATE_DEBUG=1: re-raise)."""
    try:
        yield
    except (typer.Exit, KeyboardInterrupt):
        raise
    except Exception as exc:
        msg = None if debug() else describe(exc, store_url)
        if msg is None:
            raise
        raise fail(msg) from None
