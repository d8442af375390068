"""Inline SVG charts over time for the rollout report and dashboard: no script, no external asset.

Colours are CSS classes (`l-*` strokes, `p-*` point fills, `b-*` bands, `m-*` decision markers) resolved by the
page's stylesheet, so one chart follows the reader's dark mode and prints in ink. Every point is a `<circle>` with
`data-series`, `data-t` and `data-v` (the value as stored in `series.Series`) and a `<title>`, so a reader can
hover it and a test can read the chart back and compare it with the store.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from offramp.shadow.report.series import Series

W, H = 720, 200
PAD_L, PAD_R, PAD_T, PAD_B = 64, 16, 14, 26


@dataclass
class Line:
    name: str  # data-series
    label: str
    cls: str  # primary | candidate | noise | allowed | share | observed | savings ...
    points: list[tuple[float, float | None]]
    step: bool = False
    dashed: bool = False
    dots: bool = True


@dataclass
class Band:
    name: str
    label: str
    cls: str
    points: list[tuple[float, float | None, float | None]]  # (t, lo, hi)


@dataclass
class Mark:
    t: float
    action: str
    title: str


@dataclass
class Chart:
    id: str
    title: str
    x0: float
    x1: float
    fmt: Callable[[float], str]
    lines: list[Line] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    y_max_cap: float | None = None
    y_fixed: float | None = None  # a fixed top (shares: 100%)
    note: str = ""


def _e(x: object) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _tfmt(t: float, span: float) -> str:
    f = "%H:%M:%S" if span <= 900 else "%H:%M" if span <= 2 * 86400 else "%m-%d %H:%M"
    return time.strftime(f, time.gmtime(t))


def _nice(v: float) -> float:
    if v <= 0:
        return 1.0
    import math

    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * e >= v:
            return m * e
    return 10 * e


def render(ch: Chart) -> str:
    vals = [v for ln in ch.lines for _, v in ln.points if v is not None]
    has_data = bool(vals)
    y_max = max(vals) if vals else 1.0
    if ch.y_max_cap is not None:
        y_max = min(y_max * 1.25, ch.y_max_cap) if vals else ch.y_max_cap
    y_max = _nice(y_max * 1.05 if y_max > 0 else (ch.y_max_cap or 1.0))
    if ch.y_fixed is not None:
        y_max = ch.y_fixed
    y_min = min([0.0, *vals])
    span = max(ch.x1 - ch.x0, 1e-9)
    iw, ih = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def X(t: float) -> float:
        return PAD_L + (t - ch.x0) / span * iw

    def Y(v: float) -> float:
        v = min(max(v, y_min), y_max)
        return PAD_T + ih - (v - y_min) / ((y_max - y_min) or 1) * ih

    out = [f'<figure class=chart data-chart="{_e(ch.id)}"><figcaption>{_e(ch.title)}</figcaption>'
           f'<svg viewBox="0 0 {W} {H}" width="100%" style="max-width:{W}px" role="img" '
           f'aria-label="{_e(ch.title)}">']
    for i in range(5):  # grid and y ticks
        v = y_min + (y_max - y_min) * i / 4
        y = Y(v)
        out.append(f'<line class=grid x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}"/>'
                   f'<text class=tick x="{PAD_L - 6}" y="{y + 3:.1f}" text-anchor=end>{_e(ch.fmt(v))}</text>')
    for i in range(5):
        t = ch.x0 + span * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        out.append(f'<text class=tick x="{X(t):.1f}" y="{H - 8}" text-anchor={anchor}>{_tfmt(t, span)}</text>')
    out.append(f'<line class=axis x1="{PAD_L}" x2="{W - PAD_R}" y1="{Y(y_min):.1f}" y2="{Y(y_min):.1f}"/>')
    for b in ch.bands:
        run: list[tuple[float, float, float]] = []
        runs = []
        for t, lo, hi in b.points:
            if lo is None or hi is None:
                if run:
                    runs.append(run)
                run = []
                continue
            run.append((t, lo, hi))
        if run:
            runs.append(run)
        for r in runs:
            top = " ".join(f"{X(t):.1f},{Y(hi):.1f}" for t, _, hi in r)
            bot = " ".join(f"{X(t):.1f},{Y(lo):.1f}" for t, lo, _ in reversed(r))
            out.append(f'<polygon class="band b-{_e(b.cls)}" data-band="{_e(b.name)}" points="{top} {bot}">'
                       f"<title>{_e(b.label)}</title></polygon>")
    for ln in ch.lines:
        segs: list[list[tuple[float, float]]] = [[]]
        for t, v in ln.points:
            if v is None:
                segs.append([])
            else:
                segs[-1].append((t, v))
        for seg in segs:
            if not seg:
                continue
            d = []
            for j, (t, v) in enumerate(seg):
                if j and ln.step:
                    d.append(f"H{X(t):.1f}")
                    d.append(f"V{Y(v):.1f}")
                else:
                    d.append(f"{'L' if j else 'M'}{X(t):.1f},{Y(v):.1f}")
            dash = " dashed" if ln.dashed else ""
            out.append(f'<path class="line l-{_e(ln.cls)}{dash}" d="{" ".join(d)}"/>')
        if ln.dots:
            for t, v in ln.points:
                if v is None:
                    continue
                out.append(f'<circle class="pt p-{_e(ln.cls)}" r=2.6 cx="{X(t):.1f}" cy="{Y(v):.1f}" '
                           f'data-series="{_e(ln.name)}" data-t="{t:.3f}" data-v="{v:.10g}"><title>{_e(ln.label)} '
                           f"{_tfmt(t, span)}: {_e(ch.fmt(v))}</title></circle>")
    for m in ch.marks:
        x = X(m.t)
        out.append(f'<g class="mark m-{_e(m.action)}" data-action="{_e(m.action)}" data-t="{m.t:.3f}">'
                   f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{PAD_T}" y2="{PAD_T + ih}"/>'
                   f'<path d="M{x - 5:.1f},{PAD_T - 2} L{x + 5:.1f},{PAD_T - 2} L{x:.1f},{PAD_T + 7}"/>'
                   f"<title>{_e(m.title)}</title></g>")
    if not has_data:
        out.append(f'<text class=empty x="{W / 2}" y="{H / 2}" text-anchor=middle>no data in this window</text>')
    out.append("</svg>")
    legend = [f'<span class="key k-{_e(ln.cls)}{" dashed" if ln.dashed else ""}">{_e(ln.label)}</span>'
              for ln in ch.lines]
    legend += [f'<span class="key k-band b-{_e(b.cls)}">{_e(b.label)}</span>' for b in ch.bands]
    if ch.marks:
        legend.append('<span class="key k-mark">decisions (hover for the reason)</span>')
    out.append(f'<div class=legend>{"".join(legend)}</div>')
    if ch.note:
        out.append(f"<p class=note>{_e(ch.note)}</p>")
    out.append("</figure>")
    return "".join(out)


def pct(v: float) -> str:
    return f"{v * 100:.1f}%" if abs(v) >= 0.01 or v == 0 else f"{v * 100:.2f}%"


def ms(v: float) -> str:
    return f"{v:.0f} ms"


def usd(v: float) -> str:
    return f"${v:,.2f}" if abs(v) >= 1 or v == 0 else f"${v:.3g}"


def disagreement_charts(s: Series) -> list[Chart]:
    out = []
    for cs in s.comparators:
        band = [(p.t, None if p.lower is None or p.noise_rate is None else max(0.0, p.noise_rate + p.lower),
                 None if p.upper is None or p.noise_rate is None else min(1.0, p.noise_rate + p.upper))
                for p in cs.points]
        allowed = [(p.t, None if p.noise_rate is None else p.noise_rate + cs.pass_at_most) for p in cs.points]
        out.append(Chart(
            id=f"disagreement:{cs.comparator}", title=f"{cs.comparator}: candidate disagreement vs the primary's "
            "noise floor (cumulative)", x0=s.start, x1=s.end, fmt=pct, y_max_cap=1.0,
            lines=[Line("candidate", "candidate disagrees", "candidate", [(p.t, p.candidate_rate) for p in cs.points]),
                   Line("noise", "primary disagrees with itself (noise floor)", "noise",
                        [(p.t, p.noise_rate) for p in cs.points]),
                   Line("allowed", f"passes when the band's top is under noise + {cs.pass_at_most:.1%}", "allowed",
                        allowed, dashed=True, dots=False)],
            bands=[Band("confidence", "always-valid confidence band of the candidate (gate bounds)", "candidate",
                        band)],
            marks=_marks(s),
            note="" if any(p.n for p in cs.points) else "no candidate verdicts in this window"))
    return out


def _marks(s: Series) -> list[Mark]:
    return [Mark(m.t, m.action, f"{m.action} by {m.actor} at {time.strftime('%H:%M:%S UTC', time.gmtime(m.t))}: "
                                 f"{m.from_share:g}% → {m.to_share:g}% — {m.reason}") for m in s.markers]


def share_chart(s: Series) -> Chart:
    return Chart(id="share", title="Served share: the ramp's step and the share of recorded requests the candidate "
                                   "answered", x0=s.start, x1=s.end, fmt=lambda v: f"{v:.0f}%", y_fixed=100.0,
                 lines=[Line("ramp", "ramp share", "share", [(t, v) for t, v in s.share_steps], step=True,
                             dots=False),
                        Line("observed", "observed candidate-served share", "observed",
                             [(p.t, None if p.observed is None else p.observed * 100) for p in s.share])],
                 marks=_marks(s))


def latency_charts(s: Series) -> list[Chart]:
    L = s.latency
    total = Chart(id="latency", title="Latency (total) per bucket: primary vs candidate", x0=s.start, x1=s.end,
                  fmt=ms, lines=[
                      Line("primary_p50", "primary p50", "primary", [(p.t, p.primary_p50) for p in L]),
                      Line("primary_p95", "primary p95", "primary", [(p.t, p.primary_p95) for p in L], dashed=True),
                      Line("candidate_p50", "candidate p50", "candidate", [(p.t, p.candidate_p50) for p in L]),
                      Line("candidate_p95", "candidate p95", "candidate", [(p.t, p.candidate_p95) for p in L],
                           dashed=True)], marks=_marks(s))
    ttft = Chart(id="ttft", title="Time to first token per bucket (streamed requests)", x0=s.start, x1=s.end,
                 fmt=ms, lines=[
                     Line("primary_ttft_p50", "primary p50", "primary", [(p.t, p.primary_ttft_p50) for p in L]),
                     Line("primary_ttft_p95", "primary p95", "primary", [(p.t, p.primary_ttft_p95) for p in L],
                          dashed=True),
                     Line("candidate_ttft_p50", "candidate p50", "candidate",
                          [(p.t, p.candidate_ttft_p50) for p in L]),
                     Line("candidate_ttft_p95", "candidate p95", "candidate",
                          [(p.t, p.candidate_ttft_p95) for p in L], dashed=True)], marks=_marks(s))
    return [total, ttft]


def cost_charts(s: Series) -> list[Chart]:
    C = s.cost
    per = Chart(id="cost", title="Cost per request (pairs priced on both sides)", x0=s.start, x1=s.end, fmt=usd,
                lines=[Line("primary_per_request", "primary", "primary", [(p.t, p.primary_per_request) for p in C]),
                       Line("candidate_per_request", "candidate", "candidate",
                            [(p.t, p.candidate_per_request) for p in C])])
    sav = Chart(id="savings", title="Projected monthly savings at 100% (cumulative)", x0=s.start, x1=s.end,
                fmt=lambda v: f"${v:,.0f}" if abs(v) >= 10 else f"${v:,.2f}",
                lines=[Line("savings_monthly_usd", "projected savings / month", "savings",
                            [(p.t, p.savings_monthly_usd) for p in C])], note=s.savings_basis)
    return [per, sav]


def all_charts(s: Series) -> Sequence[Chart]:
    return [*disagreement_charts(s), share_chart(s), *latency_charts(s), *cost_charts(s)]


CSS = """
figure.chart{margin:10px 0 18px;break-inside:avoid}figure.chart figcaption{font-weight:600;margin-bottom:2px}
.chart svg{display:block;background:var(--panel);border:1px solid var(--line);border-radius:6px}
.chart .grid{stroke:var(--line);stroke-width:1}.chart .axis{stroke:var(--muted);stroke-width:1}
.chart .tick,.chart .empty{font-size:10px;fill:var(--muted)}
.chart .line{fill:none;stroke-width:2}.chart .dashed{stroke-dasharray:5 3}
.l-primary,.k-primary{stroke:var(--c-primary);color:var(--c-primary)}
.l-candidate,.k-candidate{stroke:var(--c-candidate);color:var(--c-candidate)}
.l-noise,.k-noise{stroke:var(--c-noise);color:var(--c-noise)}.l-allowed,.k-allowed{stroke:var(--c-fail);color:var(--c-fail)}
.l-share,.k-share{stroke:var(--ink);color:var(--ink)}.l-observed,.k-observed{stroke:var(--c-candidate);color:var(--c-candidate)}
.l-savings,.k-savings{stroke:var(--c-pass);color:var(--c-pass)}.l-observed{stroke-width:0!important}
.p-primary{fill:var(--c-primary)}.p-candidate,.p-observed{fill:var(--c-candidate)}.p-noise{fill:var(--c-noise)}
.p-savings{fill:var(--c-pass)}.p-share{fill:var(--ink)}
.band.b-candidate{fill:var(--c-candidate);opacity:.18;stroke:none}
.mark line{stroke-width:1.2;stroke-dasharray:2 2}.mark path{stroke:none}
.m-advance line,.m-approve line,.m-start line,.m-restart line,.m-resume line{stroke:var(--c-pass)}
.m-advance path,.m-approve path,.m-start path,.m-restart path,.m-resume path{fill:var(--c-pass)}
.m-hold line,.m-pause line,.m-await_approval line,.m-set line{stroke:var(--c-hold)}
.m-hold path,.m-pause path,.m-await_approval path,.m-set path{fill:var(--c-hold)}
.m-rollback line{stroke:var(--c-fail)}.m-rollback path{fill:var(--c-fail)}
.legend{font-size:12px;color:var(--muted);display:flex;gap:14px;flex-wrap:wrap;margin-top:3px}
.key::before{content:"";display:inline-block;width:18px;height:0;border-top:3px solid currentColor;
vertical-align:middle;margin-right:5px}.key.dashed::before{border-top-style:dashed}
.k-band::before{height:9px;border:0;background:var(--c-candidate);opacity:.3}.k-mark::before{width:0;height:10px;
border-top:0;border-left:2px dashed var(--c-hold)}.chart .note{font-size:12px;color:var(--muted);margin:2px 0}
"""
