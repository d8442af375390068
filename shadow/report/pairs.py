"""The pair viewer: the worst disagreeing pairs of a request family or a gate, primary | candidate, with the
difference highlighted where it is — tool-call arguments and JSON fields compared field by field, free text word
by word.

It shows only what the store holds: in `hash-only` privacy no body is stored, so nothing is shown but the
outcome; in `redacted` mode the bodies are the redacted ones.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine

from offramp.shadow.comparators.structural import DERIVED_METRICS, derived_metrics
from offramp.shadow.ramp.evidence import load_stored
from offramp.shadow.store import schema

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")
_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")
_MISSING = object()


class Segment(BaseModel):
    text: str
    op: Literal["same", "del", "ins"]  # del: only in the primary, ins: only in the candidate


class FieldDiff(BaseModel):
    path: str  # e.g. tool_calls[0].arguments.city, content.label
    primary: str | None  # JSON text of the value; None = absent
    candidate: str | None
    same: bool


class PairDiff(BaseModel):
    bodies_stored: bool = True
    privacy: str = "full"
    fields: list[FieldDiff] = Field(default_factory=list)  # tool calls and JSON content, field by field
    primary_text: list[Segment] = Field(default_factory=list)  # free text, word diff
    candidate_text: list[Segment] = Field(default_factory=list)


def _flatten(v, path: str, out: dict[str, object]) -> None:
    if isinstance(v, dict) and v:
        for k in sorted(v):
            _flatten(v[k], f"{path}.{k}" if path else str(k), out)
    elif isinstance(v, list) and v:
        for i, x in enumerate(v):
            _flatten(x, f"{path}[{i}]", out)
    else:
        out[path or "(value)"] = v


def _maybe_json(s: object):
    if not isinstance(s, str):
        return _MISSING
    t = _FENCE.sub("", s.strip())
    if not t or t[0] not in "{[":
        return _MISSING
    try:
        return json.loads(t)
    except ValueError:
        return _MISSING


def field_diff(a: dict[str, object], b: dict[str, object]) -> list[FieldDiff]:
    out = []
    for k in sorted(set(a) | set(b), key=lambda k: (k not in a, k)):
        va, vb = a.get(k, _MISSING), b.get(k, _MISSING)
        out.append(FieldDiff(path=k, primary=None if va is _MISSING else json.dumps(va, ensure_ascii=False),
                             candidate=None if vb is _MISSING else json.dumps(vb, ensure_ascii=False),
                             same=va == vb))
    return out


def word_diff(a: str, b: str) -> tuple[list[Segment], list[Segment]]:
    ta, tb = _TOKENS.findall(a), _TOKENS.findall(b)
    left: list[Segment] = []
    right: list[Segment] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ta, tb, autojunk=False).get_opcodes():
        if op == "equal":
            left.append(Segment(text="".join(ta[i1:i2]), op="same"))
            right.append(Segment(text="".join(tb[j1:j2]), op="same"))
            continue
        if i2 > i1:
            left.append(Segment(text="".join(ta[i1:i2]), op="del"))
        if j2 > j1:
            right.append(Segment(text="".join(tb[j1:j2]), op="ins"))
    return left, right


def _message(body_text: str | None) -> tuple[dict | None, dict]:
    body = load_stored(body_text)
    if not isinstance(body, dict):
        return None, {}
    ch = (body.get("choices") or [{}])[0] or {}
    if "choices" not in body and isinstance(body.get("output"), list):  # Responses API: flatten what it said
        return body, {"content": body.get("output_text"), "output": body.get("output")}
    if "choices" not in body and isinstance(body.get("data"), list):  # embeddings: only their shape differs
        return body, {"data": [{"dims": len(d.get("embedding") or [])} for d in body["data"] if isinstance(d, dict)]}
    return body, (ch.get("message") or {}) | {"finish_reason": ch.get("finish_reason")}


def _structured(msg: dict) -> dict[str, object]:
    """Everything of a message but free text, flattened: tool calls (arguments parsed), JSON content, finish."""
    flat: dict[str, object] = {}
    for i, tc in enumerate(msg.get("tool_calls") or []):
        fn = (tc or {}).get("function") or {}
        flat[f"tool_calls[{i}].name"] = fn.get("name")
        args = _maybe_json(fn.get("arguments"))
        if args is _MISSING:
            flat[f"tool_calls[{i}].arguments"] = fn.get("arguments")
        else:
            _flatten(args, f"tool_calls[{i}].arguments", flat)
    content = _maybe_json(msg.get("content"))
    if content is not _MISSING:
        _flatten(content, "content", flat)
    for k in ("output", "data"):
        if msg.get(k) is not None:
            _flatten(msg[k], k, flat)
    if msg.get("finish_reason") is not None:
        flat["finish_reason"] = msg["finish_reason"]
    return flat


def diff_pair(privacy: str, primary_body: str | None, candidate_body: str | None) -> PairDiff:
    if privacy == "hash-only":
        return PairDiff(bodies_stored=False, privacy=privacy)
    _, ma = _message(primary_body)
    _, mb = _message(candidate_body)
    d = PairDiff(privacy=privacy)
    sa, sb = _structured(ma), _structured(mb)
    d.fields = field_diff(sa, sb) if (sa or sb) else []
    ta = ma.get("content") if isinstance(ma.get("content"), str) and _maybe_json(ma.get("content")) is _MISSING else ""
    tb = mb.get("content") if isinstance(mb.get("content"), str) and _maybe_json(mb.get("content")) is _MISSING else ""
    if ta or tb:
        d.primary_text, d.candidate_text = word_diff(ta or "", tb or "")
    return d


def comparator_names(engine: Engine) -> set[str]:
    c = schema.comparisons
    with engine.connect() as conn:
        names = {r[0] for r in conn.execute(select(c.c.comparator).distinct())}
    return names | (set(DERIVED_METRICS) if "structural" in names else set())


def worst_pair_ids(engine: Engine, *, family: str | None = None, gate: str | None = None,
                   since: float | None = None, limit: int = 10, candidates: list[str] | None = None) -> list[str]:
    """Pairs ranked worst first: most comparators disagreeing on the candidate side, then the lowest mean score,
    then newest. `gate` narrows to pairs where that comparator disagreed (`tool_calls`: a structural diff on a
    tool-call field, `tool_calls_dropped`: fewer tool calls); `candidates` to given ids (a gate's own examples, e.g. invalid JSON or errors)."""
    c = schema.comparisons
    conds = [c.c.side == "candidate", c.c.agree.is_(False)]
    if since is not None:
        conds.append(c.c.created_at >= since)
    if family:
        conds.append(c.c.family == family)
    ids: list[str] | None = list(candidates) if candidates is not None else None
    with engine.connect() as conn:
        if gate and ids is None:
            name = "structural" if gate in DERIVED_METRICS else gate
            q = select(c.c.pair_id, c.c.detail).where(and_(*conds, c.c.comparator == name)).order_by(
                c.c.created_at.desc()).limit(2000)
            ids = []
            for pid, detail in conn.execute(q):
                if gate in DERIVED_METRICS and gate not in derived_metrics(detail):
                    continue
                ids.append(pid)
        q = select(c.c.pair_id, func.count().label("n"), func.avg(c.c.score).label("s"),
                   func.max(c.c.created_at).label("newest")).where(and_(*conds)).group_by(c.c.pair_id)
        if ids is not None:
            if not ids:
                return []
            q = q.where(c.c.pair_id.in_(ids[:2000]))
        rows = conn.execute(q).all()
    rows.sort(key=lambda r: (-int(r.n), r.s if r.s is not None else 1.0, -(r.newest or 0)))
    ranked = [r.pair_id for r in rows[:limit]]
    if ids is not None and len(ranked) < limit:  # a gate's examples without a comparator verdict (errors)
        ranked += [i for i in ids if i not in ranked][: limit - len(ranked)]
    return ranked
