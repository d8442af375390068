"""The rollout evidence, gathered once from the store and rendered three ways (terminal, JSON, HTML) and live
by the proxy's `/dashboard`: agreement against the noise floor, latency, errors, cost and its projection at
100%, the ramp's decisions with their figures, and the most disagreeing pairs side by side."""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine

from offramp.shadow.comparators.responses_shape import request_to_chat, to_chat
from offramp.shadow.comparators.structural import DERIVED_METRICS
from offramp.shadow.ramp.evidence import StoreEvidence, disagreeing_pairs, load_stored
from offramp.shadow.ramp.gates import GateReport, diffy_reportable, evaluate, excess_bounds, quantile
from offramp.shadow.ramp.plan import RampPlan
from offramp.shadow.ramp.store import Decision, RampState, RampStore, Status
from offramp.shadow.report.endpoints import EndpointRow, endpoint_rows
from offramp.shadow.report.headline import Headline, assessment_of, headline_for
from offramp.shadow.report.pairs import PairDiff, diff_pair
from offramp.shadow.report.series import Series, build_series
from offramp.shadow.store import schema
from offramp.shadow.store.queries import agreement_by, counter_totals

SCHEMA_VERSION = 1
QUANTILES = (0.5, 0.9, 0.95, 0.99)


class Rate(BaseModel):
    n: int = 0
    disagree: int = 0

    @property
    def rate(self) -> float | None:
        return self.disagree / self.n if self.n else None


class AgreementRow(BaseModel):
    comparator: str
    family: str | None = None
    candidate: Rate
    noise: Rate
    excess: float | None = None  # candidate disagreement − noise disagreement
    excess_upper: float | None = None  # one-sided 95% upper bound
    shown: bool = True  # Diffy's relative/absolute display filter


class Distribution(BaseModel):
    n: int = 0
    quantiles: dict[str, float | None] = Field(default_factory=dict)  # "p50" -> ms
    histogram: list[int] = Field(default_factory=list)


class SideLatency(BaseModel):
    total: Distribution = Distribution()
    ttft: Distribution = Distribution()


class CostSide(BaseModel):
    calls: int = 0
    priced_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cost_per_request: float | None = None


class Projection(BaseModel):
    window_days: float
    observed_requests: int
    requests_per_month: float
    primary_monthly_usd: float | None = None
    candidate_monthly_usd: float | None = None
    savings_monthly_usd: float | None = None
    savings_pct: float | None = None
    basis: str


class PairSide(BaseModel):
    label: str
    status: int | None = None
    error: str | None = None
    text: str | None = None
    tool_calls: list[str] = Field(default_factory=list)
    finish_reason: str | None = None


class PairView(BaseModel):
    id: str
    created_at: float
    family: str
    family_name: str | None = None
    privacy: str = "full"
    served_by: str
    disagreements: int
    comparators: list[str]
    request: str | None
    primary: PairSide
    second_primary: PairSide | None
    candidate: PairSide
    divergence: str  # where candidate and primary first differ
    diff: PairDiff = PairDiff()  # primary | candidate, field by field and word by word


class FamilyName(BaseModel):
    """How a request family is shown: the user's label from `[families]`, else route · model · the system
    prompt's first words as stored (so redacted per the privacy mode; none under hash-only)."""

    id: str  # the hash, kept as the tooltip
    route: str | None = None
    model: str | None = None
    prompt: str | None = None
    label: str | None = None  # from config
    name: str


class Report(BaseModel):
    schema_version: int = SCHEMA_VERSION
    generated_at: float
    since: float | None
    first: float | None
    last: float | None
    pairs: int
    ramp: RampState
    plan_steps: list[float]
    gates: GateReport | None
    agreement: list[AgreementRow]
    families: list[AgreementRow]
    latency: dict[str, SideLatency]  # primary, candidate, noise
    histogram_edges_ms: list[float]
    errors: dict[str, dict[str, int]]  # side -> kind -> count
    error_rates: dict[str, float | None]
    cost: dict[str, CostSide]
    projection: Projection | None
    decisions: list[Decision]
    top_pairs: list[PairView]
    skips: dict[str, float]
    window: str = "ramp"
    headline: Headline | None = None
    series: Series | None = None
    family_names: dict[str, FamilyName] = Field(default_factory=dict)
    # What `migrate shadow status` reports beyond the figures above and below (e.g. the breakers' recent state
    # changes), shown as given: the report does not depend on their shape.
    status_extra: dict[str, Any] = Field(default_factory=dict)
    endpoints: list[EndpointRow] = Field(default_factory=list)  # per mirrored endpoint (shadow.report.endpoints)
    # The mirror's accounting (offered = compared + errors + skipped + in flight) and every replica's candidate
    # breaker (shadow.status.health), so the dashboard shows a failing candidate within seconds.
    accounting: dict = {}
    breakers: list[dict] = []


