"""Gate evidence read from the shadow store, aggregated across every replica writing to it.

Per comparator: candidate-vs-primary and primary-vs-primary′ verdicts. Metrics derived here because the gates need
them on their own: `tool_calls` (the structural diff touched a tool-call field), `tool_calls_dropped` (the
candidate made fewer tool calls than the primary) and JSON validity (tool-call arguments, or content under a JSON
response_format, that does not parse). Operational figures
(errors, latency, TTFT, cost) come from the pairs table, and so does the cost projection: the tokens of the
pairs priced on both sides, re-priced at each side's dated list prices averaged over the coming week.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import re
import time
from datetime import datetime, timezone

from sqlalchemy import and_, distinct, func, select
from sqlalchemy.engine import Engine

from offramp.shadow.comparators.responses_shape import json_format, to_chat
from offramp.shadow.comparators.structural import DERIVED_METRICS, derived_metrics
from offramp.shadow.ramp.comparator_gates import NOT_RAMPED_ENDPOINTS
from offramp.shadow.ramp.gates import ComparatorEvidence, CostProjection, Evidence, Proportion
from offramp.shadow.store import schema

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")
MAX_PAIR_IDS = 20


def load_stored(text: str | None):
    """A stored body as JSON (redaction only rewrites string values, so stored JSON stays JSON); None if it
    is not JSON (hash-only privacy, a cut stream)."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _invalid_json(body_text: str | None, json_mode: bool) -> bool | None:
    """True/False for a stored completion body; None when there is nothing to judge (no body, no JSON)."""
    body = load_stored(body_text)
    if not isinstance(body, dict):  # not a completion we stored whole (hash-only privacy): cannot judge
        return None
    if body.get("object") == "response":  # a Responses answer: judged in the chat shape its pair compared in
        body = to_chat(body)
    judged = False
    for ch in body.get("choices") or []:
        msg = (ch or {}).get("message") or {}
        for tc in msg.get("tool_calls") or []:
            args = ((tc or {}).get("function") or {}).get("arguments")
            judged = True
            if not isinstance(args, str):
                return True
            try:
                json.loads(args)
            except ValueError:
                return True
        if json_mode and isinstance(msg.get("content"), str):
            judged = True
            try:
                json.loads(_FENCE.sub("", msg["content"].strip()))
            except ValueError:
                return True
    return False if judged else None


def _json_mode(request_text: str | None) -> bool:
    req = load_stored(request_text)
    rf = req.get("response_format") if isinstance(req, dict) else None
    if rf is None and isinstance(req, dict):
        rf = json_format(req)  # Responses: text.format
    return isinstance(rf, dict) and rf.get("type") in ("json_object", "json_schema")


def _errored(status: int | None, error: str | None) -> bool:
    return bool(error) or (status is not None and status >= 400)


_WEEK_STEPS = 7 * 48  # half-hours: DeepSeek's windows start on the half hour (16:30-00:30)


@functools.lru_cache(maxsize=256)
def _price_provider(model: str, hint: str | None) -> str | None:
    """The price table that prices `model`: the configured provider when its table does, else the first table
    (rules/prices/*.toml) listing the model — the pairs record model names, not the proxy's upstream kinds."""
    try:
        from offramp.adapters import cost
    except ImportError:  # pragma: no cover - an install without price tables
        return None
    names = ([hint] if hint else []) + sorted(p.stem for p in cost.PRICES_DIR.glob("*.toml"))
    for name in names:
        try:
            table = cost.load_prices(name)
        except (cost.PriceNotFound, cost.PriceError):
            continue
        if any(fnmatch.fnmatchcase(model, m) for row in table.price for m in row.models):
            return name
    return None


@functools.lru_cache(maxsize=256)
def _week_rates(provider: str, model: str, start_hour: int) -> dict[str, float] | None:
    """USD per 1M tokens (cache hit / miss / output) averaged over the week starting at `start_hour` (epoch hours,
    UTC), every half hour: what uniform traffic would pay, peak and off-peak windows included."""
    from offramp.adapters import cost

    total: dict[str, float] = {}
    for i in range(_WEEK_STEPS):
        at = datetime.fromtimestamp(start_hour * 3600 + i * 1800, timezone.utc)
        try:
            rates = cost.cost_of(provider, model, {}, at).rates
        except (cost.PriceNotFound, cost.PriceError):
            return None
        for k, v in rates.items():
            total[k] = total.get(k, 0.0) + v
    return {k: v / _WEEK_STEPS for k, v in total.items()}


