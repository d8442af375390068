"""`migrate adapter check|route|translate`: what a user types to see what the client will do."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import offramp.migrate.commands  # noqa: F401  (registers the commands)
from offramp.migrate.cli_app import app

CFG = """
[backends.deepseek]
kind = "deepseek"
base_url = "https://api.deepseek.com"
api_key_env = "OFFRAMP_TEST_DS_KEY"
[backends.tei]
kind = "vllm"
base_url = "http://127.0.0.1:8080/v1"
default_model = "BAAI/bge-m3"
[routes]
fallback = ["openai"]
[routes.models]
"gpt-4o" = "deepseek/deepseek-v4-flash"
[routes.capabilities]
embeddings = "tei"
"""


def run(*args):
    return CliRunner().invoke(app, list(args))


def test_check_lists_backends_routes_and_missing_keys(tmp_path, monkeypatch):
    (tmp_path / "offramp.toml").write_text(CFG)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OFFRAMP_TEST_DS_KEY", raising=False)
    res = run("adapter", "check")
    assert res.exit_code == 0, res.output
    assert "deepseek" in res.output and "OFFRAMP_TEST_DS_KEY: MISSING" in res.output
    assert "model gpt-4o -> deepseek/deepseek-v4-flash" in res.output and "capability embeddings -> tei" in res.output
    monkeypatch.setenv("OFFRAMP_TEST_DS_KEY", "sk-secret-value")
    res = run("adapter", "check")
    assert "OFFRAMP_TEST_DS_KEY: set" in res.output and "sk-secret-value" not in res.output


def test_check_bad_config_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "offramp.toml"
    bad.write_text('[routes]\ndefault = "nowhere"\n')
    res = run("adapter", "check", "--config", str(bad))
    assert res.exit_code == 2
    assert "routes.default: unknown backend 'nowhere'" in res.output and res.output.count("\n") == 1


def test_route_shows_the_chain(tmp_path):
    (tmp_path / "c.toml").write_text(CFG)
    res = run("adapter", "route", "gpt-4o", "--config", str(tmp_path / "c.toml"))
    assert res.exit_code == 0
    lines = res.output.splitlines()
    assert lines[0].startswith("1. use  deepseek/deepseek-v4-flash") and lines[1].startswith("2. then openai/gpt-4o")
    emb = run("adapter", "route", "text-embedding-3-small", "--capability", "embeddings", "--config",
              str(tmp_path / "c.toml"))
    assert emb.output.startswith("1. use  tei/BAAI/bge-m3")


def test_translate_prints_body_and_changes(tmp_path):
    f = tmp_path / "b.json"
    f.write_text(json.dumps({"model": "gpt-4o", "seed": 1, "messages": [{"role": "developer", "content": "x"}]}))
    res = CliRunner().invoke(app, ["adapter", "translate", str(f), "--model", "deepseek-v4-flash"])
    assert res.exit_code == 0
    assert '"role": "system"' in res.output and "dropped    seed" in res.output
    strict = run("adapter", "translate", str(f), "--model", "deepseek-v4-flash", "--strict")
    assert strict.exit_code == 2 and "strict mode: seed" in strict.output
