"""The ramp state machine (Argo-style): pass → next step, inconclusive → hold, fail → back to 0 at once.

Automatic decisions need leadership (see `shadow.ramp.store.Leadership`); operator commands do not — they are a
compare-and-swap on the shared row, so they win over whatever the controller was about to do. A failing gate
rolls back even while paused or awaiting approval: pausing stops advancing, never the safety net.

Every reason to roll back or hold is a `Concern`, collected in one place (`RampController.assess`): the gates'
failures and holds, then whatever each registered check reports (`RampController.checks`, e.g. a candidate's
circuit breaker). `ramp status` and `shadow status` show the same assessment the controller acts on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Literal, Protocol

from pydantic import BaseModel

from offramp.shadow.ramp.gates import Evidence, GateReport, Outcome, evaluate
from offramp.shadow.ramp.plan import RampPlan
from offramp.shadow.ramp.store import Decision, RampState, RampStore, Status


class EvidenceSource(Protocol):
    def collect(self, candidate_since: float, noise_since: float, ops_since: float) -> Evidence: ...

    def step_samples(self, since: float) -> int: ...


class CommandError(ValueError):
    """An operator command that does not apply to the current state (one line, says why)."""


class Concern(BaseModel):
    """One reason not to advance: `rollback` (now, at any state), `hold` (stay at this share and record it) or
    `wait` (the step's minimum time or samples are not there yet: not a decision)."""

    action: Literal["rollback", "hold", "wait"]
    source: str  # "gate:<metric>", "step", or a check's own name (e.g. "breaker:deepseek")
    reason: str
    setting: str | None = None  # the config key that governs it
    samples_needed: int | None = None


# A check sees the state and the time and returns its concerns; the controller acts on them with the gates'.
# It may be called more than once per tick (a quick look, then a full one before a decision): no side effects.
Check = Callable[[RampState, float], Iterable[Concern]]


class Assessment(BaseModel):
    report: GateReport
    concerns: list[Concern]

    def of(self, action: str) -> list[Concern]:
        return [c for c in self.concerns if c.action == action]


def gate_concerns(report: GateReport) -> list[Concern]:
    """The gates' failures (roll back) and holds, one concern per blocking metric."""
    out = []
    for m in report.blocking:
        if m.outcome is Outcome.passed:
            continue
        out.append(Concern(action="rollback" if m.outcome is Outcome.fail else "hold", source=f"gate:{m.name}",
                           reason=m.reason, setting=m.setting or None, samples_needed=m.samples_needed))
    return out


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
        checks: Iterable[Check] = (),
    ) -> None:
        self.plan = plan
        self.store = store
        self.source = source
        self.clock = clock
        self.noise_lookback_seconds = noise_lookback_seconds
        self.actor = actor
        self.checks: list[Check] = list(checks)
        self.last_report: GateReport | None = None
        self.last_assessment: Assessment | None = None

    # -- automatic decisions ------------------------------------------------------------------------------

    def evidence(self, st: RampState) -> Evidence:
        start = st.started_at if st.started_at is not None else self.clock()
        step_start = st.step_started_at if st.step_started_at is not None else start
        cand_since = start if self.plan.quality_window == "ramp" else step_start
        return self.source.collect(cand_since, start - self.noise_lookback_seconds, step_start)

    def assess(self, st: RampState, now: float | None = None, evidence: Evidence | None = None,
               detail: bool = True) -> Assessment:
        """Every reason to roll back, hold or wait, from the gates, the step's minimums and each check.

        The one place such reasons are collected: `tick` acts on it, `status` shows it. `detail=False` gives the
        same outcomes without bounds and projections (the cheap look `tick` takes before any decision)."""
        now = self.clock() if now is None else now
        report = evaluate(evidence if evidence is not None else self.evidence(st), self.plan.gates, detail=detail)
        concerns = gate_concerns(report)
        for check in self.checks:
            concerns.extend(check(st, now))
        if st.status is Status.running:
            step_start = st.step_started_at if st.step_started_at is not None else now
            need_s, need_n = self.plan.seconds_for(st.share), self.plan.samples_for(st.share)
            elapsed, samples = now - step_start, self.source.step_samples(step_start)
            if elapsed < need_s:
                concerns.append(Concern(action="wait", source="step", setting="ramp.min_step_seconds",
                                        reason=f"step {st.share:g}%: {elapsed:.0f} of {need_s:g} s"))
            if samples < need_n:
                concerns.append(Concern(action="wait", source="step", setting="ramp.min_step_samples",
                                        samples_needed=need_n - samples,
                                        reason=f"step {st.share:g}%: {samples} of {need_n} comparisons"))
        return Assessment(report=report, concerns=concerns)

    def tick(self) -> Decision | None:
        """One evaluation. The caller holds leadership. Returns the decision written, if any."""
        st = self.store.load()
        if st.status not in _WATCHED:
            self.last_report = self.last_assessment = None
            return None
        now = self.clock()
        ev = self.evidence(st)
        a = self.assess(st, now, ev, detail=False)
        self.last_report, self.last_assessment = a.report, a

        def full() -> Assessment:  # the decision record carries bounds, samples needed and settings
            self.last_assessment = b = self.assess(st, now, ev)
            self.last_report = b.report
            return b

        if a.of("rollback"):
            a = full()
            return self._rollback(st, now, _rollback_reason(a), a.report, actor=self.actor, concerns=a.concerns)
        if st.status is not Status.running or a.of("wait"):
            return None  # not advancing, or the step's minimum time or evidence is not there yet: not a decision
        if a.of("hold"):
            if st.last_hold_at is not None and now - st.last_hold_at < self.plan.hold_record_seconds:
                return None
            a = full()
            why = "; ".join(c.reason for c in a.of("hold"))
            new = st.model_copy(update={"last_hold_at": now, "reason": why})
            d = self._decision("hold", st.share, st.share, a.report, why, now, concerns=a.concerns)
            return d if self.store.save(new, st.version, d) else None
        if st.share >= self.plan.steps[-1]:
            return None  # at the top: keep watching, nothing to advance to
        return self._advance(st, now, full())

    def _advance(self, st: RampState, now: float, a: Assessment) -> Decision | None:
        steps = self.plan.steps
        if st.share >= steps[-1]:
            return None  # at the top: keep watching, nothing to advance to
        nxt_i = self.plan.index_of(st.share) + 1
        nxt = steps[nxt_i]
        step_start = st.step_started_at if st.step_started_at is not None else now
        why = f"gates passed over {self.source.step_samples(step_start)} samples on {st.share:g}%"
        if self.plan.needs_approval(nxt):
            # Every step at or above `approval_required_at` waits here for `approve`; nothing approves it ahead.
            new = st.model_copy(update={"status": Status.awaiting_approval,
                                        "reason": f"{why}; {nxt:g}% needs `migrate shadow ramp approve`"})
            d = self._decision("await_approval", st.share, st.share, a.report, new.reason, now, concerns=a.concerns)
            return d if self.store.save(new, st.version, d) else None
        done = nxt >= steps[-1]
        new = st.model_copy(update={
            "share": nxt, "step": nxt_i, "step_started_at": now, "last_hold_at": None, "reason": why,
            "status": Status.complete if done else Status.running, "last_decision_at": now, "approved": False,
        })
        d = self._decision("advance", st.share, nxt, a.report, f"{why}: {st.share:g}% → {nxt:g}%", now,
                           concerns=a.concerns)
        return d if self.store.save(new, st.version, d) else None

    def _rollback(self, st: RampState, now: float, reason: str, report: GateReport | None, actor: str,
                  concerns: list[Concern] | None = None) -> Decision:
        new = st.model_copy(update={
            "status": Status.rolled_back, "share": 0.0, "step": 0, "approved": False, "reason": reason,
            "step_started_at": now, "last_decision_at": now, "last_hold_at": None,
        })
        d = self._decision("rollback", st.share, 0.0, report, reason, now, actor=actor, concerns=concerns)
        if not self.store.save(new, st.version, d):
            # Someone (an operator) changed the row meanwhile: re-read and roll back from what is there now.
            fresh = self.store.load()
            return self._rollback(fresh, now, reason, report, actor, concerns)
        return d

    def _decision(self, action: str, frm: float, to: float, report: GateReport | None, reason: str, now: float,
                  actor: str | None = None, concerns: list[Concern] | None = None) -> Decision:
        return Decision(
            at=now, action=action, actor=actor or self.actor, from_share=frm, to_share=to,
            outcome=report.outcome.value if report else None, reason=reason,
            figures=[m.model_dump(mode="json") for m in report.metrics] if report else [],
            pair_ids=report.pair_ids[:50] if report else [],
            concerns=[c.model_dump(mode="json") for c in concerns or []],
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
            if st.status is not Status.awaiting_approval:
                # Never ahead of time: a human approves the step the controller has stopped at, with the
                # evidence of that moment in front of them (issue 14).
                raise CommandError(f"approve: nothing awaits approval — the ramp is {st.status.value} at "
                                   f"{st.share:g}%; the controller stops before "
                                   f"{self.plan.approval_required_at:g}% and waits for `approve` there")
            nxt_i = min(self.plan.index_of(st.share) + 1, len(steps) - 1)
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


def _rollback_reason(a: Assessment) -> str:
    gates = [c.reason for c in a.of("rollback") if c.source.startswith("gate:")]
    other = [c.reason for c in a.of("rollback") if not c.source.startswith("gate:")]
    return "; ".join((["gate failed: " + "; ".join(gates)] if gates else []) + other)


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
