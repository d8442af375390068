"""What a config will do, without sending anything: used by `migrate adapter check|route|translate`."""

from __future__ import annotations

import os

from pydantic import BaseModel

from offramp.adapters.config import OfframpConfig
from offramp.adapters.profiles import load_profile
from offramp.adapters.routing import Candidate, candidates


class BackendRow(BaseModel):
    name: str
    kind: str
    base_url: str
    key: str  # "set" | "missing" | "none" | "app's" — never the key itself
    family: str
    capabilities: list[str]


def backend_rows(cfg: OfframpConfig) -> list[BackendRow]:
    """One row per backend (the implicit `openai` one included); raises ProfileError for a bad profile."""
    names = list(cfg.backends)
    if "openai" not in names:
        names.insert(0, "openai")
    rows = []
    for name in names:
        b = cfg.backend(name)
        if b.api_key_env:
            key = f"{b.api_key_env}: " + ("set" if os.environ.get(b.api_key_env) else "MISSING")
        else:
            key = "the app's own" if name == "openai" and b.base_url is None else "none"
        p = load_profile(b.kind, b.default_model, path=b.profile)
        rows.append(BackendRow(name=name, kind=b.kind, base_url=b.base_url or "(the app's base_url)", key=key,
                               family=p.family if b.default_model or b.kind == "openai" else "per model id",
                               capabilities=list(p.capabilities)))
    return rows


def route(cfg: OfframpConfig, model: str, capability: str = "chat", user: str | None = None,
          headers: dict[str, str] | None = None) -> list[tuple[Candidate, str | None]]:
    """The backend chain for a call, each with the reason it would be skipped (None: it would be used)."""
    body: dict = {"model": model, "messages": []}
    if user:
        body["user"] = user
    caps = [capability] if capability != "vision" else ["chat", "vision"]
    out = []
    for cand in candidates(cfg, caps, model, body, {k.lower(): v for k, v in (headers or {}).items()}):
        b = cfg.backend(cand.backend)
        p = load_profile(b.kind, cand.model, path=b.profile)
        missing = [c for c in caps if not p.supports(c)]
        out.append((cand, f"{p.kind}/{p.family} lacks {missing[0]}" if missing else None))
    return out
