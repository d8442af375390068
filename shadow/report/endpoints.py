"""Per-endpoint figures of the shadow store, for the report, the dashboard and `migrate shadow status`: pairs per
mirrored endpoint, where the candidate was sent (a chat-only candidate answers Responses requests through its
chat completions), candidate errors, and for embeddings the nearest-neighbour agreement at each k against the
primary's own, the dimensions on each side and whether the stored vectors must be re-indexed."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine

from offramp.shadow.store import schema
from offramp.shadow.store.queries import agreement_by


class Neighbours(BaseModel):
    comparator: str  # knn_at_K
    k: int
    candidate_mean_overlap: float | None = None  # share of the primary's k nearest neighbours the candidate keeps
    candidate_agree_rate: float | None = None  # inputs keeping at least the threshold share
    candidate_n: int = 0
    noise_mean_overlap: float | None = None  # the primary against itself (second call)
    noise_agree_rate: float | None = None
    noise_n: int = 0


class EndpointRow(BaseModel):
    endpoint: str
    pairs: int = 0
    candidate_sent_to: dict[str, int] = Field(default_factory=dict)  # candidate endpoint -> pairs
    candidate_errors: int = 0
    primary_models: list[str] = Field(default_factory=list)
    candidate_models: list[str] = Field(default_factory=list)
    primary_dims: list[int] = Field(default_factory=list)
    candidate_dims: list[int] = Field(default_factory=list)
    dimension_mismatch: bool = False
    reindex: str | None = None  # why the stored vectors cannot be kept, when they cannot
    neighbours: list[Neighbours] = Field(default_factory=list)


def _reindex(row: EndpointRow) -> str | None:
    if not row.primary_dims or not row.candidate_dims:
        return None
    if set(row.primary_dims) != set(row.candidate_dims):
        row.dimension_mismatch = True
        return (f"re-index needed: dimension mismatch — the candidate's vectors have "
                f"{'/'.join(map(str, row.candidate_dims))} dimensions, the primary's "
                f"{'/'.join(map(str, row.primary_dims))}: an index built on the primary rejects them; re-embed the "
                f"stored corpus with the candidate before switching")
    if set(row.primary_models) != set(row.candidate_models):
        return (f"re-index needed: same {'/'.join(map(str, row.primary_dims))} dimensions but another model — its "
                f"vectors are not comparable with the stored ones; re-embed the stored corpus before switching")
    return None


def endpoint_rows(engine: Engine, *, since: float | None = None) -> list[EndpointRow]:
    p = schema.pairs
    conds = [p.c.created_at >= since] if since is not None else []
    failed = (p.c.candidate_error.is_not(None)) | (p.c.candidate_status >= 400)
    q = (select(p.c.endpoint, p.c.candidate_endpoint, p.c.primary_model, p.c.candidate_model, p.c.primary_dims,
                p.c.candidate_dims, func.count().label("n"),
                func.sum(case((failed, 1), else_=0)).label("errors"))
         .where(*conds)
         .group_by(p.c.endpoint, p.c.candidate_endpoint, p.c.primary_model, p.c.candidate_model, p.c.primary_dims,
                   p.c.candidate_dims))
    rows: dict[str, EndpointRow] = {}
    with engine.connect() as conn:
        for r in conn.execute(q):
            row = rows.setdefault(r.endpoint, EndpointRow(endpoint=r.endpoint))
            row.pairs += int(r.n)
            row.candidate_errors += int(r.errors or 0)
            if r.candidate_endpoint:
                row.candidate_sent_to[r.candidate_endpoint] = row.candidate_sent_to.get(r.candidate_endpoint, 0) + r.n
            for attr, v in (("primary_models", r.primary_model), ("candidate_models", r.candidate_model),
                            ("primary_dims", r.primary_dims), ("candidate_dims", r.candidate_dims)):
                if v is not None and v not in getattr(row, attr):
                    getattr(row, attr).append(v)
    for row in rows.values():
        for attr in ("primary_models", "candidate_models", "primary_dims", "candidate_dims"):
            getattr(row, attr).sort()
        row.reindex = _reindex(row)
    emb = rows.get("/v1/embeddings")
    if emb is not None:
        by: dict[str, Neighbours] = {}
        for a in agreement_by(engine, since=since, by_family=False):
            if not a.comparator.startswith("knn_at_"):
                continue
            nb = by.setdefault(a.comparator, Neighbours(comparator=a.comparator, k=int(a.comparator[7:])))
            mean = round(a.mean_score, 4) if a.mean_score is not None else None
            rate = round(a.rate, 4) if a.rate is not None else None
            if a.side == "candidate":
                nb.candidate_mean_overlap, nb.candidate_agree_rate, nb.candidate_n = mean, rate, a.n
            else:
                nb.noise_mean_overlap, nb.noise_agree_rate, nb.noise_n = mean, rate, a.n
        emb.neighbours = sorted(by.values(), key=lambda n: n.k)
    return sorted(rows.values(), key=lambda r: r.endpoint)
