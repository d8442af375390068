"""`migrate shadow serve|status|purge` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

from typer.testing import CliRunner

from offramp.migrate.cli_app import app as root_app
from tests.proxy_log import proxy_url
from tests.shadow.conftest import APP_KEY, CAND_KEY, chat

runner = CliRunner()


def _cli(*args: str):
    import offramp.migrate.commands  # noqa: F401 - registers `shadow`

    return runner.invoke(root_app, ["shadow", *args])


def test_bad_config_is_one_line_naming_file_and_field(tmp_path):
    cfg = tmp_path / "shadow.toml"
    cfg.write_text("[mirror]\nsample = 2.5\n")
    r = _cli("serve", "--config", str(cfg))
    assert r.exit_code == 2
    err = r.output.strip()
    assert len(err.splitlines()) == 1
    assert str(cfg) in err and "mirror.sample" in err
    r = _cli("serve", "--candidate", "nosuch")
    assert r.exit_code == 2 and "--candidate: unknown upstream 'nosuch'" in r.output
    cfg.write_text("[store]\nprivacy = 'everything'\n")
    r = _cli("status", "--config", str(cfg))
    assert r.exit_code == 2 and "store.privacy" in r.output


def test_status_without_store_is_a_clear_error(tmp_path):
    r = _cli("status", "--store", str(tmp_path / "none.db"))
    assert r.exit_code == 2 and "no database at" in r.output


def test_serve_end_to_end(tmp_path, primary_fake, candidate_fake):
    """Start the proxy from the CLI, send traffic, stop it with SIGTERM, read `migrate shadow status`."""
    store = tmp_path / "cli.db"
    log = tmp_path / "serve.log"
    env = {**os.environ, "DEEPSEEK_API_KEY": CAND_KEY, "OFFRAMP_ADMIN_TOKEN": "cli-admin-token-xyz"}
    cmd = [sys.executable, "-m", "offramp.migrate", "shadow", "serve", "--primary", f"openai={primary_fake.base_url}",
           "--candidate", f"deepseek={candidate_fake.base_url}", "--port", "0", "--store", str(store),
           "--noise-sample", "1"]
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stderr=fh, stdout=subprocess.DEVNULL, env=env)
        try:
            base = proxy_url(log, 20)
            assert base.startswith("http://127.0.0.1:")
            for i in range(3):
                req = urllib.request.Request(f"{base}/chat/completions", data=json.dumps(chat(f"q{i}")).encode(),
                                             headers={"Authorization": f"Bearer {APP_KEY}",
                                                      "Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=10) as r:
                    assert r.status == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
    r = _cli("status", "--store", str(store), "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["pairs"] == 3
    assert summary["comparators"]["structural"]["candidate"]["n"] == 3
    assert summary["comparators"]["structural"]["noise"]["n"] == 3
    r = _cli("status", "--store", str(store))
    assert r.exit_code == 0 and "structural" in r.output and "candidate" in r.output
    lines = [json.loads(ln) for ln in log.read_text().splitlines() if ln.startswith("{")]
    assert any(ln["msg"] == "shadow proxy started" for ln in lines)
    assert any(ln["msg"] == "shadow proxy stopped" and ln["written"] == 3 for ln in lines)
    r = _cli("purge", "--store", str(store), "--days", "1")
    assert r.exit_code == 0 and "purged 0 pairs" in r.output


def test_missing_candidate_key_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    r = _cli("serve", "--candidate", "deepseek=http://127.0.0.1:1/v1", "--store", str(tmp_path / "x.db"))
    assert r.exit_code == 2 and "DEEPSEEK_API_KEY is not set" in r.output


def test_readme_config_example_is_valid(tmp_path):
    from pathlib import Path

    from offramp.shadow.config import load_config

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Shadow mode: `migrate shadow serve`", 1)[1]
    block = section.split("```toml\n", 1)[1].split("```", 1)[0]
    cfg_file = tmp_path / "shadow.toml"
    cfg_file.write_text(block)
    cfg = load_config(cfg_file)
    assert cfg.candidate.model_for("gpt-4o") == "deepseek-flash"
    assert cfg.store.privacy == "redacted" and cfg.server.host == "127.0.0.1"


def test_serve_workers_share_one_port(tmp_path, primary_fake, candidate_fake):
    """`--workers 2`: two proxy processes on one port (SO_REUSEPORT), both mirroring into the one store; a
    SIGTERM stops both cleanly and the accounting adds up across them."""
    store = tmp_path / "multi.db"
    log = tmp_path / "serve.log"
    env = {**os.environ, "DEEPSEEK_API_KEY": CAND_KEY}
    cmd = [sys.executable, "-m", "offramp.migrate", "shadow", "serve", "--primary", f"openai={primary_fake.base_url}",
           "--candidate", f"deepseek={candidate_fake.base_url}", "--port", "0", "--store", str(store),
           "--noise-sample", "0", "--workers", "2"]
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stderr=fh, stdout=subprocess.DEVNULL, env=env)
        try:
            base = proxy_url(log, 60)
            assert "(2 processes, SO_REUSEPORT)" in log.read_text(), log.read_text()
            for i in range(40):  # a new connection each: the kernel spreads them over both processes
                req = urllib.request.Request(f"{base}/chat/completions", data=json.dumps(chat(f"m{i}")).encode(),
                                             headers={"Authorization": f"Bearer {APP_KEY}",
                                                      "Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=20) as r:
                    assert r.status == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0, log.read_text()[-2000:]
    r = _cli("status", "--store", str(store), "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["pairs"] == 40
    acc = summary["accounting"]
    assert acc["offered"] == 40 and acc["compared"] == 40 and acc["unaccounted"] == 0
    assert acc["in_flight"] == 0 and acc["in_flight_at_stop"] == 0
    assert len({b["replica"] for b in summary["breakers"]}) == 2
    stopped = [json.loads(ln) for ln in log.read_text().splitlines()
               if ln.startswith("{") and json.loads(ln)["msg"] == "shadow proxy stopped"]
    assert len(stopped) == 2 and all(s["written"] > 0 for s in stopped)