def _edges() -> list[float]:
    """Log-spaced latency bins from 10 ms to ~2 min."""
    return [round(10 * 10 ** (i / 6), 1) for i in range(0, 25)]


def _dist(values: list[float], edges: list[float]) -> Distribution:
    hist = [0] * (len(edges) + 1)
    for v in values:
        lo, hi = 0, len(edges)
        while lo < hi:  # first edge > v
            mid = (lo + hi) // 2
            if edges[mid] > v:
                hi = mid
            else:
                lo = mid + 1
        hist[lo] += 1
    return Distribution(n=len(values), quantiles={f"p{round(q * 100)}": _round(quantile(values, q)) for q in QUANTILES},
                        histogram=hist)


def _round(x: float | None, nd: int = 3) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(x, nd)


def _agreement_rows(engine: Engine, since: float | None, by_family: bool) -> list[AgreementRow]:
    acc: dict[tuple[str, str | None], dict[str, Rate]] = {}
    for a in agreement_by(engine, since=since, by_family=by_family):
        d = acc.setdefault((a.comparator, a.family), {"candidate": Rate(), "noise": Rate()})
        d[a.side] = Rate(n=a.n, disagree=a.n - a.agree)
    rows = []
    for (name, fam), d in sorted(acc.items(), key=lambda kv: (kv[0][1] or "", kv[0][0])):
        c, n = d["candidate"], d["noise"]
        row = AgreementRow(comparator=name, family=fam, candidate=c, noise=n)
        if c.n and n.n:
            from offramp.shadow.ramp.gates import Proportion

            row.excess = round(c.rate - n.rate, 6)  # type: ignore[operator]
            row.excess_upper = round(excess_bounds(Proportion(bad=c.disagree, n=c.n),
                                                   Proportion(bad=n.disagree, n=n.n), 0.95)[2], 6)
            # Diffy scales noise counts to the candidate's sample before comparing raw with noise.
            scaled_noise = round(n.disagree * c.n / n.n)
            row.shown = diffy_reportable(c.disagree, scaled_noise, c.n)
        rows.append(row)
    return rows


def _side_from_body(label: str, status: int | None, error: str | None, body_text: str | None) -> PairSide:
    side = PairSide(label=label, status=status, error=error)
    if not body_text:
        return side
    body = load_stored(body_text)
    if not isinstance(body, dict):
        side.text = body_text[:2000]
        return side
    if body.get("object") == "response":
        body = to_chat(body)  # a Responses answer, shown as its pair was compared
    elif "dims" in body and isinstance(body.get("data"), list):  # an embeddings answer (vectors not stored)
        side.text = f"{len(body['data'])} vectors × {body.get('dims')} dimensions ({body.get('model')})"
        return side
    ch = (body.get("choices") or [{}])[0] if isinstance(body, dict) else {}
    msg = (ch or {}).get("message") or {}
    side.finish_reason = (ch or {}).get("finish_reason")
    content = msg.get("content")
    side.text = content[:4000] if isinstance(content, str) else None
    for tc in msg.get("tool_calls") or []:
        fn = (tc or {}).get("function") or {}
        side.tool_calls.append(f"{fn.get('name')}({fn.get('arguments')})")
    return side


