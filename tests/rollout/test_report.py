"""`migrate shadow report` over real recorded traffic: every section a reviewer signs off on is there."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import offramp.migrate.commands  # noqa: F401  (registers every command, as the console script does)
from offramp.migrate.cli_app import app
from offramp.shadow.report.build import PairSide, build_report, divergence
from offramp.shadow.report.render import render_html, render_terminal
from offramp.shadow.store import open_engine

runner = CliRunner()


def test_bad_candidate_was_rolled_back_with_the_pairs_that_show_why(recorded):
    d = recorded["decision"]
    assert d is not None and d.action == "rollback"
    assert "tool_calls" in d.reason or "structural" in d.reason
    assert d.pair_ids


def test_report_model_has_every_section(recorded):
    eng = open_engine(recorded["url"])
    rep = build_report(eng, recorded["plan"])
    eng.dispose()
    names = {a.comparator for a in rep.agreement}
    assert {"structural", "text_exact", "tool_calls"} <= names
    structural = next(a for a in rep.agreement if a.comparator == "structural")
    assert structural.candidate.n > 20 and structural.noise.n > 5
    assert structural.excess is not None and structural.excess > 0.1  # 30% wrong tools on half the traffic
    assert rep.families and all(f.family for f in rep.families)
    assert rep.latency["primary"].total.n > 0 and rep.latency["candidate"].total.quantiles["p95"] is not None
    assert sum(rep.latency["candidate"].total.histogram) == rep.latency["candidate"].total.n
    assert rep.cost["candidate"].prompt_tokens > 0
    assert rep.projection is not None and rep.projection.requests_per_month > 0
    assert [d.action for d in rep.decisions] == ["start", "rollback"]
    assert rep.decisions[-1].figures
    top = rep.top_pairs[0]
    assert top.primary.tool_calls or top.primary.text
    assert top.divergence and top.divergence != "no visible difference (comparator detail only)"


def test_divergence_points_at_the_first_differing_word():
    a = PairSide(label="p", text="The capital of France is Paris, a city")
    b = PairSide(label="c", text="The capital of France is Lyon, a city")
    assert "[Paris,] vs [Lyon,]" in divergence(a, b)
    assert divergence(PairSide(label="p", tool_calls=["f({})"]), PairSide(label="c", tool_calls=["g({})"])) \
        .startswith("tool call 1")
    assert divergence(PairSide(label="p", error=None, status=200), PairSide(label="c", error="timeout")) \
        .startswith("outcome")


def test_terminal_and_html_render_the_figures(recorded):
    eng = open_engine(recorded["url"])
    rep = build_report(eng, recorded["plan"])
    eng.dispose()
    text = render_terminal(rep)
    assert "rolled_back at 0%" in text and "structural" in text and "Projection at 100%" in text
    page = render_html(rep)
    assert page.startswith("<!doctype html>") and "http://" not in page.replace("http-equiv", "")
    assert 'data-figure=agreement' in page and 'data-figure=history' in page and "<svg" in page
    data = json.loads(page.split('id=report-data>')[1].split("</script>")[0])
    assert data["pairs"] == rep.pairs


def test_cli_report_json_and_html_file(recorded, tmp_path):
    r = runner.invoke(app, ["shadow", "report", "--store", recorded["url"], "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["ramp"]["status"] == "rolled_back" and data["pairs"] > 0
    out = tmp_path / "report.html"
    r = runner.invoke(app, ["shadow", "report", "--store", recorded["url"], "--format", "html", "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert "data-figure=savings" in out.read_text()


def test_cli_report_errors_are_one_line(tmp_path):
    r = runner.invoke(app, ["shadow", "report", "--store", str(tmp_path / "missing.db")])
    assert r.exit_code == 2 and "no database at" in r.output and len(r.output.strip().splitlines()) == 1
    r = runner.invoke(app, ["shadow", "report", "--store", str(tmp_path / "x.db"), "--format", "pdf"])
    assert r.exit_code == 2 and "--format" in r.output


def test_html_data_block_survives_hostile_prompts(recorded):
    eng = open_engine(recorded["url"])
    rep = build_report(eng, recorded["plan"])
    eng.dispose()
    hostile = "<!--<script>alert(1)</script>"
    rep.top_pairs[0].request = hostile
    page = render_html(rep)
    blob = page.split("id=report-data>")[1]
    data = blob.removesuffix("</script></body></html>")
    assert "<" not in data  # no "<!--", "<script" or "</script" can change how the browser parses the block
    assert json.loads(data)["top_pairs"][0]["request"] == hostile


def test_pair_viewer_shows_the_worst_pairs_of_a_gate_with_the_tool_call_diff(recorded):
    from offramp.shadow.report.viewer import viewer_page

    eng = open_engine(recorded["url"])
    try:
        page = viewer_page(eng, recorded["plan"], gate="tool_calls", limit=5)
        fam = build_report(eng, recorded["plan"]).families[0].family
        by_family = viewer_page(eng, recorded["plan"], family=fam, limit=3)
        latency = viewer_page(eng, recorded["plan"], gate="latency")
    finally:
        eng.dispose()
    assert page.count("data-figure=pair ") == 5
    # The candidate picked the wrong tool: the name row is marked changed, side by side.
    assert "<tr data-field='tool_calls[0].name' class='changed'>" in page
    assert "get_weather" in page and "get_time" in page
    assert by_family.count("data-figure=pair ") == 3 and "chat/completions · gpt-4o" in by_family
    assert "not pair by pair" in latency and "data-figure=no-pairs" in latency


def test_cli_html_report_has_the_dashboards_charts_and_headline(recorded, tmp_path):
    fam = None
    eng = open_engine(recorded["url"])
    fam = build_report(eng, recorded["plan"]).families[0].family
    eng.dispose()
    cfg = tmp_path / "shadow.toml"
    cfg.write_text(f'[store]\nurl = "{recorded["url"]}"\n[families]\n{fam} = "weather agent"\n')
    out = tmp_path / "report.html"
    r = runner.invoke(app, ["shadow", "report", "--config", str(cfg), "--format", "html", "--window", "day",
                            "--output", str(out)])
    assert r.exit_code == 0, r.output
    page = out.read_text()
    for chart in ("disagreement:structural", "disagreement:tool_calls", "share", "latency", "ttft", "cost",
                  "savings"):
        assert f'data-chart="{chart}"' in page, chart
    assert "data-figure=headline data-state='rolled_back'" in page and "migrate shadow ramp start" in page
    assert "weather agent" in page and f"title='{fam}'" in page
    assert "@media print" in page and "prefers-color-scheme:dark" in page
    r = runner.invoke(app, ["shadow", "report", "--store", recorded["url"], "--window", "week"])
    assert r.exit_code == 2 and "--window" in r.output
    r = runner.invoke(app, ["shadow", "report", "--store", recorded["url"]])
    assert "What now: Rolled back" in r.stdout and "Over time" in r.stdout


def test_a_check_of_the_proxys_controller_is_the_headlines_deciding_metric(engine, clock):
    from offramp.shadow.ramp.controller import Concern, RampController
    from offramp.shadow.ramp.plan import RampPlan
    from offramp.shadow.ramp.store import RampStore
    from tests.rollout.conftest import ScriptedEvidence

    plan = RampPlan(min_step_seconds=0, min_step_samples=0)

    def breaker(st, now):
        return [Concern(action="hold", source="breaker:deepseek", reason="breaker open: 5 timeouts in 30 s",
                        setting="candidate.breaker")]

    ctl = RampController(plan, RampStore(engine), ScriptedEvidence(), clock=clock, checks=[breaker])
    ctl.command("start")
    assert ctl.tick().action == "hold"
    h = build_report(engine, plan, controller=ctl).headline
    assert (h.state, h.metric, h.reason, h.setting) == ("hold", "breaker:deepseek", "breaker open: 5 timeouts in 30 s",
                                                        "candidate.breaker")
    assert h.next_step.startswith("wait for breaker:deepseek to clear") and h.command == "migrate shadow ramp status"


def test_status_figures_the_report_does_not_know_are_shown_as_given(recorded, monkeypatch):
    import offramp.shadow.status as status

    real = status.summarize

    def with_breaker(engine, *, since=None):
        return {**real(engine, since=since), "breaker": {"deepseek": {"state": "open", "trips": 3}}}

    monkeypatch.setattr(status, "summarize", with_breaker)
    eng = open_engine(recorded["url"])
    rep = build_report(eng, recorded["plan"])
    eng.dispose()
    assert rep.status_extra == {"breaker": {"deepseek": {"state": "open", "trips": 3}}}
    page = render_html(rep)
    assert "<tr><td>breaker.deepseek.state<td class=num>open</tr>" in page
    assert "breaker.deepseek.trips 3" in render_terminal(rep)
    monkeypatch.setattr(status, "summarize", real)
    eng = open_engine(recorded["url"])
    assert build_report(eng, recorded["plan"]).status_extra == {}  # nothing beyond what the report shows
    eng.dispose()


def test_chart_bucket_span_is_readable_for_short_and_long_ramps():
    """A scripted ramp of a few seconds has sub-second buckets: the heading must not say "buckets of 0 s"."""
    from offramp.shadow.report.render import _span

    assert [_span(s) for s in (0.45, 3.2, 45, 600, 9000)] == ["0.45 s", "3.2 s", "45 s", "10 min", "2.5 h"]
