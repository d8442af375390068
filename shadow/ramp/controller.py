"""The ramp state machine (Argo-style): pass → next step, inconclusive → hold, fail → back to 0 at once.

Automatic decisions need leadership (see `shadow.ramp.store.Leadership`); operator commands do not — they are a
compare-and-swap on the shared row, so they win over whatever the controller was about to do. A failing gate
rolls back even while paused or awaiting approval: pausing stops advancing, never the safety net.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from offramp.shadow.ramp.gates import Evidence, GateReport, Outcome, evaluate
from offramp.shadow.ramp.plan import RampPlan
from offramp.shadow.ramp.store import Decision, RampState, RampStore, Status


class EvidenceSource(Protocol):
    def collect(self, candidate_since: float, noise_since: float, ops_since: float) -> Evidence: ...

    def step_samples(self, since: float) -> int: ...


class CommandError(ValueError):
    """An operator command that does not apply to the current state (one line, says why)."""


_WATCHED = (Status.running, Status.paused, Status.awaiting_approval, Status.complete)


class RampController:
    def __init__(
        self,
        plan: RampPlan,
        store: RampStore,
        source: EvidenceSource,
        clock: Callable[[], float] = time.time,
        noise_lookback_seconds: float = 7 * 86400,
        actor: str = "controller",
    ) -> None:
        self.plan = plan
        self.store = store
        self.source = source
        self.clock = clock
        self.noise_lookback_seconds = noise_lookback_seconds
        self.actor = actor
        self.last_report: GateReport | None = None

    # -- automatic decisions ------------------------------------------------------------------------------

    def evidence(self, st: RampState) -> Evidence:
        start = st.started_at if st.started_at is not None else self.clock()
        step_start = st.step_started_at if st.step_started_at is not None else start
        cand_since = start if self.plan.quality_window == "ramp" else step_start
        return self.source.collect(cand_since, start - self.noise_lookback_seconds, step_start)

    def tick(self) -> Decision | None:
        """One evaluation. The caller holds leadership. Returns the decision written, if any."""
        st = self.store.load()
        if st.status not in _WATCHED:
            self.last_report = None
            return None
        now = self.clock()
        report = evaluate(self.evidence(st), self.plan.gates)
        self.last_report = report
        if report.outcome is Outcome.fail:
            return self._rollback(st, now, "gate failed: " + "; ".join(report.reasons), report, actor=self.actor)
        if st.status is not Status.running:
            return None
        step_start = st.step_started_at if st.step_started_at is not None else now
        elapsed = now - step_start
        need_s, need_n = self.plan.seconds_for(st.share), self.plan.samples_for(st.share)
        samples = self.source.step_samples(step_start)
        if elapsed < need_s or samples < need_n:
            return None  # the step's minimum time or evidence is not there yet: not a decision
        if report.outcome is Outcome.hold:
            if st.last_hold_at is not None and now - st.last_hold_at < self.plan.hold_record_seconds:
                return None
            new = st.model_copy(update={"last_hold_at": now, "reason": "; ".join(report.reasons)})
            d = self._decision("hold", st.share, st.share, report, "; ".join(report.reasons), now)
            return d if self.store.save(new, st.version, d) else None
        return self._advance(st, now, report)

    def _advance(self, st: RampState, now: float, report: GateReport) -> Decision | None:
        steps = self.plan.steps
        if st.share >= steps[-1]:
            return None  # at the top: keep watching, nothing to advance to
        nxt_i = self.plan.index_of(st.share) + 1
        nxt = steps[nxt_i]
        why = f"gates passed over {self.source.step_samples(st.step_started_at if st.step_started_at is not None else now)} samples on {st.share:g}%"
        if self.plan.needs_approval(nxt) and not st.approved:
            if st.status is Status.awaiting_approval:
                return None
            new = st.model_copy(update={"status": Status.awaiting_approval,
                                        "reason": f"{why}; {nxt:g}% needs `migrate shadow ramp approve`"})
            d = self._decision("await_approval", st.share, st.share, report, new.reason, now)
            return d if self.store.save(new, st.version, d) else None
        done = nxt >= steps[-1]
        new = st.model_copy(update={
            "share": nxt, "step": nxt_i, "step_started_at": now, "last_hold_at": None, "reason": why,
            "status": Status.complete if done else Status.running, "last_decision_at": now,
        })
        d = self._decision("advance", st.share, nxt, report, f"{why}: {st.share:g}% → {nxt:g}%", now)
        return d if self.store.save(new, st.version, d) else None

    def _rollback(self, st: RampState, now: float, reason: str, report: GateReport | None, actor: str) -> Decision:
        new = st.model_copy(update={
            "status": Status.rolled_back, "share": 0.0, "step": 0, "approved": False, "reason": reason,
            "step_started_at": now, "last_decision_at": now, "last_hold_at": None,
        })
        d = self._decision("rollback", st.share, 0.0, report, reason, now, actor=actor)
        if not self.store.save(new, st.version, d):
            # Someone (an operator) changed the row meanwhile: re-read and roll back from what is there now.
            fresh = self.store.load()
            return self._rollback(fresh, now, reason, report, actor)
        return d

    def _decision(self, action: str, frm: float, to: float, report: GateReport | None, reason: str, now: float,
                  actor: str | None = None) -> Decision:
        return Decision(
            at=now, action=action, actor=actor or self.actor, from_share=frm, to_share=to,
            outcome=report.outcome.value if report else None, reason=reason,
            figures=[m.model_dump(mode="json") for m in report.metrics] if report else [],
            pair_ids=report.pair_ids[:50] if report else [],
        )

    # -- operator commands ----------------------------------------------------------------------------------

    def command(self, cmd: str, value: float | None = None, actor: str = "operator", reason: str = "") -> Decision:
        """start | restart | pause | resume | rollback | approve | set.

        Retries the compare-and-swap on a concurrent write."""
        for _ in range(20):
            st = self.store.load()
            now = self.clock()
            new, d = self._apply(st, cmd, value, actor, reason, now)
            if self.store.save(new, st.version, d):
                return d
        raise CommandError(f"{cmd}: the ramp state kept changing under us; try again")

    def _apply(self, st: RampState, cmd: str, value: float | None, actor: str, reason: str,
               now: float) -> tuple[RampState, Decision]:
        steps = self.plan.steps

        def dec(action: str, to: float, why: str) -> Decision:
            return Decision(at=now, action=action, actor=actor, from_share=st.share, to_share=to, reason=why)

        if cmd in ("start", "restart"):
            plan_txt = " → ".join(f"{s:g}%" for s in steps)
            in_use = st.status in (Status.running, Status.paused, Status.awaiting_approval, Status.complete)
            if in_use or st.share > 0:
                if cmd == "start":
                    raise CommandError(_start_refusal(st))
                # Forced: the log must say what was dropped, since real traffic may just have moved back.
                why = (f"ramp restarted by hand from {st.share:g}% ({st.status.value}); candidate share → "
                       f"{steps[0]:g}% now" + (f": {reason}" if reason else "") + f"; plan {plan_txt}")
                action = "restart"
            else:
                why = reason or f"ramp started: {plan_txt}"
                action = "start"
            new = RampState(status=Status.running, share=steps[0], step=0, started_at=now, step_started_at=now,
                            reason=why, last_decision_at=now)
            return new, dec(action, steps[0], why)
        if cmd == "pause":
            if st.status not in (Status.running, Status.awaiting_approval):
                raise CommandError(f"pause: nothing to pause (ramp is {st.status.value})")
            why = reason or f"paused at {st.share:g}%"
            return st.model_copy(update={"status": Status.paused, "reason": why}), dec("pause", st.share, why)
        if cmd == "resume":
            if st.status is not Status.paused:
                raise CommandError(f"resume: the ramp is {st.status.value}, not paused")
            why = reason or f"resumed at {st.share:g}%"
            return st.model_copy(update={"status": Status.running, "reason": why}), dec("resume", st.share, why)
        if cmd == "rollback":
            if st.status is Status.idle:
                raise CommandError("rollback: no ramp has been started")
            why = reason or "manual rollback"
            new = st.model_copy(update={"status": Status.rolled_back, "share": 0.0, "step": 0, "approved": False,
                                        "reason": why, "step_started_at": now, "last_decision_at": now})
            return new, dec("rollback", 0.0, why)
        if cmd == "approve":
            if st.status not in (Status.awaiting_approval, Status.running, Status.paused):
                raise CommandError(f"approve: nothing awaits approval (ramp is {st.status.value})")
            nxt_i = min(self.plan.index_of(st.share) + 1, len(steps) - 1)
            if st.status is not Status.awaiting_approval:
                # Approving ahead of time: the controller will go on without stopping at the gate.
                why = reason or f"approved in advance at {st.share:g}%"
                return st.model_copy(update={"approved": True, "reason": why}), dec("approve", st.share, why)
            nxt = steps[nxt_i]
            done = nxt >= steps[-1]
            why = reason or f"approved: {st.share:g}% → {nxt:g}%"
            new = st.model_copy(update={"approved": True, "share": nxt, "step": nxt_i, "step_started_at": now,
                                        "status": Status.complete if done else Status.running, "reason": why,
                                        "last_decision_at": now})
            return new, dec("approve", nxt, why)
        if cmd == "set":
            if value is None or not 0 <= value <= 100:
                raise CommandError("set: the share must be a percentage between 0 and 100")
            why = reason or f"share set to {value:g}% by hand (ramp paused; `resume` continues the plan)"
            started = st.started_at if st.started_at is not None else now
            new = st.model_copy(update={
                "status": Status.paused, "share": float(value), "step": self.plan.index_of(value),
                "step_started_at": now, "started_at": started, "approved": st.approved or
                self.plan.needs_approval(value), "reason": why, "last_decision_at": now})
            return new, dec("set", float(value), why)
        raise CommandError(f"unknown command {cmd!r} "
                           "(status, start, restart, pause, resume, rollback, approve, set)")


def _start_refusal(st: RampState) -> str:
    """`start` never moves traffic back silently: a one-word command must not undo a rollout (issue 6)."""
    if st.status is Status.complete:
        what = f"start: the ramp is complete — the candidate serves {st.share:g}% of traffic"
    elif st.share > 0:
        what = f"start: a ramp is already {st.status.value} at {st.share:g}% — the candidate serves that share"
    else:
        what = f"start: a ramp is already {st.status.value} at {st.share:g}%"
    fix = "`migrate shadow ramp rollback` first, or " if st.share > 0 else ""
    return (f"{what}; {fix}`migrate shadow ramp start --restart` to begin a new ramp from 0% now "
            "(recorded as a restart)")


# One line per state for `ramp status`: what traffic does now and what the operator can do next.
_EXPLAIN: dict[Status | str, str] = {
    Status.idle: "no ramp started: all traffic goes to the primary; `migrate shadow ramp start` begins one at 0%",
    Status.running: "ramping: the candidate serves {share}% and moves to {next}% once the gates pass "
                    "(a failing gate rolls back to 0%)",
    "running_top": "running at the top of the plan: the candidate serves {share}% and is still watched (a failing "
                   "gate rolls back to 0%)",
    Status.paused: "paused: the candidate keeps serving {share}% and does not advance (a failing gate still rolls "
                   "back); `migrate shadow ramp resume` continues",
    Status.awaiting_approval: "waiting for a human: the candidate serves {share}%; {next}% needs "
                              "`migrate shadow ramp approve` (a failing gate still rolls back)",
    Status.complete: "complete: the candidate serves {share}% and is still watched (a failing gate rolls back); "
                     "`start` refuses here — `rollback`, or `start --restart` to ramp again from 0%",
    Status.rolled_back: "rolled back: all traffic goes to the primary; `migrate shadow ramp start` begins a new "
                        "ramp at 0%",
}


def explain(st: RampState, plan: RampPlan) -> str:
    """The state in one operator-facing line (the row's `reason` says why it got there)."""
    steps = plan.steps
    nxt = steps[min(plan.index_of(st.share) + 1, len(steps) - 1)]
    key = "running_top" if st.status is Status.running and st.share >= steps[-1] else st.status
    return _EXPLAIN[key].format(share=f"{st.share:g}", next=f"{nxt:g}")
