"""The ramp state machine against a real (SQLite) store: steps, holds, rollback, approval, commands, restart."""

from __future__ import annotations

import pytest

from offramp.shadow.ramp.controller import CommandError, RampController
from offramp.shadow.ramp.plan import RampPlan
from offramp.shadow.ramp.store import RampStore, Status
from tests.rollout.conftest import ScriptedEvidence

PLAN = RampPlan(min_step_seconds=60, min_step_samples=100, hold_record_seconds=0)


def make(engine, clock, source=None, plan=PLAN):
    return RampController(plan, RampStore(engine), source or ScriptedEvidence(), clock=clock)


def walk(ctl, clock, ticks=20):
    out = []
    for _ in range(ticks):
        clock.t += 61
        d = ctl.tick()
        if d:
            out.append(d)
    return out


def test_good_candidate_climbs_to_the_approval_gate_and_stops(engine, clock):
    ctl = make(engine, clock)
    ctl.command("start")
    decisions = walk(ctl, clock)
    shares = [d.to_share for d in decisions if d.action == "advance"]
    assert shares == [1, 5, 25, 50]
    assert decisions[-1].action == "await_approval"
    st = ctl.store.load()
    assert st.status is Status.awaiting_approval and st.share == 50
    d = ctl.command("approve", actor="alice")
    assert d.to_share == 100 and d.actor == "alice"
    assert ctl.store.load().status is Status.complete


def test_min_duration_and_min_samples_gate_each_step(engine, clock):
    src = ScriptedEvidence()
    ctl = make(engine, clock, src)
    ctl.command("start")
    clock.t += 30
    assert ctl.tick() is None  # too early
    clock.t += 31
    src.samples = 50
    assert ctl.tick() is None  # too few samples
    src.samples = 100
    d = ctl.tick()
    assert d.action == "advance" and d.to_share == 1


def test_failing_gate_rolls_back_to_zero_with_reason_figures_and_pairs(engine, clock):
    src = ScriptedEvidence()
    ctl = make(engine, clock, src)
    ctl.command("start")
    walk(ctl, clock, 3)
    assert ctl.store.load().share == 25
    src.cand_rate = 0.10
    clock.t += 1  # immediately: no waiting for the step's minimum time
    d = ctl.tick()
    assert d.action == "rollback" and d.from_share == 25 and d.to_share == 0
    assert "structural" in d.reason and "gate failed" in d.reason
    assert d.pair_ids == ["pair-a", "pair-b"]
    assert any(f["name"] == "structural" and f["outcome"] == "fail" for f in d.figures)
    st = ctl.store.load()
    assert st.status is Status.rolled_back and st.share == 0
    logged = ctl.store.decisions()
    assert logged[-1].id == d.id and logged[-1].figures == d.figures


def test_inconclusive_holds_and_records_the_hold(engine, clock):
    src = ScriptedEvidence(n=120)  # enough to evaluate, too few to be confident
    src.cand_rate = 0.04
    ctl = make(engine, clock, src)
    ctl.command("start")
    d = walk(ctl, clock, 1)[0]
    assert d.action == "hold" and d.outcome == "hold"
    assert ctl.store.load().share == 0


def test_pause_stops_advancing_but_not_the_rollback(engine, clock):
    src = ScriptedEvidence()
    ctl = make(engine, clock, src)
    ctl.command("start")
    walk(ctl, clock, 1)
    ctl.command("pause")
    assert walk(ctl, clock, 3) == []
    assert ctl.store.load().share == 1
    src.errors = 400
    d = ctl.tick()
    assert d.action == "rollback" and "error_rate" in d.reason


def test_resume_continues_the_plan(engine, clock):
    ctl = make(engine, clock)
    ctl.command("start")
    walk(ctl, clock, 1)
    ctl.command("pause")
    ctl.command("resume")
    assert walk(ctl, clock, 1)[0].to_share == 5


