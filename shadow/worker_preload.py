"""Imported once by the mirror workers' fork server (shadow/mirror.py), so each worker forks with its modules
loaded instead of importing them again."""

import aiohttp  # noqa: F401
import sqlalchemy  # noqa: F401

import offramp.adapters.translate  # noqa: F401
import offramp.shadow.comparators  # noqa: F401
import offramp.shadow.config  # noqa: F401
import offramp.shadow.endpoints  # noqa: F401
import offramp.shadow.family  # noqa: F401
import offramp.shadow.privacy  # noqa: F401
import offramp.shadow.ramp.record  # noqa: F401
import offramp.shadow.store.writer  # noqa: F401
import offramp.shadow.translation  # noqa: F401
import offramp.shadow.upstream  # noqa: F401
import offramp.shadow.worker  # noqa: F401
