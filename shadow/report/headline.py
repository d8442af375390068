"""The dashboard's first line: what state the ramp is in, the one metric that decides what happens next, and the
command the operator can run now.

It reads the controller's own assessment (`shadow.ramp.summary.assess`, the one `ramp status` prints), so the
headline can never say HOLD while the gate rows it points at say pass: the deciding metric is a concern the
controller would act on, or for a stopped ramp the concern recorded with the decision that stopped it.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.engine import Engine

from offramp.shadow.ramp.controller import Assessment, Concern, explain
from offramp.shadow.ramp.gates import MetricResult
from offramp.shadow.ramp.plan import RampPlan
from offramp.shadow.ramp.store import Decision, RampState, RampStore, Status
from offramp.shadow.ramp.summary import assess

CMD = "migrate shadow ramp"


class Headline(BaseModel):
    state: str  # idle | running | hold | waiting | awaiting_approval | paused | complete | rolled_back | failing
    share: float
    title: str  # e.g. "Holding at 5%"
    metric: str | None = None  # the deciding gate or check ("latency", "step", "breaker:deepseek")
    reason: str = ""  # the controller's own words for it
    figure: str | None = None  # estimate and bounds, e.g. "+1.20 pp (−0.40 … +2.90 pp)"
    samples_needed: int | None = None
    setting: str | None = None
    next_step: str
    command: str | None = None
    explanation: str = ""  # `ramp status`'s line for the state
    decided_by: str | None = None  # the recorded decision it rests on: "hold by controller at 12:03:04 UTC"


def _figure(m: MetricResult | None) -> str | None:
    if m is None or m.estimate is None:
        return None
    if m.kind == "ratio":
        lo = "—" if m.lower is None else f"×{m.lower:.2f}"
        hi = "∞" if m.upper is None else f"×{m.upper:.2f}"
        return f"×{m.estimate:.2f} ({lo} … {hi}; allowed ×{m.pass_at_most:g})"
    lo = "—" if m.lower is None else f"{m.lower * 100:+.2f}"
    hi = "—" if m.upper is None else f"{m.upper * 100:+.2f}"
    return (f"excess {m.estimate * 100:+.2f} pp ({lo} … {hi} pp; fails above "
            f"{(m.fail_above or 0) * 100:.2f}, passes at ≤ {(m.pass_at_most or 0) * 100:.2f})")


def _metric(a: Assessment | None, source: str) -> MetricResult | None:
    if a is None or not source.startswith("gate:"):
        return None
    name = source[5:]
    return next((m for m in a.report.metrics if m.name == name), None)


def _deciding(concerns: list[Concern]) -> Concern:
    """The concern that keeps the ramp where it is longest: no decision in sight first, then most samples needed."""
    return max(concerns, key=lambda c: (c.samples_needed is None, c.samples_needed or 0))


def _from(c: Concern, a: Assessment | None, **kw) -> dict:
    m = _metric(a, c.source)
    return dict(metric=c.source.removeprefix("gate:"), reason=c.reason, figure=_figure(m),
                samples_needed=c.samples_needed, setting=c.setting, **kw)


def _last(decisions: list[Decision], *actions: str) -> Decision | None:
    return next((d for d in reversed(decisions) if d.action in actions), None)


def headline_for(st: RampState, a: Assessment | None, plan: RampPlan, decisions: list[Decision]) -> Headline:
    """The headline of a state and the controller's assessment of it (None: no ramp started)."""
    share = f"{st.share:g}%"
    steps = plan.steps
    nxt = steps[min(plan.index_of(st.share) + 1, len(steps) - 1)]
    base = dict(share=st.share, explanation=explain(st, plan) if st.started_at else "")

    def by(d: Decision | None) -> str | None:
        return f"{d.action} by {d.actor} at {d.when}" if d else None

    if st.status is Status.idle:
        return Headline(state="idle", title="No ramp yet: the primary serves everything", reason=st.reason,
                        next_step="start a ramp at 0% (shadow only): the gates then decide each step",
                        command=f"{CMD} start", **base)
    rollback = a.of("rollback") if a is not None else []
    if rollback and st.status is not Status.rolled_back:
        c = rollback[0]
        return Headline(state="failing", title=f"Failing at {share}: the controller rolls back at its next look",
                        next_step="roll back now, or let the controller do it within seconds",
                        command=f"{CMD} rollback", **_from(c, a), **base)
    if st.status is Status.rolled_back:
        d = _last(decisions, "rollback")
        recorded = [Concern.model_validate(x) for x in (d.concerns if d else []) if x.get("action") == "rollback"]
        kw = _from(recorded[0], None) if recorded else dict(metric=None, reason=st.reason)
        if d is not None and d.figures and kw.get("metric"):
            m = next((MetricResult.model_validate(f) for f in d.figures if f.get("name") == kw["metric"]), None)
            kw["figure"] = _figure(m)
        kw["reason"] = st.reason or kw.get("reason", "")
        return Headline(state="rolled_back", title="Rolled back: the primary serves everything",
                        next_step="read the disagreeing pairs below, fix the candidate or its config, then start "
                                  "again from 0%", command=f"{CMD} start", decided_by=by(d), **kw, **base)
    if a is None:  # a ramp row without a start time: nothing was assessed, say what the row says
        return Headline(state=st.status.value, title=f"{st.status.value} at {share}", reason=st.reason,
                        next_step="see `ramp status`", command=f"{CMD} status", **base)
    if st.status is Status.awaiting_approval:
        d = _last(decisions, "await_approval")
        hold = a.of("hold")
        kw = _from(_deciding(hold), a) if hold else dict(metric=None, reason=st.reason)
        kw["reason"] = st.reason if not hold else kw["reason"]
        return Headline(state="awaiting_approval", title=f"Waiting for your approval to go from {share} to {nxt:g}%",
                        next_step=f"review the evidence, then approve {nxt:g}% (or roll back)",
                        command=f"{CMD} approve", decided_by=by(d), **kw, **base)
    if st.status is Status.paused:
        return Headline(state="paused", title=f"Paused at {share}", reason=st.reason,
                        next_step="resume the plan when ready (a failing gate still rolls back)",
                        command=f"{CMD} resume", decided_by=by(_last(decisions, "pause", "set")), **base)
    if st.status is Status.complete:
        hold = a.of("hold")
        kw = _from(_deciding(hold), a) if hold else dict(metric=None, reason=st.reason)
        return Headline(state="complete", title=f"Complete: the candidate serves {share}",
                        next_step="keep watching (a failing gate still rolls back); sign off with the report",
                        command="migrate shadow report --format html --output rollout.html",
                        decided_by=by(_last(decisions, "approve", "advance")), **kw, **base)
    # running: the controller records nothing while a step's minimum is not met (`wait`), then holds on a gate
    hold, wait = a.of("hold"), a.of("wait")
    if wait:
        c = _deciding(wait)
        more = ""
        if hold:
            g = _deciding(hold)
            more = f"; {g.source.removeprefix('gate:')} then still holds ({g.reason})"
        return Headline(state="waiting", title=f"Running at {share}: not enough evidence on this step yet",
                        next_step=f"nothing to do: {nxt:g}% follows once the step's minimum is met and the gates "
                                  f"pass{more}", command=f"{CMD} status", **_from(c, a), **base)
    if hold:
        c = _deciding(hold)
        if not c.source.startswith("gate:"):
            step = f"wait for {c.source} to clear, or roll back"
        elif c.samples_needed:
            step = f"wait (~{c.samples_needed:,} more samples), or change {c.setting}; watch it here"
        else:
            step = (f"no decision in sight at these rates: change {c.setting}, or roll back if the candidate "
                    "is not good enough")
        return Headline(state="hold", title=f"Holding at {share}: {c.source.removeprefix('gate:')} is not decided",
                        next_step=step,
                        command=f"{CMD} status", decided_by=by(_last(decisions, "hold")), **_from(c, a), **base)
    if st.share >= steps[-1]:
        return Headline(state="running", title=f"Running at {share}, the top of the plan", reason=st.reason,
                        next_step="keep watching; sign off with the report",
                        command="migrate shadow report --format html --output rollout.html", **base)
    return Headline(state="running", title=f"Running at {share}: every gate passes",
                    reason="; ".join(a.report.reasons), next_step=f"nothing to do: the controller moves to {nxt:g}% "
                    "at its next look" + (" and then waits for approval" if plan.needs_approval(steps[min(
                        plan.index_of(nxt) + 1, len(steps) - 1)]) else ""), command=f"{CMD} status", **base)


def assessment_of(engine: Engine, plan: RampPlan, st: RampState | None = None,
                  price_providers: dict[str, str | None] | None = None) -> tuple[RampState, Assessment | None]:
    """`summary.assess`, also for a ramp that started at the epoch (a start time of 0 is still a start)."""
    st = st or RampStore(engine).load()
    if st.started_at is None or st.status is Status.idle:
        return st, None
    if st.started_at:
        return assess(engine, plan, st, price_providers)
    from offramp.shadow.ramp.controller import RampController
    from offramp.shadow.ramp.evidence import StoreEvidence

    ctl = RampController(plan, RampStore(engine), StoreEvidence(engine, price_providers=price_providers))
    return st, ctl.assess(st)


def headline(engine: Engine, plan: RampPlan, st: RampState | None = None,
             assessment: Assessment | None = None) -> Headline:
    store = RampStore(engine)
    if st is None or assessment is None:
        st, assessment = assessment_of(engine, plan, st)
    return headline_for(st, assessment, plan, store.decisions(limit=200))