def divergence(a: PairSide, b: PairSide) -> str:
    """The first point where two answers part: status, finish reason, tool calls, then the first differing
    word of the text (LLM outputs often agree for a hundred tokens and then fork)."""
    if (a.error or a.status) != (b.error or b.status) and (a.error or b.error):
        return f"outcome: {a.error or a.status} vs {b.error or b.status}"
    if a.tool_calls != b.tool_calls:
        for i, (x, y) in enumerate(zip(a.tool_calls, b.tool_calls, strict=False)):
            if x != y:
                return f"tool call {i + 1}: {x[:120]} vs {y[:120]}"
        return f"tool calls: {len(a.tool_calls)} vs {len(b.tool_calls)}"
    if a.finish_reason != b.finish_reason:
        return f"finish_reason: {a.finish_reason} vs {b.finish_reason}"
    wa, wb = (a.text or "").split(), (b.text or "").split()
    for i, (x, y) in enumerate(zip(wa, wb, strict=False)):
        if x != y:
            ctx = " ".join(wa[max(0, i - 4):i])
            return f"word {i + 1}: …{ctx} [{x}] vs [{y}]"
    if len(wa) != len(wb):
        return f"length: {len(wa)} vs {len(wb)} words (one stops early)"
    return "no visible difference (comparator detail only)"


_STATUS_SHOWN = {"pairs", "first", "last", "comparators", "families", "sides", "skips", "mirror_outcomes",
                 "noise_outcomes", "ramp", "endpoints", "accounting", "breakers"}


def status_extra(engine: Engine, since: float | None) -> dict[str, Any]:
    """The keys of `shadow.status.summarize` this report does not already show."""
    from offramp.shadow.status import summarize

    summary = summarize(engine, since=since)
    return {k: v for k, v in summary.items() if k not in _STATUS_SHOWN and v not in (None, {}, [])}


def family_names(engine: Engine, labels: dict[str, str] | None = None) -> dict[str, FamilyName]:
    """A readable name per family seen in the store, from its newest pair (one row read per family)."""
    from offramp.shadow.family import family_name, prompt_label, system_text

    labels = labels or {}
    p = schema.pairs
    with engine.connect() as conn:
        newest = select(p.c.family, func.max(p.c.created_at).label("t")).group_by(p.c.family).subquery()
        rows = conn.execute(select(p.c.family, p.c.endpoint, p.c.primary_model, p.c.request_body, p.c.privacy)
                            .join(newest, and_(p.c.family == newest.c.family, p.c.created_at == newest.c.t))).all()
    out: dict[str, FamilyName] = {}
    for r in rows:
        if r.family in out:
            continue
        body = load_stored(r.request_body) if r.privacy != "hash-only" else None
        words = prompt_label(system_text(body)) if isinstance(body, dict) else ""
        model = r.primary_model or (body.get("model") if isinstance(body, dict) else None)
        label = labels.get(r.family)
        out[r.family] = FamilyName(id=r.family, route=r.endpoint, model=model, prompt=words or None, label=label,
                                   name=label or family_name(r.endpoint, model, words or None))
    for fid, label in labels.items():
        out.setdefault(fid, FamilyName(id=fid, label=label, name=label))
    return out


def pair_views(engine: Engine, ranked: list[tuple[str, int]] | list[str],
               names: dict[str, FamilyName] | None = None) -> list[PairView]:
    """Pairs side by side, in the order given, each with where it diverges and its highlighted diff."""
    if not ranked:
        return []
    pairs_n = [(x, 0) if isinstance(x, str) else x for x in ranked]
    p, c = schema.pairs, schema.comparisons
    ids = [pid for pid, _ in pairs_n]
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(p).where(p.c.id.in_(ids)))}
        cmps: dict[str, list[str]] = {}
        for pid, name in conn.execute(select(c.c.pair_id, c.c.comparator).where(
                c.c.pair_id.in_(ids), c.c.side == "candidate", c.c.agree.is_(False))):
            cmps.setdefault(pid, []).append(name)
    out = []
    for pid, n in pairs_n:
        r = rows.get(pid)
        if r is None:
            continue
        prim = _side_from_body("primary", r.primary_status, r.primary_error, r.primary_body)
        cand = _side_from_body("candidate", r.candidate_status, r.candidate_error, r.candidate_body)
        noise = (_side_from_body("second primary", r.noise_status, r.noise_error, r.noise_body)
                 if r.noise_status is not None or r.noise_error else None)
        req = None
        if r.request_body:
            try:
                stored = load_stored(r.request_body) or {}
                if r.endpoint == "/v1/responses":
                    stored = request_to_chat(stored, strict=False)
                elif r.endpoint == "/v1/embeddings":
                    inp = stored.get("input")
                    stored = {"messages": [{"role": "user", "content": inp if isinstance(inp, str) else
                                            f"{len(inp or [])} inputs, first: {(inp or [''])[0]}"}]}
                msgs = stored.get("messages") or []
                last_user = next((m for m in reversed(msgs) if m.get("role") == "user"), None)
                req = str(last_user.get("content"))[:1000] if last_user else None
            except (ValueError, AttributeError):
                req = r.request_body[:300]
        fam = (names or {}).get(r.family)
        out.append(PairView(id=pid, created_at=r.created_at, family=r.family, family_name=fam.name if fam else None,
                            privacy=r.privacy, served_by=r.served_by or "primary",
                            disagreements=n or len(cmps.get(pid, [])), comparators=sorted(cmps.get(pid, [])),
                            request=req, primary=prim, second_primary=noise, candidate=cand,
                            divergence=divergence(prim, cand),
                            diff=diff_pair(r.privacy, r.primary_body, r.candidate_body)))
    return out


