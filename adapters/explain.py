"""What a config will do, without sending anything: used by `migrate adapter check|route|translate|explain`."""

from __future__ import annotations

import datetime as dt
import os

from pydantic import BaseModel

from offramp.adapters.config import OfframpConfig
from offramp.adapters.profiles import BUILTIN_TOOL_TYPES, load_profile
from offramp.adapters.routing import Candidate, candidates


class BackendRow(BaseModel):
    name: str
    kind: str
    base_url: str
    key: str  # "set" | "missing" | "none" | "app's" — never the key itself
    family: str
    capabilities: list[str]


def _served(p) -> list[str]:
    """The profile's capabilities, with how a Responses call is served there."""
    caps = [c for c in p.capabilities if c != "responses"]
    mode = p.responses_mode()
    if mode is not None:
        caps.append("responses" if mode == "native" else "responses(via chat)")
    return caps


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
                               capabilities=_served(p)))
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
        missing = [c for c in caps if not (p.responses_mode() is not None if c == "responses" else p.supports(c))]
        out.append((cand, f"{p.kind}/{p.family} lacks {missing[0]}" if missing else None))
    return out


def responses_how(cfg: OfframpConfig, cand: Candidate) -> str:
    """How a backend serves a Responses call: natively or translated, and where previous_response_id state lives."""
    b = cfg.backend(cand.backend)
    p = load_profile(b.kind, cand.model, path=b.profile)
    mode = p.responses_mode()
    if mode is None:
        return "not served"
    how = ("native /v1/responses" if mode == "native" else "translated to /v1/chat/completions and back")
    r = cfg.responses
    state = ("state kept by the backend" if p.responses_stateful else
             f"previous_response_id state in Offramp's store ({r.sqlite_path(cfg.path) or 'process memory'}, "
             f"ttl {r.ttl:g}s)")
    if BUILTIN_TOOL_TYPES <= set(p.builtin_tools):
        tools = "all built-in tools"
    else:
        tools = f"built-in tools: {', '.join(p.builtin_tools)}" if p.builtin_tools else "no built-in tools (400)"
    return f"{how}; {state}; {tools}"


class PriceLine(BaseModel):
    """One backend of a call's chain, priced at the request's time (UTC): the window in force, the row's source."""

    backend: str
    kind: str
    model: str
    family: str
    skip: str | None = None  # why the chain would pass over it (missing capability, retired id)
    notes: list[str] = []
    quote: object = None  # offramp.adapters.cost.Quote, or None when unpriced
    cost: object = None  # offramp.adapters.cost.Cost for the given usage
    unpriced: str = ""


def explain(cfg: OfframpConfig, model: str, at: dt.datetime, usage: dict | None = None,
            capability: str = "chat", user: str | None = None) -> list[PriceLine]:
    """The chain `route` gives, each backend with its profile notes and the price in force at `at`."""
    from offramp.adapters.cost import PriceNotFound, cost_of, price_at

    lines = []
    for cand, skip in route(cfg, model, capability, user):
        b = cfg.backend(cand.backend)
        sent = cand.model or model
        p = load_profile(b.kind, sent, path=b.profile)
        notes = []
        if p.until is not None and at.date() > p.until:
            skip = skip or f"{sent} was retired on {p.until} ({p.kind} answers 400)" + (
                f"; use {p.replacement}" if p.replacement else "")
        if sent in p.aliases:
            notes.append(f"legacy id: served and billed as {p.aliases[sent]}")
        line = PriceLine(backend=cand.backend, kind=p.kind, model=sent, family=p.family, skip=skip, notes=notes)
        try:
            line.quote = price_at(p.kind, sent, at)
            if usage:
                line.cost = cost_of(p.kind, sent, usage, at)
        except PriceNotFound as exc:
            line.unpriced = str(exc)
        lines.append(line)
    return lines
