"""The dashboard during a scripted ramp (proxy + fake upstreams): the headline says what the controller did in
every state, the charts' points are the store's, and headless Chromium renders it all (screenshots in artifacts/).
"""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from offramp.shadow.ramp.controller import Concern
from offramp.shadow.report.build import build_report
from offramp.shadow.report.series import build_series
from offramp.shadow.store import open_engine, schema
from tests.rollout.scripted_ramp import STATES, run_scripted


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    return run_scripted(tmp_path_factory.mktemp("scripted"))


def _report(scripted, state: str, **kw):
    eng = open_engine(scripted.snapshots[state].url)
    try:
        return build_report(eng, scripted.plan, **kw)
    finally:
        eng.dispose()


# -- the headline in every state: the controller's own decision, its deciding metric and the next command -------


def test_running_headline_names_the_step_minimum_the_controller_waits_for(scripted):
    snap = scripted.snapshots["running"]
    assert snap.decision is None and snap.ramp.status.value == "running"  # waiting is not a decision
    h = _report(scripted, "running").headline
    waits = [c for c in snap.assessment.of("wait")]
    assert h.state == "waiting" and h.metric == "step"
    assert h.reason in [c.reason for c in waits] and "of 30 comparisons" in h.reason
    assert h.samples_needed == max(c.samples_needed or 0 for c in waits) and h.setting == "ramp.min_step_samples"
    assert h.command == "migrate shadow ramp status"


def test_hold_headline_names_the_holding_gate_its_figure_and_samples_needed(scripted):
    snap = scripted.snapshots["hold"]
    d = snap.decision
    assert d.action == "hold"
    h = _report(scripted, "hold").headline
    recorded = [Concern.model_validate(c) for c in d.concerns if c["action"] == "hold"]
    assert h.state == "hold" and h.metric == "latency"
    gate = next(c for c in recorded if c.source == "gate:latency")
    assert h.reason == gate.reason and h.reason in d.reason
    assert h.samples_needed == gate.samples_needed and h.setting == "ramp.gates.latency"
    assert "too few samples" in h.reason and h.title.startswith("Holding at 0%")


def test_awaiting_approval_headline_gives_the_approve_command(scripted):
    snap = scripted.snapshots["awaiting_approval"]
    d = snap.decision
    assert d.action == "await_approval" and snap.ramp.status.value == "awaiting_approval"
    h = _report(scripted, "awaiting_approval").headline
    assert h.state == "awaiting_approval" and h.command == "migrate shadow ramp approve"
    assert h.reason == d.reason == snap.ramp.reason and "100% needs" in h.reason
    assert h.decided_by.startswith(f"await_approval by {d.actor}")
    assert "from 5% to 100%" in h.title


def test_complete_headline_rests_on_the_operators_approval(scripted):
    snap = scripted.snapshots["complete"]
    assert snap.decision is None and snap.ramp.status.value == "complete" and snap.ramp.share == 100
    h = _report(scripted, "complete").headline
    assert h.state == "complete" and h.decided_by.startswith("approve by cli:tester@test")
    assert h.reason == snap.ramp.reason and h.command.startswith("migrate shadow report --format html")


def test_rolled_back_headline_names_the_failing_gate_and_its_figure(scripted):
    snap = scripted.snapshots["rolled_back"]
    d = snap.decision
    assert d.action == "rollback" and snap.ramp.share == 0
    h = _report(scripted, "rolled_back").headline
    first = Concern.model_validate(next(c for c in d.concerns if c["action"] == "rollback"))
    assert h.state == "rolled_back" and h.reason == d.reason
    assert h.metric == first.source.removeprefix("gate:") and h.metric in ("structural", "tool_calls")
    assert h.figure and h.figure.startswith("excess +") and h.command == "migrate shadow ramp start"
    assert h.decided_by.startswith(f"rollback by {d.actor}")


# -- the charts' data, from the store -----------------------------------------------------------------------------


def test_ramp_window_series_ends_at_the_gate_figures_of_the_rollback(scripted):
    snap = scripted.snapshots["rolled_back"]
    eng = open_engine(snap.url)
    s = build_series(eng, scripted.plan, "ramp", now=snap.decision.at + 1e-3)
    with eng.connect() as conn:
        c = schema.comparisons
        n = conn.execute(select(func.count()).where(c.c.comparator == "structural", c.c.side == "candidate",
                                                    c.c.agree.is_not(None))).scalar()
    eng.dispose()
    structural = next(x for x in s.comparators if x.comparator == "structural")
    last = structural.points[-1]
    fig = next(f for f in snap.decision.figures if f["name"] == "structural")
    assert last.n == n == fig["samples"]  # cumulative: every verdict since the ramp's start
    assert (last.excess, last.lower, last.upper) == (fig["estimate"], fig["lower"], fig["upper"])
    assert [p.n for p in structural.points] == sorted(p.n for p in structural.points)
    # Each decision is marked on the served-share chart, with its reason.
    acts = [m.action for m in s.markers]
    assert acts == ["start", "hold", "advance", "await_approval", "approve", "rollback"]
    assert s.markers[-1].reason == snap.decision.reason
    assert s.share_steps[-1][1] == 0 and max(v for _, v in s.share_steps) == 100
    assert sum(p.served_by_candidate for p in s.share) > 0
    assert any(p.candidate_p95 for p in s.latency) and any(p.savings_monthly_usd for p in s.cost)


