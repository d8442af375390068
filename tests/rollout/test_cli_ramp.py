"""`migrate shadow ramp ...` against a store: what an operator types and sees."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import migrate.commands  # noqa: F401  (registers every command, as the console script does)
from migrate.cli_app import app

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
    from shadow.ramp.controller import RampController
    from shadow.ramp.plan import RampPlan
    from shadow.ramp.store import RampStore, Status

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
    from shadow.config import load_config
    from shadow.proxy import ShadowProxy

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