def test_set_moves_by_hand_and_pauses(engine, clock):
    ctl = make(engine, clock)
    ctl.command("start")
    d = ctl.command("set", 10)
    st = ctl.store.load()
    assert d.to_share == 10 and st.status is Status.paused and st.share == 10
    ctl.command("resume")
    assert walk(ctl, clock, 1)[0].to_share == 25  # next step above the hand-set share


def test_manual_rollback_and_restart(engine, clock):
    ctl = make(engine, clock)
    ctl.command("start")
    walk(ctl, clock, 2)
    d = ctl.command("rollback", reason="latency complaints")
    assert d.to_share == 0 and d.reason == "latency complaints"
    assert ctl.store.load().share == 0
    ctl.command("start")
    assert ctl.store.load().status is Status.running


@pytest.mark.parametrize("cmd", ["pause", "resume", "approve", "rollback"])
def test_commands_that_do_not_apply_say_why(engine, clock, cmd):
    ctl = make(engine, clock)
    with pytest.raises(CommandError, match=cmd):
        ctl.command(cmd)


def test_start_twice_is_refused(engine, clock):
    ctl = make(engine, clock)
    ctl.command("start")
    with pytest.raises(CommandError, match="already running"):
        ctl.command("start")


def test_set_rejects_out_of_range(engine, clock):
    with pytest.raises(CommandError, match="between 0 and 100"):
        make(engine, clock).command("set", 140)


def test_state_survives_a_restart(engine, clock):
    ctl = make(engine, clock)
    ctl.command("start")
    walk(ctl, clock, 2)
    again = make(engine, clock)  # a new process on the same store
    assert again.store.load().share == 5
    assert walk(again, clock, 1)[0].from_share == 5


def test_operator_write_wins_over_a_stale_controller(engine, clock):
    ctl = make(engine, clock)
    ctl.command("start")
    st = ctl.store.load()
    ctl.command("rollback", reason="stop")
    # A controller that read the row before the rollback cannot overwrite it.
    assert not ctl.store.save(st.model_copy(update={"share": 5.0}), st.version)
    assert ctl.store.load().share == 0


def test_quality_window_spans_the_ramp_and_noise_looks_back(engine, clock):
    src = ScriptedEvidence()
    ctl = make(engine, clock, src)
    ctl.command("start")
    start = clock.t
    walk(ctl, clock, 2)
    cand_since, noise_since, ops_since = src.calls[-1]
    assert cand_since == start
    assert noise_since < start
    assert ops_since > start


def test_full_share_always_waits_for_a_human(tmp_path):
    from offramp.shadow.ramp.plan import PlanError, load_plan

    cfg = tmp_path / "shadow.toml"
    cfg.write_text("[ramp]\napproval_required_at = 101\n")  # would let the controller reach 100% by itself
    with pytest.raises(PlanError, match="ramp.approval_required_at: Input should be less than or equal to 100"):
        load_plan(cfg)


def test_approve_before_the_gate_is_refused_and_the_gate_still_stops_the_ramp(engine, clock):
    """Issue 14: `approve` while running used to answer "approved in advance" and the controller then went to
    100% without a human."""
    ctl = make(engine, clock)
    ctl.command("start")
    walk(ctl, clock, 2)
    before = ctl.store.load()
    with pytest.raises(CommandError, match="nothing awaits approval — the ramp is running at 5%"):
        ctl.command("approve", actor="alice")
    assert ctl.store.load().version == before.version  # nothing written, nothing recorded
    assert [d.action for d in ctl.store.decisions()].count("approve") == 0
    walk(ctl, clock)
    st = ctl.store.load()
    assert st.status is Status.awaiting_approval and st.share == 50


@pytest.mark.parametrize("status", ["paused", "complete", "rolled_back", "idle"])
def test_approve_outside_awaiting_approval_is_always_refused(engine, clock, status):
    from offramp.shadow.ramp.store import RampState

    ctl = make(engine, clock)
    if status != "idle":
        assert ctl.store.save(RampState(status=Status(status), share=25.0, started_at=clock.t), 0)
    with pytest.raises(CommandError, match="nothing awaits approval"):
        ctl.command("approve")


