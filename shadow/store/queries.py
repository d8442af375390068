"""Reads over the store shared by `migrate shadow status` and the rollout report/gates."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from sqlalchemy import and_, case, delete, func, select
from sqlalchemy.engine import Engine

from offramp.shadow.spend import day_label
from offramp.shadow.store import schema


@dataclass
class Agreement:
    comparator: str
    family: str | None
    side: str  # candidate | noise
    n: int  # comparisons with a verdict
    agree: int
    mean_score: float | None

    @property
    def rate(self) -> float | None:
        return self.agree / self.n if self.n else None


def agreement_by(
    engine: Engine,
    *,
    since: float | None = None,
    until: float | None = None,
    by_family: bool = True,
    served_by: str | None = None,
) -> list[Agreement]:
    """Pair results aggregated by comparator (and request family) for both sides: the candidate's agreement
    with the primary and the primary's agreement with itself (noise floor). Verdict-less results are left out."""
    c = schema.comparisons
    conds = [c.c.agree.is_not(None)]
    if since is not None:
        conds.append(c.c.created_at >= since)
    if until is not None:
        conds.append(c.c.created_at < until)
    keys = [c.c.comparator, c.c.side] + ([c.c.family] if by_family else [])
    q = select(
        *keys,
        func.count().label("n"),
        func.sum(case((c.c.agree.is_(True), 1), else_=0)).label("agree"),
        func.avg(c.c.score).label("score"),
    )
    if served_by is not None:
        p = schema.pairs
        q = q.select_from(c.join(p, p.c.id == c.c.pair_id))
        conds.append(p.c.served_by == served_by)
    q = q.where(and_(*conds)).group_by(*keys).order_by(*keys)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    return [
        Agreement(
            comparator=r.comparator,
            family=r.family if by_family else None,
            side=r.side,
            n=int(r.n),
            agree=int(r.agree or 0),
            mean_score=float(r.score) if r.score is not None else None,
        )
        for r in rows
    ]


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[k]


@dataclass
class SideStats:
    n: int = 0
    errors: int = 0
    ttft_p50: float | None = None
    ttft_p95: float | None = None
    total_p50: float | None = None
    total_p95: float | None = None
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)


def side_stats(engine: Engine, *, since: float | None = None) -> dict[str, SideStats]:
    """Latency (TTFT, total), errors, tokens and cost for primary, candidate and noise (second primary)."""
    p = schema.pairs
    cols = []
    for side in ("primary", "candidate", "noise"):
        cols += [getattr(p.c, f"{side}_{k}") for k in ("status", "ttft_ms", "total_ms", "usage", "cost_usd", "error")]
    q = select(*cols)
    if since is not None:
        q = q.where(p.c.created_at >= since)
    out = {s: SideStats() for s in ("primary", "candidate", "noise")}
    acc: dict[str, dict[str, list[float]]] = {s: {"ttft": [], "total": []} for s in out}
    with engine.connect() as conn:
        for row in conn.execute(q):
            m = row._mapping
            for side, st in out.items():
                status, err = m[f"{side}_status"], m[f"{side}_error"]
                if status is None and err is None:
                    continue
                st.n += 1
                if err or (status is not None and status >= 400):
                    st.errors += 1
                    kind = err or f"http_{status}"
                    st.error_kinds[kind] = st.error_kinds.get(kind, 0) + 1
                    continue
                if m[f"{side}_ttft_ms"] is not None:
                    acc[side]["ttft"].append(m[f"{side}_ttft_ms"])
                if m[f"{side}_total_ms"] is not None:
                    acc[side]["total"].append(m[f"{side}_total_ms"])
                st.cost_usd += m[f"{side}_cost_usd"] or 0.0
                if m[f"{side}_usage"]:
                    try:
                        u = json.loads(m[f"{side}_usage"])
                        st.prompt_tokens += int(u.get("prompt_tokens") or u.get("input_tokens") or 0)
                        st.completion_tokens += int(u.get("completion_tokens") or u.get("output_tokens") or 0)
                    except (ValueError, TypeError, AttributeError):
                        pass
    for side, st in out.items():
        st.ttft_p50, st.ttft_p95 = _pct(acc[side]["ttft"], 0.5), _pct(acc[side]["ttft"], 0.95)
        st.total_p50, st.total_p95 = _pct(acc[side]["total"], 0.5), _pct(acc[side]["total"], 0.95)
    return out


def counter_totals(engine: Engine, *, since: float | None = None) -> dict[str, dict[str, float]]:
    """Summed counters (skips by reason, mirror outcomes) across replicas."""
    t = schema.counters
    q = select(t.c.name, t.c.label, func.sum(t.c.value)).group_by(t.c.name, t.c.label)
    if since is not None:
        q = q.where(t.c.created_at >= since)
    out: dict[str, dict[str, float]] = {}
    with engine.connect() as conn:
        for name, label, value in conn.execute(q):
            out.setdefault(name, {})[label] = float(value)
    return out


def purge(engine: Engine, retention_days: int, now: float | None = None) -> int:
    """Delete pairs, comparisons and counters older than the retention; returns pairs deleted."""
    cutoff = (now or time.time()) - retention_days * 86400
    with engine.begin() as conn:
        n = conn.execute(delete(schema.pairs).where(schema.pairs.c.created_at < cutoff)).rowcount
        conn.execute(delete(schema.comparisons).where(schema.comparisons.c.created_at < cutoff))
        conn.execute(delete(schema.counters).where(schema.counters.c.created_at < cutoff))
        conn.execute(delete(schema.spend).where(schema.spend.c.day < day_label(int(cutoff // 86400))))
    return int(n or 0)
