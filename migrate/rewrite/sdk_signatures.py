"""The keyword parameters a 1.x client method accepts, read from the installed openai SDK (the source of truth:
a table copied from it would drift). 0.x sent any unknown keyword in the request body; 1.x raises TypeError, so a
0.x call whose keywords the 1.x method does not take cannot move as it is."""

from __future__ import annotations

import inspect
from functools import cache


@cache
def accepted_keywords(path: str) -> frozenset[str] | None:
    """Keyword names of `client.<path>` (`chat.completions.create`); None when unknown (no SDK, no such method, or
    it takes **kwargs): the caller then checks nothing."""
    try:
        import openai

        obj = openai.OpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1")
        for part in path.split("."):
            obj = getattr(obj, part)
        params = inspect.signature(obj).parameters.values()
    except Exception:  # noqa: BLE001 - any failure means: unknown, check nothing
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