def projected_cost(provider: str | None, model: str | None, usage_text: str | None,
                   now: float | None = None) -> float | None:
    """USD of one call's tokens at the model's list price averaged over the coming week; None when unpriced."""
    usage = load_stored(usage_text)
    if not model or not isinstance(usage, dict):
        return None
    prov = _price_provider(model, provider)
    if prov is None:
        return None
    rates = _week_rates(prov, model, int((now if now is not None else time.time()) // 3600))
    if rates is None:
        return None
    from offramp.adapters.cost import token_split

    tokens = token_split(usage)
    return sum(tokens[k] * rates[k] for k in rates) / 1_000_000


class StoreEvidence:
    """`EvidenceSource` over the shadow store (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine, family: str | None = None,
                 price_providers: dict[str, str | None] | None = None) -> None:
        self.engine = engine
        self.family = family
        # {"primary": "openai", "candidate": "deepseek"}: the proxy's price providers, preferred when they price
        # the recorded model (otherwise the table is found from the model name).
        self.price_providers = price_providers or {}

    def _cmp_where(self, side: str, since: float):
        c = schema.comparisons
        conds = [c.c.side == side, c.c.created_at >= since, c.c.agree.is_not(None)]
        if self.family:
            conds.append(c.c.family == self.family)
        return and_(*conds)

    def _comparators(self, side: str, since: float) -> dict[str, Proportion]:
        c = schema.comparisons
        out: dict[str, Proportion] = {}
        with self.engine.connect() as conn:
            q = (select(c.c.comparator, c.c.agree, func.count()).where(self._cmp_where(side, since))
                 .group_by(c.c.comparator, c.c.agree))
            for name, agree, n in conn.execute(q):
                p = out.setdefault(name, Proportion())
                p.n += int(n)
                if not agree:
                    p.bad += int(n)
            # Tool-call metrics derived from a structural verdict's diff (shadow.comparators.structural): only
            # the disagreements are read back (the noise window spans days: every verdict each tick would not scale).
            structural = out.get("structural")
            derived = {m: Proportion(n=structural.n if structural else 0) for m in DERIVED_METRICS}
            q = select(c.c.pair_id, c.c.detail).where(
                self._cmp_where(side, since), c.c.comparator == "structural", c.c.agree.is_(False)
            ).order_by(c.c.created_at.desc())
            for pair_id, detail in conn.execute(q):
                for m in derived_metrics(detail):
                    d = derived[m]
                    d.bad += 1
                    if side == "candidate" and len(d.pair_ids) < MAX_PAIR_IDS:
                        d.pair_ids.append(pair_id)
            for m, d in derived.items():
                if d.n:
                    out[m] = d
            if side == "candidate":
                for name, p in out.items():
                    if name in DERIVED_METRICS or not p.bad:
                        continue
                    q = (select(c.c.pair_id).where(self._cmp_where(side, since), c.c.comparator == name,
                                                   c.c.agree.is_(False))
                         .order_by(c.c.created_at.desc()).limit(MAX_PAIR_IDS))
                    p.pair_ids = [r[0] for r in conn.execute(q)]
        return out

    def collect(self, candidate_since: float, noise_since: float, ops_since: float) -> Evidence:
        cand = self._comparators("candidate", candidate_since)
        noise = self._comparators("noise", noise_since)
        ev = Evidence(comparators={
            name: ComparatorEvidence(candidate=cand.get(name, Proportion()), noise=noise.get(name, Proportion()))
            for name in sorted(set(cand) | set(noise))
        })
        p = schema.pairs
        cols = [p.c.id, p.c.request_body, p.c.primary_status, p.c.primary_error, p.c.primary_body,
                p.c.primary_total_ms, p.c.primary_ttft_ms, p.c.primary_cost_usd, p.c.candidate_status,
                p.c.candidate_error, p.c.candidate_body, p.c.candidate_total_ms, p.c.candidate_ttft_ms,
                p.c.candidate_cost_usd, p.c.primary_model, p.c.candidate_model, p.c.primary_usage,
                p.c.candidate_usage]
        # Operational gates measure what the ramp serves: endpoints it never serves (embeddings) are left out.
        conds = [p.c.created_at >= ops_since, p.c.endpoint.not_in(NOT_RAMPED_ENDPOINTS)]
        if self.family:
            conds.append(p.c.family == self.family)
        with self.engine.connect() as conn:
            rows = conn.execute(select(*cols).where(and_(*conds)).order_by(p.c.created_at.desc())).all()
        now = time.time()
        proj_p = proj_c = 0.0
        proj_n = 0
        for r in rows:
            p_tried = r.primary_status is not None or r.primary_error is not None
            c_tried = r.candidate_status is not None or r.candidate_error is not None
            p_err, c_err = _errored(r.primary_status, r.primary_error), _errored(r.candidate_status, r.candidate_error)
            if p_tried:
                ev.errors_primary.n += 1
                ev.errors_primary.bad += p_err
            if c_tried:
                ev.errors_candidate.n += 1
                if c_err:
                    ev.errors_candidate.bad += 1
                    if len(ev.errors_candidate.pair_ids) < MAX_PAIR_IDS:
                        ev.errors_candidate.pair_ids.append(r.id)
            jm = _json_mode(r.request_body)
            if p_tried and not p_err:
                bad = _invalid_json(r.primary_body, jm)
                if bad is not None:
                    ev.json_invalid_primary.n += 1
                    ev.json_invalid_primary.bad += bad
                if r.primary_total_ms is not None:
                    ev.latency_primary.append(r.primary_total_ms)
                if r.primary_ttft_ms is not None:
                    ev.ttft_primary.append(r.primary_ttft_ms)
            if c_tried and not c_err:
                bad = _invalid_json(r.candidate_body, jm)
                if bad is not None:
                    ev.json_invalid_candidate.n += 1
                    ev.json_invalid_candidate.bad += bad
                    if bad and len(ev.json_invalid_candidate.pair_ids) < MAX_PAIR_IDS:
                        ev.json_invalid_candidate.pair_ids.append(r.id)
                if r.candidate_total_ms is not None:
                    ev.latency_candidate.append(r.candidate_total_ms)
                if r.candidate_ttft_ms is not None:
                    ev.ttft_candidate.append(r.candidate_ttft_ms)
            if r.primary_cost_usd is not None and r.candidate_cost_usd is not None and not (p_err or c_err):
                ev.cost_primary.append(r.primary_cost_usd)
                ev.cost_candidate.append(r.candidate_cost_usd)
                pp = projected_cost(self.price_providers.get("primary"), r.primary_model, r.primary_usage, now)
                pc = projected_cost(self.price_providers.get("candidate"), r.candidate_model, r.candidate_usage, now)
                if pp is not None and pc is not None:
                    proj_p, proj_c, proj_n = proj_p + pp, proj_c + pc, proj_n + 1
        if proj_n:
            ev.cost_projection = CostProjection(
                primary_usd=proj_p / proj_n, candidate_usd=proj_c / proj_n, pairs=proj_n,
                basis="tokens of the pairs priced on both sides × each model's dated list price averaged over the "
                      "coming week (every half hour, time-of-day windows included)")
        return ev

    def step_samples(self, since: float) -> int:
        """Pairs with at least one candidate verdict since `since` (any replica)."""
        c = schema.comparisons
        with self.engine.connect() as conn:
            n = conn.execute(select(func.count(distinct(c.c.pair_id))).where(self._cmp_where("candidate", since)))
            return int(n.scalar() or 0)


def disagreeing_pairs(engine: Engine, since: float, limit: int = 10) -> list[tuple[str, int]]:
    """Pair ids ranked by how many comparators disagreed on the candidate side (ties: newest first). Embeddings
    verdicts (one per input) are left out: there is no answer to show side by side, only neighbours."""
    c = schema.comparisons
    q = (select(c.c.pair_id, func.count().label("n"), func.max(c.c.created_at).label("t"))
         .where(c.c.side == "candidate", c.c.agree.is_(False), c.c.created_at >= since,
                ~c.c.comparator.like("knn\\_at\\_%", escape="\\"))
         .group_by(c.c.pair_id).order_by(func.count().desc(), func.max(c.c.created_at).desc()).limit(limit))
    with engine.connect() as conn:
        return [(r.pair_id, int(r.n)) for r in conn.execute(q)]