def test_every_step_at_or_above_the_approval_share_waits_for_its_own_approval(engine, clock):
    plan = PLAN.model_copy(update={"approval_required_at": 25.0})
    ctl = make(engine, clock, plan=plan)
    ctl.command("start")
    for share in (5, 25, 50):
        walk(ctl, clock)
        st = ctl.store.load()
        assert (st.status, st.share) == (Status.awaiting_approval, share)
        ctl.command("approve")
    assert ctl.store.load().status is Status.complete


def test_a_share_set_by_hand_does_not_approve_the_next_gated_step(engine, clock):
    plan = PLAN.model_copy(update={"approval_required_at": 25.0})
    ctl = make(engine, clock, plan=plan)
    ctl.command("start")
    ctl.command("set", 30)
    ctl.command("resume")
    walk(ctl, clock)
    st = ctl.store.load()
    assert (st.status, st.share) == (Status.awaiting_approval, 30)


def test_a_registered_check_can_roll_back_or_hold_like_a_gate(engine, clock):
    """The extension point for other reasons to stop (a candidate's circuit breaker): one list of checks."""
    from offramp.shadow.ramp.controller import Concern

    verdict: list[Concern] = []
    ctl = make(engine, clock)
    ctl.checks.append(lambda st, now: list(verdict))
    ctl.command("start")
    walk(ctl, clock, 2)
    verdict[:] = [Concern(action="hold", source="breaker:deepseek", reason="breaker open: 5 timeouts in a row")]
    d = walk(ctl, clock, 1)[0]
    assert d.action == "hold" and d.reason == "breaker open: 5 timeouts in a row"
    assert ctl.store.load().share == 5
    assert any(c["source"] == "breaker:deepseek" for c in d.concerns)
    verdict[:] = [Concern(action="rollback", source="breaker:deepseek", reason="breaker open for 60 s")]
    ctl.command("pause")  # a check's rollback, like a gate's, applies while paused too
    d = ctl.tick()
    assert d.action == "rollback" and d.reason == "breaker open for 60 s" and d.to_share == 0


def test_the_decision_record_carries_each_gates_bounds_thresholds_and_samples(engine, clock):
    src = ScriptedEvidence(n=120)
    src.cand_rate = 0.04
    ctl = make(engine, clock, src)
    ctl.command("start")
    d = walk(ctl, clock, 1)[0]
    stored = ctl.store.decisions()[-1]
    assert stored.id == d.id
    g = next(f for f in stored.figures if f["name"] == "structural")
    assert g["outcome"] == "hold" and g["samples"] == 120 and g["baseline_samples"] == 120
    assert g["lower"] < g["estimate"] < g["upper"]
    assert g["fail_above"] == 0.0025 and g["pass_at_most"] == 0.03
    assert g["fail_confidence"] == 0.98 and g["pass_confidence"] == 0.9
    assert g["samples_needed"] > 0 and g["setting"] == "ramp.gates.disagreement" and g["method"]
    lat = next(f for f in stored.figures if f["name"] == "latency")
    assert lat["estimate"] is not None and lat["fail_above"] == 2.0 and lat["setting"] == "ramp.gates.latency"
    holds = [c for c in stored.concerns if c["action"] == "hold"]
    assert any(c["source"] == "gate:structural" and c["samples_needed"] == g["samples_needed"] for c in holds)


def test_decisions_recorded_before_the_sequential_gates_still_load(engine):
    import json

    from offramp.shadow.ramp.store import ramp_decisions

    with engine.begin() as conn:
        conn.execute(ramp_decisions.insert().values(
            id="old1", at=1.0, action="hold", actor="controller", from_share=0.0, to_share=0.0, outcome="hold",
            reason="inconclusive", data=json.dumps({"figures": [{"name": "structural", "excess_upper": 0.05}],
                                                    "pair_ids": ["p1"]})))
    (d,) = RampStore(engine).decisions()
    assert d.figures == [{"name": "structural", "excess_upper": 0.05}] and d.concerns == [] and d.pair_ids == ["p1"]
