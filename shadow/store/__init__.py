"""The shadow store: SQLAlchemy Core over SQLite (WAL, default) or PostgreSQL, one schema, versioned migrations."""

from offramp.shadow.store.db import open_engine
from offramp.shadow.store.migrations import MIGRATIONS, Migration, migrate, register_migration
from offramp.shadow.store.writer import StoreWriter

__all__ = ["open_engine", "migrate", "register_migration", "Migration", "MIGRATIONS", "StoreWriter"]