def _top_pairs(engine: Engine, since: float | None, limit: int,
               names: dict[str, FamilyName] | None = None) -> list[PairView]:
    return pair_views(engine, disagreeing_pairs(engine, since or 0.0, limit), names)


def _sides(engine: Engine, since: float | None, edges: list[float]):
    p = schema.pairs
    q = select(p)
    if since is not None:
        q = q.where(p.c.created_at >= since)
    lat = {s: {"total": [], "ttft": []} for s in ("primary", "candidate", "noise")}
    errors: dict[str, dict[str, int]] = {s: {} for s in lat}
    calls = {s: 0 for s in lat}
    cost = {s: CostSide() for s in lat}
    paired_p, paired_c = [], []
    with engine.connect() as conn:
        for r in conn.execute(q):
            m = r._mapping
            for s in lat:
                status, err = m[f"{s}_status"], m[f"{s}_error"]
                if status is None and err is None:
                    continue
                calls[s] += 1
                cs = cost[s]
                cs.calls += 1
                if err or (status is not None and status >= 400):
                    kind = err or f"http_{status}"
                    errors[s][kind] = errors[s].get(kind, 0) + 1
                    continue
                for k, col in (("total", "total_ms"), ("ttft", "ttft_ms")):
                    if m[f"{s}_{col}"] is not None:
                        lat[s][k].append(m[f"{s}_{col}"])
                if m[f"{s}_cost_usd"] is not None:
                    cs.priced_calls += 1
                    cs.cost_usd += m[f"{s}_cost_usd"]
                if m[f"{s}_usage"]:
                    try:
                        u = json.loads(m[f"{s}_usage"])
                        cs.prompt_tokens += int(u.get("prompt_tokens") or u.get("input_tokens") or 0)
                        cs.completion_tokens += int(u.get("completion_tokens") or u.get("output_tokens") or 0)
                    except (ValueError, TypeError, AttributeError):
                        pass
            if m["primary_cost_usd"] is not None and m["candidate_cost_usd"] is not None:
                paired_p.append(m["primary_cost_usd"])
                paired_c.append(m["candidate_cost_usd"])
    for cs in cost.values():
        cs.cost_usd = round(cs.cost_usd, 6)
        cs.cost_per_request = round(cs.cost_usd / cs.priced_calls, 8) if cs.priced_calls else None
    latency = {s: SideLatency(total=_dist(v["total"], edges), ttft=_dist(v["ttft"], edges)) for s, v in lat.items()}
    rates = {s: (sum(errors[s].values()) / calls[s] if calls[s] else None) for s in lat}
    return latency, errors, rates, cost, paired_p, paired_c


