"""`migrate shadow ramp ...` against a store: what an operator types and sees."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import offramp.migrate.commands  # noqa: F401  (registers every command, as the console script does)
from offramp.migrate.cli_app import app

cli = CliRunner()


def ramp(url: str, *args: str):
    return cli.invoke(app, ["shadow", "ramp", *args, "--store", url])


def test_operator_walks_the_ramp_by_hand(engine, tmp_path):
    url = str(engine.url)
    r = ramp(url, "status")
    assert r.exit_code == 0 and "ramp: idle at 0%" in r.output
    r = ramp(url, "start")
    assert r.exit_code == 0 and "start: 0% → 0%" in r.output
    assert "noise floor rests on 0 primary-vs-primary pairs" in r.output
    r = ramp(url, "set", "25")
    assert r.exit_code == 0 and "set: 0% → 25%" in r.output
    r = ramp(url, "pause")
    assert r.exit_code == 2 and "nothing to pause (ramp is paused)" in r.output
    assert ramp(url, "resume").exit_code == 0
    r = ramp(url, "rollback", "--reason", "customer escalation")
    assert r.exit_code == 0 and "customer escalation" in r.output
    r = cli.invoke(app, ["shadow", "ramp", "status", "--json", "--store", url])
    data = json.loads(r.stdout)
    assert data["state"]["status"] == "rolled_back" and data["state"]["share"] == 0
    actions = [d["action"] for d in data["decisions"]]
    assert actions == ["start", "set", "resume", "rollback"]
    assert all(d["actor"].startswith("cli:") for d in data["decisions"])


def test_bad_share_and_missing_store_are_one_line_errors(engine, tmp_path):
    r = ramp(str(engine.url), "set", "120")
    assert r.exit_code == 2 and "between 0 and 100" in r.output
    r = ramp(str(tmp_path / "nope.db"), "status")
    assert r.exit_code == 2 and "no database at" in r.output and len(r.output.strip().splitlines()) == 1


def test_plan_errors_name_the_file_and_field(engine, tmp_path):
    cfg = tmp_path / "shadow.toml"
    cfg.write_text("[ramp]\nsteps = [0, 5, 1]\n")
    r = cli.invoke(app, ["shadow", "ramp", "status", "--config", str(cfg), "--store", str(engine.url)])
    assert r.exit_code == 2
    assert f"{cfg}: ramp.steps" in r.output and "strictly increasing" in r.output


def test_approve_takes_the_gated_step(engine):
    from offramp.shadow.ramp.controller import RampController
    from offramp.shadow.ramp.plan import RampPlan
    from offramp.shadow.ramp.store import RampStore, Status

    url = str(engine.url)
    ramp(url, "start")
    store = RampStore(engine)
    st = store.load()
    store.save(st.model_copy(update={"status": Status.awaiting_approval, "share": 50.0, "step": 4}), st.version)
    r = ramp(url, "approve")
    assert r.exit_code == 0 and "approve: 50% → 100%" in r.output
    assert RampController(RampPlan(), store, None).store.load().status is Status.complete  # type: ignore[arg-type]


SHADOW_TOML = """
[mirror]
sample = 0.5
[ramp]
steps = [0, 10, 100]
min_step_samples = 7
[ramp.gates.latency]
max_ratio = 2.5
"""


def test_one_config_file_carries_the_ramp_plan(engine, tmp_path, monkeypatch):
    """`serve --config` and `shadow ramp --config` read the same `[ramp]` table; the proxy runs that plan."""
    from offramp.shadow.config import load_config
    from offramp.shadow.proxy import ShadowProxy

    monkeypatch.delenv("OFFRAMP_RAMP_CONFIG", raising=False)
    path = tmp_path / "shadow.toml"
    path.write_text(SHADOW_TOML + f'[store]\nurl = "{engine.url}"\n')
    cfg = load_config(path)
    assert cfg.ramp.steps == [0, 10, 100] and cfg.ramp.min_step_samples == 7 and cfg.mirror.sample == 0.5
    assert cfg.ramp.gates.latency.max_ratio == 2.5
    proxy = ShadowProxy(cfg, admin_token="x")
    proxy.build_app()
    assert proxy.ramp_plan == cfg.ramp  # the ramp extension follows the proxy's own file
    proxy.engine.dispose()
    r = cli.invoke(app, ["shadow", "ramp", "status", "--json", "--config", str(path)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["plan"] == [0, 10, 100]


def test_ramp_errors_in_the_serve_config_and_the_retired_variable(tmp_path, monkeypatch):
    path = tmp_path / "shadow.toml"
    path.write_text("[ramp]\nsteps = [5, 10]\n")
    monkeypatch.delenv("OFFRAMP_RAMP_CONFIG", raising=False)
    r = cli.invoke(app, ["shadow", "serve", "--config", str(path)])
    assert r.exit_code == 2 and f"{path}: ramp.steps" in r.output and "must start at 0" in r.output
    assert len(r.output.strip().splitlines()) == 1
    monkeypatch.setenv("OFFRAMP_RAMP_CONFIG", str(tmp_path / "plan.toml"))
    for args in (["shadow", "serve"], ["shadow", "ramp", "status", "--store", str(tmp_path / "x.db")]):
        r = cli.invoke(app, args)
        assert r.exit_code == 2 and "OFFRAMP_RAMP_CONFIG is no longer read" in r.output


def _put(engine, status: str, share: float) -> None:
    """Put the shared row in a given state, as the controller or another operator would have left it."""
    from offramp.shadow.ramp.store import RampState, RampStore, Status

    store = RampStore(engine)
    st = store.load()
    new = RampState(status=Status(status), share=share, step=0, started_at=1.0, step_started_at=1.0,
                    approved=share >= 100, reason="left here by the test")
    assert store.save(new, st.version)


def _decisions(url: str) -> list[dict]:
    r = cli.invoke(app, ["shadow", "ramp", "status", "--json", "--store", url])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)["decisions"]


def test_start_refuses_to_drop_a_completed_rollout(engine):
    """Issue 6: `start` on a complete ramp used to move 100% of traffic back to the primary without asking."""
    from offramp.shadow.ramp.store import RampStore, Status

    url = str(engine.url)
    _put(engine, "complete", 100.0)
    r = ramp(url, "start")
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert "ramp is complete" in lines[0] and "serves 100% of traffic" in lines[0]
    assert "`migrate shadow ramp rollback` first" in lines[0] and "start --restart" in lines[0]
    st = RampStore(engine).load()
    assert st.status is Status.complete and st.share == 100 and st.approved  # nothing moved
    assert _decisions(url) == []  # and nothing recorded: a refusal is not a decision


def test_start_restart_forces_a_new_ramp_and_records_it(engine):
    from offramp.shadow.ramp.store import RampStore, Status

    url = str(engine.url)
    _put(engine, "complete", 100.0)
    r = ramp(url, "start", "--restart", "--reason", "new candidate build")
    assert r.exit_code == 0, r.output
    assert "restart: 100% → 0%" in r.output and "from 100% (complete)" in r.output
    st = RampStore(engine).load()
    assert st.status is Status.running and st.share == 0 and not st.approved and st.started_at > 1.0
    (d,) = _decisions(url)
    assert d["action"] == "restart" and d["from_share"] == 100 and d["to_share"] == 0
    assert d["actor"].startswith("cli:") and "new candidate build" in d["reason"]
    assert "from 100% (complete)" in d["reason"]


@pytest.mark.parametrize(("status", "share"), [("running", 25.0), ("paused", 10.0), ("awaiting_approval", 50.0),
                                               ("rolled_back", 5.0)])
def test_start_refuses_whenever_the_candidate_serves_traffic(engine, status, share):
    from offramp.shadow.ramp.store import RampStore

    url = str(engine.url)
    _put(engine, status, share)
    r = ramp(url, "start")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert f"at {share:g}% — the candidate serves that share" in r.output
    assert "rollback` first" in r.output and "start --restart" in r.output
    st = RampStore(engine).load()
    assert st.status.value == status and st.share == share


def test_start_at_zero_needs_no_rollback_and_restart_resets_the_window(engine):
    from offramp.shadow.ramp.store import RampStore

    url = str(engine.url)
    _put(engine, "paused", 0.0)
    r = ramp(url, "start")
    assert r.exit_code == 2 and "already paused at 0%" in r.output and "rollback" not in r.output
    assert "start --restart" in r.output
    r = ramp(url, "start", "--restart")
    assert r.exit_code == 0 and "restart: 0% → 0%" in r.output
    assert RampStore(engine).load().started_at > 1.0  # the quality evidence window opens again


def test_after_a_rollback_a_plain_start_works_and_restart_is_just_a_start(engine):
    url = str(engine.url)
    _put(engine, "complete", 100.0)
    assert ramp(url, "rollback", "--reason", "move back").exit_code == 0
    r = ramp(url, "start")
    assert r.exit_code == 0 and "start: 0% → 0% — ramp started" in r.output
    assert ramp(url, "rollback").exit_code == 0
    r = ramp(url, "start", "--restart")  # nothing to force: recorded as an ordinary start
    assert r.exit_code == 0 and "start: 0% → 0%" in r.output
    assert [d["action"] for d in _decisions(url)] == ["rollback", "start", "rollback", "start"]


@pytest.mark.parametrize(("status", "share", "expected"), [
    ("idle", 0.0, "no ramp started: all traffic goes to the primary"),
    ("running", 5.0, "ramping: the candidate serves 5% and moves to 25% once the gates pass"),
    ("running", 100.0, "running at the top of the plan: the candidate serves 100%"),
    ("paused", 10.0, "paused: the candidate keeps serving 10% and does not advance"),
    ("awaiting_approval", 50.0, "waiting for a human: the candidate serves 50%; 100% needs `migrate shadow ramp "
                                "approve`"),
    ("complete", 100.0, "complete: the candidate serves 100% and is still watched"),
    ("rolled_back", 0.0, "rolled back: all traffic goes to the primary"),
])
def test_status_explains_each_state_in_one_line(engine, status, share, expected):
    url = str(engine.url)
    if status != "idle":
        _put(engine, status, share)
    r = ramp(url, "status")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith(f"ramp: {status} at {share:g}%")
    assert lines[1].strip().startswith(expected), lines[1]
    r = cli.invoke(app, ["shadow", "ramp", "status", "--json", "--store", url])
    assert json.loads(r.stdout)["explanation"] == lines[1].strip()


def test_approve_outside_the_approval_gate_is_a_one_line_error(engine):
    """Issue 14: `approve` while running used to approve in advance; now it changes nothing and says why."""
    from offramp.shadow.ramp.store import RampStore

    url = str(engine.url)
    _put(engine, "running", 25.0)
    before = RampStore(engine).load()
    r = ramp(url, "approve")
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert lines[0].startswith("error: approve: nothing awaits approval — the ramp is running at 25%")
    after = RampStore(engine).load()
    assert (after.version, after.approved) == (before.version, before.approved)
    assert _decisions(url) == []
    help_text = cli.invoke(app, ["shadow", "ramp", "approve", "--help"], env={"COLUMNS": "200"}).output
    assert "cannot be given in advance" in help_text


def test_status_names_what_holds_the_ramp_the_samples_it_needs_and_the_setting(engine):
    url = str(engine.url)
    assert ramp(url, "start").exit_code == 0
    r = ramp(url, "status")
    assert r.exit_code == 0, r.output
    text = r.output
    assert "holding the ramp:" in text
    assert "agreement: no comparisons of candidate and primary yet" in text
    assert "set by ramp.gates.disagreement" in text
    assert "of 200 comparisons (needs ~200 more samples; set by ramp.min_step_samples)" in text
    data = json.loads(cli.invoke(app, ["shadow", "ramp", "status", "--json", "--store", url]).stdout)
    waits = [c for c in data["concerns"] if c["setting"] == "ramp.min_step_samples"]
    assert waits and waits[0]["samples_needed"] == 200
    r = cli.invoke(app, ["shadow", "status", "--store", url])
    assert r.exit_code == 0, r.output
    assert "Ramp: running at 0%" in r.output
    assert "holding: agreement: no comparisons of candidate and primary yet (needs ~100 more samples; set by " \
           "ramp.gates.disagreement)" in r.output
    data = json.loads(cli.invoke(app, ["shadow", "status", "--json", "--store", url]).stdout)
    assert {c["source"] for c in data["ramp"]["holding"]} >= {"gate:agreement", "step"}


def test_ramp_start_warns_when_the_dropped_call_floor_rests_on_too_few_noise_pairs(engine):
    """2,000 noise pairs, 20 of them the primary dropping its own tool call (a 1% dropped-call floor): enough for
    the generic warning, too few for the dropped-call gate's stated detection, and `ramp start` says so."""
    import time

    from offramp.shadow.store import migrate, schema

    migrate(engine)
    now = time.time() - 60
    dropped = json.dumps({"fields": ["choices.tool_calls"],
                          "diff": {"iterable_item_removed": ["root['choices'][0]['tool_calls'][0]"]}})
    pairs = [{c.name: None for c in schema.pairs.columns} | {
        "id": f"n{i}", "created_at": now, "endpoint": "/v1/chat/completions", "family": "f1", "stream": False,
        "served_by": "primary", "privacy": "full", "primary_status": 200} for i in range(2000)]
    cmps = [{"pair_id": f"n{i}", "created_at": now, "family": "f1", "side": "noise", "comparator": "structural",
             "agree": i >= 20, "score": None, "detail": dropped if i < 20 else None} for i in range(2000)]
    with engine.begin() as conn:
        conn.execute(schema.pairs.insert(), pairs)
        conn.execute(schema.comparisons.insert(), cmps)
    r = ramp(str(engine.url), "start")
    assert r.exit_code == 0, r.output
    assert "primary-vs-primary pairs" not in r.output  # 2,000 is above the generic 1,000
    line = next(x for x in r.output.splitlines() if x.startswith("warning: tool_calls_dropped"))
    assert "1.00%" in line and "rests on 2000 noise pairs" in line and "with 20000 at this floor" in line
