"""`migrate adapter explain MODEL --at TIME`: the route and, for each backend, the price row and window in force
at the request's time (UTC), with its source; nothing is sent."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import offramp.migrate.commands  # noqa: F401  (registers the commands)
from offramp.migrate.cli_app import app

CFG = """
[backends.deepseek]
kind = "deepseek"
base_url = "https://api.deepseek.com"
api_key_env = "OFFRAMP_TEST_DS_KEY"
[routes]
fallback = ["openai"]
[routes.models]
"gpt-4o" = "deepseek/deepseek-flash"
"gpt-4o-mini" = "deepseek/deepseek-chat"
"""


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "offramp.toml"
    path.write_text(CFG)
    return str(path)


def explain(cfg, *args):
    return CliRunner().invoke(app, ["adapter", "explain", *args, "--config", cfg])


@pytest.mark.parametrize("at, window, output_rate, cost", [
    ("2026-12-02T02:00", "peak window", "$1.2 output", "$0.017700"),  # Wednesday 02:00 UTC
    ("2026-12-02T05:00", "no window in force", "$0.6 output", "$0.008850"),  # between the peak windows
    ("2026-12-05T02:00", "no window in force", "$0.6 output", "$0.008850"),  # Saturday
])
def test_explain_prices_the_call_at_its_time(cfg, at, window, output_rate, cost):
    res = explain(cfg, "gpt-4o", "--at", at, "--tokens", "100000,2000,50000")
    assert res.exit_code == 0, res.output
    first = res.output.split("2. ")[0]
    assert "1. use  deepseek/deepseek-flash" in first and window in first and output_rate in first
    assert f"cost of this call: {cost}" in first and "source: DS-PRICE-1017" in first
    assert "OpenAI shuts gpt-4o down on 2027-01-14 (→ gpt-6-luna)" in res.output
    assert "2. then openai/gpt-4o" in res.output and "$10 output" in res.output


def test_explain_marks_a_retired_id_and_a_missing_calendar_year(cfg):
    res = explain(cfg, "gpt-4o-mini", "--at", "2026-12-02T02:00")
    assert "1. skip deepseek/deepseek-chat" in res.output and "retired on 2026-07-24" in res.output
    assert "use deepseek-flash" in res.output and "2. use  openai/gpt-4o-mini" in res.output
    res = explain(cfg, "gpt-4o", "--at", "2027-02-01T02:00")
    assert "warning: holiday calendar 'cn' has no 2027 dates" in res.output


@pytest.mark.parametrize("args, message", [
    (["--at", "yesterday"], "--at: 'yesterday' is not an ISO date-time"),
    (["--tokens", "10"], "--tokens: '10' is not INPUT,OUTPUT[,CACHED]"),
])
def test_explain_usage_errors_are_one_line(cfg, args, message):
    res = explain(cfg, "gpt-4o", *args)
    assert res.exit_code == 2 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1