def build_report(engine: Engine, plan: RampPlan | None = None, *, since: float | None = None,
                 top: int = 10, now: float | None = None, window: str = "ramp",
                 labels: dict[str, str] | None = None, controller=None) -> Report:
    """Everything the report and the dashboard show. The gates and the headline are the controller's own
    assessment of the ramp (`shadow.ramp.summary.assess`, or `controller.assess` when the dashboard runs inside the
    proxy, so its checks count too); `window` (hour, day, ramp) selects the charts' span."""
    plan = plan or RampPlan()
    now = now or time.time()
    store = RampStore(engine)
    store.ensure()
    ramp = store.load()
    if controller is not None and ramp.started_at is not None and ramp.status is not Status.idle:
        # The proxy's own controller: its registered checks (a candidate's circuit breaker, …) are concerns too.
        assessment = controller.assess(ramp)
    else:
        ramp, assessment = assessment_of(engine, plan, ramp)
    p = schema.pairs
    with engine.connect() as conn:
        q = select(func.count(), func.min(p.c.created_at), func.max(p.c.created_at))
        if since is not None:
            q = q.where(p.c.created_at >= since)
        n_pairs, first, last = conn.execute(q).one()
    edges = _edges()
    latency, errors, rates, cost, paired_p, paired_c = _sides(engine, since, edges)
    gates = assessment.report if assessment is not None else None
    if n_pairs and gates is None:
        src = StoreEvidence(engine)
        start = ramp.started_at if ramp.started_at is not None else (since or 0.0)
        gates = evaluate(src.collect(start, start - 7 * 86400, ramp.step_started_at if ramp.step_started_at is not None else start),
                         plan.gates)
    counters = counter_totals(engine, since=since)
    skips = counters.get("mirror_skip", {})
    projection = None
    if n_pairs and first is not None:
        window_days = max((last - first) / 86400, 1 / 24)
        seen = int(n_pairs + sum(v for k, v in skips.items() if k != "endpoint_not_mirrored"))
        per_month = seen / window_days * 30
        projection = Projection(window_days=round(window_days, 4), observed_requests=seen,
                                requests_per_month=round(per_month, 1),
                                basis="requests seen per day × mean cost per request on pairs priced on both "
                                      "sides (observed tokens, dated price tables and the peak/off-peak window in force at each "
                                      "request's arrival, UTC) × 30 days")
        if paired_p:
            mp, mc = sum(paired_p) / len(paired_p), sum(paired_c) / len(paired_c)
            projection.primary_monthly_usd = round(mp * per_month, 2)
            projection.candidate_monthly_usd = round(mc * per_month, 2)
            projection.savings_monthly_usd = round((mp - mc) * per_month, 2)
            projection.savings_pct = round((mp - mc) / mp * 100, 1) if mp else None
    agreement = _agreement_rows(engine, since, by_family=False)
    if n_pairs:
        # Tool-call metrics are derived from the structural diff (see shadow.ramp.evidence), not stored.
        t0 = since or 0.0
        derived = StoreEvidence(engine).collect(t0, t0, now + 1).comparators
        for metric in DERIVED_METRICS:
            tc = derived.get(metric)
            if tc is None or not tc.candidate.n:
                continue
            c, n = tc.candidate, tc.noise
            row = AgreementRow(comparator=metric, candidate=Rate(n=c.n, disagree=c.bad),
                               noise=Rate(n=n.n, disagree=n.bad))
            if n.n:
                row.excess = round(c.rate - n.rate, 6)
                row.excess_upper = round(excess_bounds(c, n, 0.95)[2], 6)
                row.shown = diffy_reportable(c.bad, round(n.bad * c.n / n.n), c.n)
            agreement.append(row)
    names = family_names(engine, labels)
    decisions = store.decisions(limit=500, since=since)
    return Report(
        window=window, headline=headline_for(ramp, assessment, plan, store.decisions(limit=200)),
        series=build_series(engine, plan, window, now=now, ramp=ramp), family_names=names,
        status_extra=status_extra(engine, since),
        generated_at=now, since=since, first=first, last=last, pairs=int(n_pairs or 0), ramp=ramp,
        plan_steps=plan.steps, gates=gates,
        agreement=agreement,
        families=_agreement_rows(engine, since, by_family=True),
        latency=latency, histogram_edges_ms=edges, errors=errors, error_rates=rates, cost=cost,
        projection=projection, decisions=decisions, top_pairs=_top_pairs(engine, since, top, names), skips=skips,
        endpoints=endpoint_rows(engine, since=since), **_health(engine, since, counters),
    )


def _health(engine: Engine, since: float | None, counters: dict) -> dict:
    from offramp.shadow.status import health

    h = health(engine, since=since, counters=counters)
    return {"accounting": h["accounting"], "breakers": h["breakers"]}


def iso(ts: float | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
