"""What holds the ramp, in the words `migrate shadow status` and `migrate shadow ramp status` both print: each
concern the controller would act on now, with the samples it still needs and the setting that governs it."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from offramp.shadow.ramp.controller import Assessment, Concern, RampController, explain
from offramp.shadow.ramp.evidence import StoreEvidence
from offramp.shadow.ramp.plan import RampPlan
from offramp.shadow.ramp.store import RampState, RampStore, Status


def assess(engine: Engine, plan: RampPlan, st: RampState | None = None,
           price_providers: dict[str, str | None] | None = None) -> tuple[RampState, Assessment | None]:
    """The state and the controller's assessment of it now (None before any ramp started)."""
    store = RampStore(engine)
    st = st or store.load()
    if not st.started_at:
        return st, None
    ctl = RampController(plan, store, StoreEvidence(engine, price_providers=price_providers))
    return st, ctl.assess(st)


def concern_line(c: Concern) -> str:
    """One line: what holds (or would roll back), how many more samples, and which setting governs it."""
    extra = []
    if c.samples_needed and f"{c.samples_needed} more" not in c.reason:
        extra.append(f"needs ~{c.samples_needed} more samples")
    if c.setting and c.setting not in c.reason:
        extra.append(f"set by {c.setting}")
    return c.reason + (f" ({'; '.join(extra)})" if extra else "")


def ramp_summary(engine: Engine, plan: RampPlan) -> dict | None:
    """For `migrate shadow status --json`: the ramp's state and every concern holding it; None without a ramp."""
    st, a = assess(engine, plan)
    if a is None:
        return None
    holding = [c for c in a.concerns if c.action != "rollback"] if st.status is Status.running else []
    return {
        "status": st.status.value, "share": st.share, "explanation": explain(st, plan),
        "gates": a.report.outcome.value,
        "rollback": [c.model_dump(mode="json") for c in a.of("rollback")],
        "holding": [c.model_dump(mode="json") for c in holding],
    }


def summary_lines(summary: dict | None) -> list[str]:
    """The ramp section of `migrate shadow status`."""
    if summary is None:
        return []
    out = [f"Ramp: {summary['status']} at {summary['share']:g}% — {summary['explanation']}"]
    for c in summary["rollback"]:
        out.append(f"  would roll back: {concern_line(Concern.model_validate(c))}")
    for c in summary["holding"]:
        out.append(f"  holding: {concern_line(Concern.model_validate(c))}")
    return out
