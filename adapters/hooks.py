"""Process-wide observers of completed calls (each gets the `TranslationRecord`, cost included).

Per-client observers are the `on_call=` constructor argument; both run. A failing hook is logged, never raised:
observability must not break the app's call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("offramp.adapters")
_HOOKS: list[Callable[[Any], None]] = []


def add_hook(fn: Callable[[Any], None]) -> Callable[[Any], None]:
    """Register `fn(record)`; usable as a decorator."""
    _HOOKS.append(fn)
    return fn


def remove_hook(fn: Callable[[Any], None]) -> None:
    if fn in _HOOKS:
        _HOOKS.remove(fn)


def emit(record: Any, extra: Callable[[Any], None] | None = None) -> None:
    for fn in [*_HOOKS, *([extra] if extra else [])]:
        try:
            fn(record)
        except Exception:  # noqa: BLE001 - a hook must not break the call
            log.exception("offramp hook %r failed", fn)
