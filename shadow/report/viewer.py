"""`/dashboard/pairs?family=…` or `?gate=…`: the worst disagreeing pairs of what the operator clicked."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from offramp.shadow.ramp.plan import RampPlan
from offramp.shadow.report.build import family_names, pair_views
from offramp.shadow.report.pairs import comparator_names, worst_pair_ids
from offramp.shadow.report.render import render_pairs_page

# Gates whose examples are pairs without a comparator verdict of their own: their evidence names the pairs.
_EVIDENCE_GATES = ("json_validity", "error_rate")


def viewer_page(engine: Engine, plan: RampPlan, *, family: str | None = None, gate: str | None = None,
                limit: int = 10, labels: dict[str, str] | None = None) -> str:
    names = family_names(engine, labels)
    what = []
    if family:
        fam = names.get(family)
        what.append(f"family {fam.name if fam else family}")
    note = ""
    if gate is None:
        ids = worst_pair_ids(engine, family=family, limit=limit)
    elif gate in comparator_names(engine):
        what.append(f"gate {gate}")
        ids = worst_pair_ids(engine, family=family, gate=gate, limit=limit)
    elif gate in _EVIDENCE_GATES:
        from offramp.shadow.ramp.summary import assess

        what.append(f"gate {gate}")
        st, a = assess(engine, plan)
        m = next((m for m in a.report.metrics if m.name == gate), None) if a else None
        ids = worst_pair_ids(engine, family=family, candidates=m.pair_ids if m else [], limit=limit)
        note = "the pairs the gate counted against the candidate (newest examples), worst first"
    else:
        what.append(f"gate {gate}")
        ids = []
        note = (f"{gate} is measured over all requests (a quantile or a mean), not pair by pair: see its chart "
                "on the dashboard")
    views = pair_views(engine, ids, names)
    if any(not pv.diff.bodies_stored for pv in views):
        note = (note + "; " if note else "") + "bodies are not stored under hash-only privacy: outcomes only"
    title = "Worst disagreeing pairs" + (f" — {', '.join(what)}" if what else "")
    return render_pairs_page(title, views, note)
