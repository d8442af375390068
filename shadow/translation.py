"""The candidate leg's request: the app's body with the model mapped, translated by the adapter for the
candidate's backend profile. The translated body and the list of changes are recorded with the pair."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from offramp.shadow.config import Upstream


@dataclass
class CandidateRequest:
    body: dict
    changes: list = field(default_factory=list)


class Translator:
    def __init__(self, candidate: Upstream) -> None:
        from offramp.adapters.profiles import load_profile

        self.candidate = candidate
        self._load_profile = load_profile
        self._profiles: dict[str | None, object] = {}

    def profile(self, model: str | None):
        if model not in self._profiles:
            self._profiles[model] = self._load_profile(self.candidate.kind, model)
        return self._profiles[model]

    def chat(self, body: dict) -> CandidateRequest:
        from offramp.adapters.translate import translate_chat_request

        b = dict(body)  # the adapter deep-copies before changing anything; only `model` is set here
        model = self.candidate.model_for(b.get("model"))
        if model:
            b["model"] = model
        tr = translate_chat_request(b, self.profile(model), strict=False)
        changes = [_jsonable(c) for c in (getattr(tr, "changes", None) or [])]
        emu = getattr(tr, "emulation", None)
        detail = emu.model_dump(mode="json", exclude_defaults=True) if hasattr(emu, "model_dump") else None
        if detail:
            # What the adapter would emulate client-side (fan-out, schema check) is not done on the mirror leg;
            # recording it keeps such pairs explainable.
            changes.append({"action": "emulation", "detail": detail})
        return CandidateRequest(body=tr.body, changes=changes)

    def normalize(self, body: dict, model: str | None) -> dict:
        try:
            from offramp.adapters.translate import normalize_chat_response
        except ImportError:
            return body
        return normalize_chat_response(body, self.profile(model))


def _jsonable(change) -> object:
    if hasattr(change, "model_dump"):
        return change.model_dump(mode="json")
    if hasattr(change, "__dict__"):
        return {k: v for k, v in vars(change).items() if not k.startswith("_")}
    return str(change)


@functools.lru_cache(maxsize=1)
def _cost_mod():
    """adapters.cost, or None when this install has no price tables (cost is then not recorded)."""
    try:
        from offramp.adapters import cost
    except ImportError:
        return None
    return cost


@functools.lru_cache(maxsize=4096)
def _rates(provider: str, model: str, minute: int) -> dict[str, float] | None:
    """Per-million-token rates in force during one UTC minute (price windows start on minute boundaries), so
    the mirror prices each call with a dict lookup instead of a table scan."""
    mod = _cost_mod()
    at = datetime.fromtimestamp(minute * 60, timezone.utc)
    try:
        return dict(mod.cost_of(provider, model, {}, at).rates)
    except Exception:  # noqa: BLE001 - an unpriced model is recorded without cost, not an error
        return None


def cost_usd(provider: str, model: str | None, usage: dict | None, at: datetime | None = None) -> float | None:
    """USD cost of one call from the dated price tables (adapters.cost); None when unpriced or no usage."""
    mod = _cost_mod()
    if not usage or not model or mod is None:
        return None
    ts = at.timestamp() if at is not None else time.time()
    rates = _rates(provider, model, int(ts // 60))
    if rates is None:
        return None
    tokens = mod.token_split(usage)
    return sum(tokens[k] * rates[k] for k in rates) / 1_000_000
