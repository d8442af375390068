"""Ordinary failures of `migrate shadow serve` / `ramp` / `report` / `status` are one line naming the problem and
exit 2; a traceback only with MIGRATE_DEBUG=1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import offramp.migrate.commands  # noqa: F401  (registers the commands)
from offramp.migrate.cli_app import app

UPSTREAMS = ["--primary", "openai=http://127.0.0.1:9/v1", "--candidate", "deepseek=http://127.0.0.1:9/v1"]
UNREACHABLE = "postgresql://offramp:s3cret@127.0.0.1:1/test"  # nothing listens on port 1


def run(*args: str, **env: str | None):
    r = CliRunner().invoke(app, ["shadow", *args], env={"DEEPSEEK_API_KEY": "k", "MIGRATE_DEBUG": None, **env})
    return r


def one_error(output: str) -> str:
    lines = [ln for ln in output.splitlines() if ln.strip() and not ln.startswith("{")]  # `{`: JSON log records
    assert len(lines) == 1, output
    assert lines[0].startswith("error: ") and "Traceback" not in output
    return lines[0]


def test_busy_port(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        env = {**os.environ, "DEEPSEEK_API_KEY": "k"}
        env.pop("MIGRATE_DEBUG", None)
        p = subprocess.run([sys.executable, "-m", "offramp.migrate", "shadow", "serve", *UPSTREAMS, "--port",
                            str(port), "--store", str(tmp_path / "s.db")], capture_output=True, text=True,
                           timeout=120, env=env)
    assert p.returncode == 2, p.stderr
    assert one_error(p.stderr) == (f"error: server: cannot listen on 127.0.0.1:{port}: the port is in use (stop what "
                                   "holds it, or pass --port)")


@pytest.mark.parametrize("cmd", [["serve", *UPSTREAMS, "--port", "0"], ["status"], ["purge"], ["ramp", "status"],
                                 ["ramp", "start"], ["report"]], ids=lambda c: " ".join(c[:2]))
def test_unreachable_store(cmd):
    res = run(*cmd, "--store", UNREACHABLE)
    assert res.exit_code == 2, res.output
    line = one_error(res.output)
    assert line.startswith("error: store postgresql://offramp:***@127.0.0.1:1/test: cannot connect: ")
    assert "s3cret" not in res.output


@pytest.mark.parametrize("cmd", [["serve", *UPSTREAMS, "--port", "0"], ["status"], ["purge"], ["ramp", "status"],
                                 ["report"]], ids=lambda c: " ".join(c[:2]))
def test_wrong_scheme_store(cmd):
    res = run(*cmd, "--store", "mysql://root@127.0.0.1/offramp")
    assert res.exit_code == 2, res.output
    assert one_error(res.output) == ("error: store.url: mysql://root@127.0.0.1/offramp: mysql:// is not a supported "
                                     "store (a SQLite path, sqlite:///PATH or postgresql://USER@HOST/DB)")


def test_bad_config_key(tmp_path):
    cfg = tmp_path / "shadow.toml"
    cfg.write_text("[server]\nprot = 8787\n")
    res = run("serve", "--config", str(cfg))
    assert res.exit_code == 2
    line = one_error(res.output)
    assert line == f"error: {cfg}: server.prot: unknown key"


def test_missing_key_env(tmp_path):
    res = run("serve", *UPSTREAMS, "--port", "0", "--store", str(tmp_path / "s.db"), DEEPSEEK_API_KEY=None)
    assert res.exit_code == 2
    assert "DEEPSEEK_API_KEY is not set" in one_error(res.output)


def test_debug_shows_the_traceback():
    res = run("status", "--store", UNREACHABLE, MIGRATE_DEBUG="1")
    assert res.exit_code != 2 and res.exception is not None
    assert type(res.exception).__module__.startswith("sqlalchemy")


def test_a_missing_sqlite_store_is_named(tmp_path: Path):
    res = run("ramp", "status", "--store", str(tmp_path / "nope.db"))
    assert res.exit_code == 2 and "no database at" in one_error(res.output)
