"""Time series of the rollout, read from the store, for the dashboard's and the report's charts.

One pydantic model (`Series`) holds every point a chart draws, so a test can compare the chart with the store.
Disagreement points are cumulative from the window's start: the gates' bounds are confidence sequences (valid at
every look at once, `shadow.ramp.sequential`), so the band drawn at each point is a band the controller could
have acted on at that moment, and on the "ramp" window the right-most point is the gate's figure now. The
other series (latency, cost, served share) are per bucket.
"""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import and_, case, select
from sqlalchemy.engine import Engine

from offramp.shadow.comparators.structural import DERIVED_METRICS, derived_metrics
from offramp.shadow.ramp.gates import quantile
from offramp.shadow.ramp.plan import RampPlan
from offramp.shadow.ramp.sequential import TwoProportions
from offramp.shadow.ramp.store import Decision, RampState, RampStore
from offramp.shadow.store import schema

Window = Literal["hour", "day", "ramp"]
WINDOWS: dict[str, float | None] = {"hour": 3600.0, "day": 86400.0, "ramp": None}
BUCKETS = 24
NOISE_LOOKBACK = 7 * 86400.0  # the controller's default noise window before the ramp's start
# The decisions the served-share chart marks; the rest (pause, resume, set, restart, start) are marked too.
MARKED = ("advance", "hold", "rollback", "approve", "await_approval", "start", "restart", "pause", "resume", "set")


class DisagreementPoint(BaseModel):
    t: float  # bucket end (epoch seconds): counts cover [window start, t)
    n: int  # candidate verdicts
    bad: int
    noise_n: int
    noise_bad: int
    candidate_rate: float | None
    noise_rate: float | None
    excess: float | None = None
    lower: float | None = None  # excess lower bound (fail confidence), always-valid
    upper: float | None = None  # excess upper bound (pass confidence), always-valid


class ComparatorSeries(BaseModel):
    comparator: str
    fail_above: float  # the gate's margin on the excess
    pass_at_most: float
    points: list[DisagreementPoint] = Field(default_factory=list)


class SharePoint(BaseModel):
    t: float  # bucket end
    requests: int  # recorded requests in the bucket
    served_by_candidate: int
    observed: float | None  # served_by_candidate / requests


class Marker(BaseModel):
    t: float
    action: str
    actor: str
    from_share: float
    to_share: float
    reason: str


class LatencyPoint(BaseModel):
    t: float
    primary_n: int = 0
    candidate_n: int = 0
    primary_p50: float | None = None
    primary_p95: float | None = None
    candidate_p50: float | None = None
    candidate_p95: float | None = None
    primary_ttft_p50: float | None = None
    primary_ttft_p95: float | None = None
    candidate_ttft_p50: float | None = None
    candidate_ttft_p95: float | None = None


class CostPoint(BaseModel):
    t: float
    priced: int  # requests priced on both sides in the bucket
    primary_per_request: float | None = None
    candidate_per_request: float | None = None
    savings_monthly_usd: float | None = None  # cumulative projection at 100% (see `Series`)


class Series(BaseModel):
    window: Window
    start: float
    end: float
    bucket_seconds: float
    noise_since: float  # noise-floor verdicts are counted from here (the ramp window: as the controller does)
    comparators: list[ComparatorSeries] = Field(default_factory=list)
    share_steps: list[tuple[float, float]] = Field(default_factory=list)  # (t, share %) of the ramp state
    share: list[SharePoint] = Field(default_factory=list)
    markers: list[Marker] = Field(default_factory=list)
    latency: list[LatencyPoint] = Field(default_factory=list)
    cost: list[CostPoint] = Field(default_factory=list)
    savings_basis: str = ("mean cost per request on pairs priced on both sides since the window's start × requests "
                          "recorded per day × 30")


def window_bounds(window: str, now: float, ramp: RampState, first: float | None) -> tuple[float, float]:
    """[start, end) of a window: the last hour, the last day, or the whole ramp (since `started_at`)."""
    if window not in WINDOWS:
        raise ValueError(f"window: {window!r} is not one of {', '.join(WINDOWS)}")
    span = WINDOWS[window]
    if span is not None:
        return now - span, now
    start = ramp.started_at if ramp.started_at is not None else first
    if start is not None and first is not None and ramp.started_at is not None and first - start > 86400:
        start = min(first, now - 60)  # a ramp row started long before any recorded traffic: chart the traffic
    if start is None or start >= now:
        start = now - 3600.0
    return start, now


