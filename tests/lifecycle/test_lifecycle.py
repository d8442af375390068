"""OpenAI's shutdown calendar (rules/lifecycle/) and the deadlines `migrate scan` derives from it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import offramp.migrate.commands  # noqa: F401  (registers the commands)
from offramp.migrate.cli_app import app
from offramp.migrate.lifecycle import LifecycleError, load_lifecycle, load_lifecycle_file
from offramp.migrate.report import render
from offramp.migrate.report_model import DeepSeekOffer, Finding, ModelRef, ScanReport, Summary
from offramp.migrate.scan.deadlines import apply_deadlines, within

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_apps" / "tool_agent"  # AGENT_MODEL = "gpt-4o" in tool_agent/agent.py
TODAY = dt.date(2026, 12, 3)


@pytest.mark.parametrize("model, shutdown, replacement", [
    ("gpt-4o", "2027-01-14", "gpt-6-luna"),
    ("gpt-4o-2024-08-06", "2027-01-14", "gpt-6-luna"),
    ("gpt-4o-2024-05-13", "2026-10-23", ""),  # a snapshot with its own, earlier date beats its family
    ("gpt-4o-mini", "2027-01-14", "gpt-6-luna"),
    ("ft:gpt-4o-mini-2024-07-18:acme:tickets:9abcXYZ1", "2027-01-14", "gpt-6-luna"),  # fine-tunes go with the base
    ("gpt-4.1", "2027-01-14", "gpt-6-luna"),
    ("gpt-4.1-mini-2025-04-14", "2027-01-14", "gpt-6-luna"),
    ("gpt-4.1-nano", "2026-10-23", ""),
    ("o3", "2026-12-11", ""),
    ("o3-pro-2025-06-10", "2026-12-11", ""),
    ("gpt-5", "2026-12-11", ""),
    ("gpt-5-mini-2025-08-07", "2026-12-11", "gpt-5.6-terra"),
    ("gpt-5-nano", "2026-12-11", "gpt-6-luna"),
    ("o4-mini", "2026-10-23", ""),
    ("gpt-3.5-turbo", "2026-10-23", "gpt-4.1-mini"),
])
def test_shutdown_calendar(model, shutdown, replacement):
    row = load_lifecycle().model(model)
    assert row is not None and row.shutdown.isoformat() == shutdown and row.replacement == replacement
    assert row.source and row.verified


def test_current_models_are_known_without_a_deadline_and_apis_are_dated():
    lc = load_lifecycle()
    for model in ("gpt-5.4", "gpt-5.5", "gpt-6-luna", "text-embedding-3-small"):
        assert lc.model(model) is not None and lc.model(model).shutdown is None, model
    assert lc.model("my-own-model") is None
    assert lc.api("threads.runs.create").shutdown == dt.date(2026, 8, 26)
    assert lc.api("assistants.create").replacement.startswith("Responses API")
    assert lc.api("chat.completions.create") is None


@pytest.mark.parametrize("row, message", [
    ('[[model]]\nids = ["m"]\nshutdown = 2027-01-01\nsource = "notice"\n', r"x.toml: model\[0\] \(m\): missing 'verified'"),
    ('[[api]]\nid = "a"\napis = ["a.*"]\nverified = 2026-12-03\n', r"x.toml: api\[0\] \(a\): missing 'source'"),
    ('[[model]]\nids = ["m"]\nshutdwn = 2027-01-01\nsource = "s"\nverified = 2026-12-03\n', "shutdwn"),
])
def test_a_lifecycle_row_without_provenance_fails_in_one_line(tmp_path, row, message):
    f = tmp_path / "x.toml"
    f.write_text('provider = "openai"\n' + row)
    with pytest.raises(LifecycleError, match=message) as exc:
        load_lifecycle_file(f)
    assert "\n" not in str(exc.value)


def _finding(api="chat.completions.create", models=(), line=3, code="", path="app.py"):
    return Finding(path=path, line=line, column=0, api=api, category="chat", level=1, rule="r",
                   deepseek=DeepSeekOffer(hosted="supported", self_hosted="supported", reason="x"),
                   models=list(models), code=code)


def _report(findings, models=()):
    s = Summary(level=1, level_name="plain chat", effort="days", files_scanned=1, files_parsed=1,
                files_with_findings=1, findings=len(findings), skipped=0)
    return ScanReport(root="/x", summary=s, findings=findings, models=list(models))


def test_deadlines_come_from_the_engines_models_and_the_apis_found(tmp_path):
    """The scan engine fills `models` (call arguments, constants, env defaults): deadlines are computed from
    them and from the APIs, per finding and for the report, earliest first, one per id."""
    rep = _report([_finding(models=["gpt-4o"]), _finding("threads.runs.create", line=9)],
                  models=[ModelRef(model="gpt-4o", path="app.py", line=1, context="constant"),
                          ModelRef(model="o3", path="cfg.py", line=2, context="env-default")])
    apply_deadlines(rep, tmp_path, today=TODAY)
    assert [(d.kind, d.id, d.shutdown) for d in rep.deadlines] == [
        ("api", "assistants", "2026-08-26"), ("model", "o3", "2026-12-11"), ("model", "gpt-4o", "2027-01-14")]
    assert [d.days_left for d in rep.deadlines] == [-99, 8, 42]
    assert [d.id for d in rep.findings[0].deadlines] == ["gpt-4o"]
    assert [d.id for d in rep.findings[1].deadlines] == ["assistants"]
    assert [d.id for d in within(rep, 10)] == ["assistants", "o3"]
    assert within(rep, 0)[0].id == "assistants"  # already shut down counts


def test_until_the_engine_fills_models_literal_arguments_and_same_file_constants_are_used(tmp_path):
    (tmp_path / "app.py").write_text(
        'import os\nfrom openai import OpenAI\nMODEL = os.environ.get("CHAT_MODEL", "gpt-4.1")\nc = OpenAI()\n'
        'c.chat.completions.create(model=MODEL, messages=[])\n'
        'c.chat.completions.create(\n    messages=[],\n    model="gpt-5-mini",\n)\n'
        'c.chat.completions.create(model=pick(), messages=[])\n')
    rep = _report([_finding(line=5), _finding(line=6), _finding(line=10)])
    apply_deadlines(rep, tmp_path, today=TODAY)
    assert [f.models for f in rep.findings] == [["gpt-4.1"], ["gpt-5-mini"], []]
    assert [(m.model, m.line, m.context) for m in rep.models] == [("gpt-4.1", 3, "env-default"),
                                                                   ("gpt-5-mini", 8, "call")]
    assert {d.id for d in rep.deadlines} == {"gpt-4.1", "gpt-5-mini"}


def test_a_scan_of_a_sample_app_using_gpt4o_shows_its_shutdown_date_in_every_format(tmp_path):
    from offramp.migrate.scan import scan_path
    from offramp.migrate.scan.options import ScanOptions

    rep = scan_path(SAMPLE, ScanOptions(use_cache=False, jobs=1))
    assert [(d.id, d.shutdown, d.replacement) for d in rep.deadlines] == [("gpt-4o", "2027-01-14", "gpt-6-luna")]
    calls = [f for f in rep.findings if f.api == "chat.completions.create"]
    assert calls and all(f.models == ["gpt-4o"] and f.deadlines[0].shutdown == "2027-01-14" for f in calls)
    apply_deadlines(rep, SAMPLE, today=TODAY)  # the wording depends on the day: pin it (42 days left)
    for fmt in ("terminal", "markdown", "html"):
        text = render(fmt, rep)
        assert "orced migration by 2027-01-14 (gpt-4o → gpt-6-luna" in text, fmt
        top = text[: text.index("gpt-6-luna") + 1]
        assert "agent.py" not in top, f"{fmt}: the deadline must come before the findings"
    data = json.loads(render("json", rep))
    assert data["deadlines"][0]["shutdown"] == "2027-01-14"
    sarif = json.loads(render("sarif", rep))["runs"][0]
    assert sarif["properties"]["deadlines"][0]["id"] == "gpt-4o"
    assert any("Forced migration by 2027-01-14" in n["message"]["text"]
               for n in sarif["invocations"][0]["toolExecutionNotifications"])
    assert any("Forced migration by 2027-01-14" in r["message"]["text"] for r in sarif["results"])


def test_fail_on_deadline_exits_3_and_says_why(tmp_path):
    app_dir = tmp_path / "app"
    shutil.copytree(SAMPLE, app_dir)
    run = CliRunner().invoke
    near = run(app, ["scan", str(app_dir), "--format", "json", "--no-cache", "--fail-on-deadline", "100000"])
    assert near.exit_code == 3, near.output
    assert "2027-01-14 (gpt-4o → gpt-6-luna" in near.stderr and "--fail-on-deadline 100000" in near.stderr
    (app_dir / "tool_agent" / "agent.py").write_text(
        (app_dir / "tool_agent" / "agent.py").read_text().replace('"gpt-4o"', '"gpt-5.4"'))
    clear = run(app, ["scan", str(app_dir), "--format", "json", "--no-cache", "--fail-on-deadline", "0"])
    assert clear.exit_code == 0, clear.stderr
    bad = run(app, ["scan", str(app_dir), "--fail-on-deadline", "-1"])
    assert bad.exit_code == 2 and "--fail-on-deadline" in bad.stderr


def test_an_api_already_shut_down_fails_any_deadline_threshold(tmp_path):
    (tmp_path / "bot.py").write_text("from openai import OpenAI\nc = OpenAI()\n"
                                     "c.beta.threads.create()\n")
    res = CliRunner().invoke(app, ["scan", str(tmp_path), "-f", "json", "--no-cache", "--fail-on-deadline", "0"])
    assert res.exit_code == 3 and "shut down on 2026-08-26 (assistants" in res.stderr
    # --fail-on and --fail-on-deadline share exit 3; each names itself
    both = CliRunner().invoke(app, ["scan", str(tmp_path), "-f", "json", "--no-cache", "--fail-on", "5",
                                    "--fail-on-deadline", "0"])
    assert both.exit_code == 3 and "--fail-on 5" in both.stderr and "--fail-on-deadline 0" in both.stderr
