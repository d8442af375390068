"""Which backend answers a call: capability routes, model mapping with a sticky traffic share, fallback chain."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel

from offramp.adapters.config import OfframpConfig

_PATH_CAPS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^chat/completions"), "chat"),
    (re.compile(r"^embeddings"), "embeddings"),
    (re.compile(r"^images/"), "images"),
    (re.compile(r"^audio/"), "audio"),
    (re.compile(r"^fine_tuning/"), "fine_tuning"),
    (re.compile(r"^(assistants|threads|vector_stores)(/|$)"), "assistants"),
    (re.compile(r"^batches"), "batches"),
    (re.compile(r"^moderations"), "moderations"),
    (re.compile(r"^(files|uploads)(/|$)"), "files"),
    (re.compile(r"^responses"), "responses"),
    (re.compile(r"^completions"), "completions"),
    (re.compile(r"^models"), "models"),
]
_AZURE = re.compile(r"^(?:openai/)?deployments/[^/]+/(.*)$")


def endpoint_path(path: str) -> str:
    """Strip Azure's `openai/deployments/<name>/` so the path names the OpenAI endpoint."""
    m = _AZURE.match(path)
    return m.group(1) if m else path


def capabilities_of(path: str, body: dict | None) -> list[str]:
    """The endpoint capability first, then features the backend must also have (vision, audio input)."""
    path = endpoint_path(path)
    main = next((cap for pat, cap in _PATH_CAPS if pat.match(path)), "other")
    caps = [main]
    if main == "chat" and isinstance(body, dict):
        kinds = {
            part.get("type")
            for m in body.get("messages") or []
            if isinstance(m, dict) and isinstance(m.get("content"), list)
            for part in m["content"]
            if isinstance(part, dict)
        }
        if "image_url" in kinds or "file" in kinds:
            caps.append("vision")
        if "input_audio" in kinds or "audio" in (body.get("modalities") or []):
            caps.append("audio")
    if main == "responses" and isinstance(body, dict) and isinstance(body.get("input"), list):
        kinds = {
            part.get("type")
            for item in body["input"]
            if isinstance(item, dict) and isinstance(item.get("content"), list)
            for part in item["content"]
            if isinstance(part, dict)
        }
        if "input_image" in kinds or "input_file" in kinds:
            caps.append("vision")
        if "input_audio" in kinds:
            caps.append("audio")
    return caps


class Candidate(BaseModel):
    backend: str
    model: str | None
    reason: str


def share_key(key_spec: str, body: dict | None, headers: dict[str, str]) -> str | None:
    """The value traffic is made sticky on; None when the request does not carry it."""
    if key_spec == "user":
        user = (body or {}).get("user") or (body or {}).get("safety_identifier")
        return str(user) if user else None
    if key_spec.startswith("header:"):
        return headers.get(key_spec[7:].lower())
    msgs = (body or {}).get("messages") or (body or {}).get("input")
    if not msgs:
        return None
    opening = msgs[:2] if isinstance(msgs, list) else msgs
    return json.dumps(opening, sort_keys=True, default=str)


def bucket(key: str) -> float:
    """Stable position in [0, 100): the same key always lands in the same bucket."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64 * 100


def candidates(cfg: OfframpConfig, caps: list[str], model: str | None, body: dict | None,
               headers: dict[str, str]) -> list[Candidate]:
    """Backends to try, in order: the routed one, then the fallback chain (each with the model to send)."""
    routes = cfg.routes
    primary: Candidate | None = None
    mapping = routes.models.get(model) if model else None
    for cap in reversed(caps):  # the most specific capability route wins (vision over chat)
        if cap in routes.capabilities:
            name = routes.capabilities[cap]
            primary = Candidate(backend=name, model=_model_for(cfg, name, model, mapping),
                                reason=f"capability route {cap} → {name}")
            break
    if primary is None and mapping is not None:
        percent = mapping.share if mapping.share is not None else routes.share.percent
        key = share_key(routes.share.key, body, headers)
        if percent >= 100 or (percent > 0 and key is not None and bucket(key) < percent):
            primary = Candidate(backend=mapping.backend, model=mapping.model or model,
                                reason=f"model map {model} → {mapping.backend}/{mapping.model or model}"
                                + (f" (share {percent:g}%)" if percent < 100 else ""))
        else:
            why = "no share key on the request" if key is None and percent > 0 else f"outside the {percent:g}% share"
            primary = Candidate(backend=routes.default, model=_model_for(cfg, routes.default, model, None),
                                reason=f"model map {model} skipped: {why}")
    if primary is None:
        primary = Candidate(backend=routes.default, model=_model_for(cfg, routes.default, model, mapping),
                            reason=f"default route → {routes.default}")
    out = [primary]
    for name in routes.fallback:
        if all(c.backend != name for c in out):
            out.append(Candidate(backend=name, model=_model_for(cfg, name, model, mapping),
                                 reason=f"fallback → {name}"))
    return out


def _model_for(cfg: OfframpConfig, name: str, model: str | None, mapping: Any) -> str | None:
    if mapping is not None and mapping.backend == name and mapping.model:
        return mapping.model
    backend = cfg.backend(name)
    if backend.kind == "openai" and name == "openai":
        return model
    return backend.default_model or model