def _bucket(t: float, start: float, width: float, n: int) -> int:
    return min(n - 1, max(0, int((t - start) // width)))


def _rate(bad: int, n: int) -> float | None:
    return round(bad / n, 6) if n else None


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(x, nd)


def build_series(engine: Engine, plan: RampPlan | None = None, window: str = "ramp", *, now: float | None = None,
                 buckets: int = BUCKETS, ramp: RampState | None = None) -> Series:
    plan = plan or RampPlan()
    now = time.time() if now is None else now
    store = RampStore(engine)
    ramp = ramp or store.load()
    p, c = schema.pairs, schema.comparisons
    with engine.connect() as conn:
        first = conn.execute(select(p.c.created_at).order_by(p.c.created_at).limit(1)).scalar()
    start, end = window_bounds(window, now, ramp, first)
    width = max((end - start) / buckets, 1e-6)
    ends = [start + width * (i + 1) for i in range(buckets)]
    noise_since = (start - NOISE_LOOKBACK) if window == "ramp" else start
    s = Series(window=window, start=start, end=end, bucket_seconds=round(width, 3), noise_since=noise_since)  # type: ignore[arg-type]

    # -- disagreement per comparator (cumulative), tool-call metrics derived from structural -
    counts: dict[str, dict[str, list[list[int]]]] = {}  # comparator -> side -> [n, bad] per bucket
    base: dict[str, dict[str, list[int]]] = {}  # noise verdicts before the window (ramp window only)

    def add(name: str, side: str, t: float, bad: bool) -> None:
        if t < start:
            b = base.setdefault(name, {}).setdefault(side, [0, 0])
            b[0] += 1
            b[1] += bad
            return
        per = counts.setdefault(name, {}).setdefault(side, [[0, 0] for _ in range(buckets)])
        cell = per[_bucket(t, start, width, buckets)]
        cell[0] += 1
        cell[1] += bad

    # The diff detail is read back only where it matters: structural disagreements (tool-call fields).
    detail_col = case((and_(c.c.comparator == "structural", c.c.agree.is_(False)), c.c.detail), else_=None)
    q = select(c.c.comparator, c.c.side, c.c.agree, c.c.created_at, detail_col).where(and_(
        c.c.agree.is_not(None), c.c.created_at >= min(noise_since, start), c.c.created_at < end))
    with engine.connect() as conn:
        for name, side, agree, t, detail in conn.execute(q):
            if side == "candidate" and t < start:
                continue
            add(name, side, t, not agree)
            if name == "structural":
                hit = derived_metrics(detail) if not agree else set()
                for m in DERIVED_METRICS:
                    add(m, side, t, m in hit)
    for name in sorted(counts):
        cfg = plan.gates.for_comparator(name)
        cs = ComparatorSeries(comparator=name, fail_above=cfg.margin, pass_at_most=cfg.pass_margin)
        cand = counts[name].get("candidate", [[0, 0] for _ in range(buckets)])
        noise = counts[name].get("noise", [[0, 0] for _ in range(buckets)])
        n0, b0 = base.get(name, {}).get("noise", [0, 0])
        cn = cb = 0
        nn, nb = n0, b0
        for i in range(buckets):
            cn, cb = cn + cand[i][0], cb + cand[i][1]
            nn, nb = nn + noise[i][0], nb + noise[i][1]
            pt = DisagreementPoint(t=round(ends[i], 3), n=cn, bad=cb, noise_n=nn, noise_bad=nb,
                                   candidate_rate=_rate(cb, cn), noise_rate=_rate(nb, nn))
            if cn and nn:
                tp = TwoProportions(cb, cn, nb, nn)
                pt.excess = round(tp.estimate, 6)
                pt.lower = round(tp.lower(1 - cfg.fail_confidence, cfg.fail_mixture()), 6)
                pt.upper = round(tp.upper(1 - cfg.pass_confidence, cfg.pass_mixture()), 6)
            cs.points.append(pt)
        s.comparators.append(cs)

    # -- served share, latency and cost per bucket --------------------------------------------------------------
    reqs = [0] * buckets
    served = [0] * buckets
    lat: list[dict[str, list[float]]] = [
        {k: [] for k in ("pt", "ct", "pf", "cf")} for _ in range(buckets)]
    cost_p: list[list[float]] = [[] for _ in range(buckets)]
    cost_c: list[list[float]] = [[] for _ in range(buckets)]
    cols = [p.c.created_at, p.c.served_by, p.c.primary_status, p.c.primary_error, p.c.primary_total_ms,
            p.c.primary_ttft_ms, p.c.primary_cost_usd, p.c.candidate_status, p.c.candidate_error,
            p.c.candidate_total_ms, p.c.candidate_ttft_ms, p.c.candidate_cost_usd]
    with engine.connect() as conn:
        rows = conn.execute(select(*cols).where(p.c.created_at >= start, p.c.created_at < end)).all()
    for r in rows:
        i = _bucket(r.created_at, start, width, buckets)
        reqs[i] += 1
        served[i] += (r.served_by == "candidate")
        p_ok = (r.primary_status is not None or r.primary_error is not None) and not _err(r.primary_status,
                                                                                           r.primary_error)
        c_ok = (r.candidate_status is not None or r.candidate_error is not None) and not _err(r.candidate_status,
                                                                                               r.candidate_error)
        if p_ok:
            if r.primary_total_ms is not None:
                lat[i]["pt"].append(r.primary_total_ms)
            if r.primary_ttft_ms is not None:
                lat[i]["pf"].append(r.primary_ttft_ms)
        if c_ok:
            if r.candidate_total_ms is not None:
                lat[i]["ct"].append(r.candidate_total_ms)
            if r.candidate_ttft_ms is not None:
                lat[i]["cf"].append(r.candidate_ttft_ms)
        if p_ok and c_ok and r.primary_cost_usd is not None and r.candidate_cost_usd is not None:
            cost_p[i].append(r.primary_cost_usd)
            cost_c[i].append(r.candidate_cost_usd)
    seen = 0
    sum_p = sum_c = 0.0
    priced = 0
    for i in range(buckets):
        t = round(ends[i], 3)
        s.share.append(SharePoint(t=t, requests=reqs[i], served_by_candidate=served[i],
                                  observed=_rate(served[i], reqs[i])))
        L = lat[i]
        s.latency.append(LatencyPoint(
            t=t, primary_n=len(L["pt"]), candidate_n=len(L["ct"]),
            primary_p50=_r(quantile(L["pt"], 0.5)), primary_p95=_r(quantile(L["pt"], 0.95)),
            candidate_p50=_r(quantile(L["ct"], 0.5)), candidate_p95=_r(quantile(L["ct"], 0.95)),
            primary_ttft_p50=_r(quantile(L["pf"], 0.5)), primary_ttft_p95=_r(quantile(L["pf"], 0.95)),
            candidate_ttft_p50=_r(quantile(L["cf"], 0.5)), candidate_ttft_p95=_r(quantile(L["cf"], 0.95))))
        seen += reqs[i]
        sum_p, sum_c, priced = sum_p + sum(cost_p[i]), sum_c + sum(cost_c[i]), priced + len(cost_p[i])
        cp = CostPoint(t=t, priced=len(cost_p[i]),
                       primary_per_request=_r(sum(cost_p[i]) / len(cost_p[i]), 8) if cost_p[i] else None,
                       candidate_per_request=_r(sum(cost_c[i]) / len(cost_c[i]), 8) if cost_c[i] else None)
        if priced:
            days = max((ends[i] - start) / 86400, 1 / 24)
            cp.savings_monthly_usd = round((sum_p - sum_c) / priced * seen / days * 30, 2)
        s.cost.append(cp)

    # -- the ramp's share and its decisions -----------------------------------------------------------------------
    decisions: list[Decision] = store.decisions(limit=2000)
    before = [d for d in decisions if d.at < start]
    share0 = before[-1].to_share if before else (0.0 if not decisions else decisions[0].from_share)
    s.share_steps.append((round(start, 3), share0))
    for d in decisions:
        if start <= d.at < end:
            s.share_steps.append((round(d.at, 3), d.to_share))
            s.markers.append(Marker(t=round(d.at, 3), action=d.action, actor=d.actor, from_share=d.from_share,
                                    to_share=d.to_share, reason=d.reason))
    s.share_steps.append((round(end, 3), s.share_steps[-1][1]))
    return s


def _err(status: int | None, error: str | None) -> bool:
    return bool(error) or (status is not None and status >= 400)