def test_windows_hour_and_day_cover_their_span(scripted):
    rep = _report(scripted, "complete", window="hour")
    assert rep.series.window == "hour" and rep.series.end - rep.series.start == 3600
    rep = _report(scripted, "complete", window="day")
    assert rep.series.end - rep.series.start == 86400
    with pytest.raises(ValueError, match="window"):
        _report(scripted, "complete", window="week")


def test_families_are_named_by_route_model_and_prompt_or_the_config_label(scripted):
    rep = _report(scripted, "complete", labels={})
    names = {f.name for f in rep.family_names.values()}
    assert "chat/completions · gpt-4o · “You answer briefly.”" in names
    assert all(f.id.startswith("f_") for f in rep.family_names.values())
    labelled = _report(scripted, "complete", labels={next(iter(rep.family_names)): "weather agent"})
    assert "weather agent" in {f.name for f in labelled.family_names.values()}


# -- headless Chromium on the live dashboard ------------------------------------------------------------------------


class _Dom(HTMLParser):
    """The chart points, decision markers and data-figure texts of a rendered dashboard."""

    def __init__(self) -> None:
        super().__init__()
        self.chart: str | None = None
        self.points: dict[tuple[str, str], list[tuple[float, float]]] = {}
        self.marks: list[str] = []
        self.attrs: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.attrs.append({"tag": tag, **a})
        if tag == "figure" and "data-chart" in a:
            self.chart = a["data-chart"]
        elif tag == "circle" and self.chart:
            self.points.setdefault((self.chart, a["data-series"]), []).append(
                (float(a["data-t"]), float(a["data-v"])))
        elif tag == "g" and "data-action" in a and self.chart == "share":
            self.marks.append(a["data-action"])


def _dom(html: str) -> _Dom:
    d = _Dom()
    d.feed(html)
    return d


def _embedded(html: str) -> dict:
    return json.loads(html.split('id="report-data">')[1].split("</script>")[0])


@pytest.fixture
def browsed(scripted):
    if scripted.chromium is None:
        from tests.rollout.conftest_services import need_browser

        need_browser()
    return scripted


@pytest.mark.browser
@pytest.mark.parametrize("state", STATES)
def test_live_dashboard_in_chromium_shows_the_controllers_state_and_the_stores_points(browsed, state):
    snap = browsed.snapshots[state]
    assert snap.dom and "Offramp rollout dashboard" in snap.dom
    dom = _dom(snap.dom)
    head = next(a for a in dom.attrs if a.get("data-figure") == "headline")
    data = _embedded(snap.dom)
    rep = _report(browsed, state, now=data["generated_at"])
    assert head["data-state"] == rep.headline.state == data["headline"]["state"]
    assert data["headline"]["reason"] == rep.headline.reason
    # Every plotted point of every comparator's disagreement is the store's figure at that time.
    for cs in rep.series.comparators:
        plotted = dom.points.get((f"disagreement:{cs.comparator}", "candidate"), [])
        expected = [(p.t, p.candidate_rate) for p in cs.points if p.candidate_rate is not None]
        assert plotted == pytest.approx(expected, rel=1e-5), cs.comparator
        noise = dom.points.get((f"disagreement:{cs.comparator}", "noise"), [])
        assert noise == pytest.approx([(p.t, p.noise_rate) for p in cs.points if p.noise_rate is not None], rel=1e-5)
    assert {c.comparator for c in rep.series.comparators} >= {"structural", "text_exact", "tool_calls"}
    lat = dom.points.get(("latency", "candidate_p95"), [])
    assert lat == pytest.approx([(p.t, p.candidate_p95) for p in rep.series.latency if p.candidate_p95 is not None],
                                rel=1e-5)
    assert dom.marks == [m.action for m in rep.series.markers]
    assert snap.screenshot.exists() and snap.screenshot.stat().st_size > 20_000


@pytest.mark.browser
def test_live_dashboard_names_families_and_links_the_pair_viewer(browsed):
    dom = _dom(browsed.snapshots["rolled_back"].dom)
    fams = [a for a in dom.attrs if "data-family" in a]
    assert fams and all(a["title"].startswith("f_") for a in fams)  # the hash is the tooltip
    html = browsed.snapshots["rolled_back"].dom
    assert "weather agent" in html and "chat/completions · gpt-4o · “You answer briefly.”" in html
    assert any(a.get("href", "").startswith("/dashboard/pairs?gate=") for a in dom.attrs)


@pytest.mark.browser
def test_pair_viewer_in_chromium_highlights_the_wrong_tool(browsed):
    snap = browsed.snapshots["rolled_back"]
    html = snap.pairs_dom
    assert html and "Worst disagreeing pairs" in html
    dom = _dom(html)
    rows = [a for a in dom.attrs if a["tag"] == "tr" and a.get("data-field", "").startswith("tool_calls[0]")]
    assert any(a["class"] == "changed" and a["data-field"] == "tool_calls[0].name" for a in rows)
    assert (browsed.chromium and (snap.dark_screenshot.exists() and snap.dark_screenshot.stat().st_size > 20_000))
