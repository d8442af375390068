"""Renderers of the rollout report: terminal (rich), JSON, and one self-contained HTML page (no external
assets, so it can be mailed to whoever signs off; the dashboard serves the same page live)."""

from __future__ import annotations

import html
import io
import json

from offramp.shadow.report.build import PairSide, PairView, Report, iso
from offramp.shadow.report.charts import CSS as _CHART_CSS
from offramp.shadow.report.charts import all_charts
from offramp.shadow.report.charts import render as chart_svg
from offramp.shadow.report.headline import Headline
from offramp.shadow.report.pairs import Segment


def render_json(rep: Report) -> str:
    return rep.model_dump_json(indent=2)


def _pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "—"
    return f"{x * 100:+.2f} pp" if signed else f"{x * 100:.2f}%"


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x:.0f} ms"


def _usd(x: float | None) -> str:
    return "—" if x is None else f"${x:,.2f}"


_BARS = "▁▂▃▄▅▆▇█"


def _spark(values: list[float | None]) -> str:
    """A terminal sparkline of one series (blank where a bucket has no data)."""
    got = [v for v in values if v is not None]
    if not got:
        return " " * len(values)
    lo, hi = min(got), max(got)
    return "".join(" " if v is None else _BARS[0 if hi == lo else round((v - lo) / (hi - lo) * 7)] for v in values)


def render_terminal(rep: Report, width: int | None = None) -> str:
    import shutil

    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    width = width or max(100, shutil.get_terminal_size((120, 40)).columns)
    con = Console(file=buf, width=width, force_terminal=False, color_system=None)
    r = rep.ramp
    con.print(f"Rollout report — {rep.pairs} pairs from {iso(rep.first)} to {iso(rep.last)}")
    con.print(f"Ramp: {r.status.value} at {r.share:g}% (plan {' → '.join(f'{s:g}%' for s in rep.plan_steps)})"
              + (f" — {r.reason}" if r.reason else ""))
    h = rep.headline
    if h is not None:
        con.print(f"What now: {h.title}")
        if h.metric:
            need = "" if not h.samples_needed else f" (needs ~{h.samples_needed:,} more samples)"
            con.print(f"  decided by {h.metric}{need}: {h.reason}")
        if h.figure:
            con.print(f"  {h.figure}")
        con.print(f"  next: {h.next_step}" + (f" — {h.command}" if h.command else ""))
    if rep.gates:
        con.print(f"Gates now: {rep.gates.outcome.value.upper()} — {'; '.join(rep.gates.reasons)}")
    if rep.series is not None and rep.series.comparators:
        con.print(f"Over time ({rep.series.window}, {iso(rep.series.start)} → {iso(rep.series.end)}), candidate "
                  "disagreement | noise floor, cumulative:")
        for cs in rep.series.comparators:
            last = cs.points[-1] if cs.points else None
            con.print(f"  {cs.comparator:<18} {_spark([p.candidate_rate for p in cs.points])} | "
                      f"{_spark([p.noise_rate for p in cs.points])}  now {_pct(last.candidate_rate if last else None)}"
                      f" vs {_pct(last.noise_rate if last else None)}")
        con.print(f"  {'served share':<18} {_spark([p.observed for p in rep.series.share])}  decisions: "
                  + (", ".join(f"{m.action} {m.to_share:g}%" for m in rep.series.markers) or "none"))
    t = Table(title="Disagreement: candidate vs primary, against the primary's own noise floor")
    for col in ("comparator", "candidate", "noise floor", "excess", "excess ≤ (95%)", "shown"):
        t.add_column(col)
    for a in rep.agreement:
        t.add_row(a.comparator, f"{_pct(a.candidate.rate)} of {a.candidate.n}", f"{_pct(a.noise.rate)} of {a.noise.n}",
                  _pct(a.excess, True), _pct(a.excess_upper, True), "yes" if a.shown else "noise")
    con.print(t)
    if rep.gates:
        g = Table(title="Gates")
        for col in ("metric", "outcome", "reason"):
            g.add_column(col)
        for m in rep.gates.metrics:
            g.add_row(m.name, m.outcome.value + (" (dry run)" if m.dry_run else ""), m.reason)
        con.print(g)
    if rep.endpoints:
        et = Table(title="Mirrored endpoints")
        for col in ("endpoint", "pairs", "candidate sent to", "candidate errors", "neighbours kept (candidate / "
                    "primary itself)", "vectors"):
            et.add_column(col)
        for e in rep.endpoints:
            et.add_row(e.endpoint, str(e.pairs), _sent_to(e), str(e.candidate_errors), _neighbours(e),
                       _vectors(e))
        con.print(et)
    lt = Table(title="Latency")
    for col in ("side", "calls", "total p50", "total p95", "total p99", "TTFT p50", "TTFT p95", "error rate"):
        lt.add_column(col)
    for side in ("primary", "candidate", "noise"):
        L = rep.latency[side]
        lt.add_row(side if side != "noise" else "second primary", str(rep.cost[side].calls),
                   _ms(L.total.quantiles.get("p50")), _ms(L.total.quantiles.get("p95")),
                   _ms(L.total.quantiles.get("p99")), _ms(L.ttft.quantiles.get("p50")),
                   _ms(L.ttft.quantiles.get("p95")), _pct(rep.error_rates[side]))
    con.print(lt)
    for side, kinds in rep.errors.items():
        if kinds:
            con.print(f"errors ({side}): " + ", ".join(f"{k} × {v}" for k, v in sorted(kinds.items())))
    ct = Table(title="Tokens and cost")
    for col in ("side", "prompt tokens", "completion tokens", "cost", "per request"):
        ct.add_column(col)
    for side in ("primary", "candidate", "noise"):
        c = rep.cost[side]
        ct.add_row(side, f"{c.prompt_tokens:,}", f"{c.completion_tokens:,}", f"${c.cost_usd:.4f}",
                   "—" if c.cost_per_request is None else f"${c.cost_per_request:.6f}")
    con.print(ct)
    pj = rep.projection
    if pj:
        con.print(f"Projection at 100%: {pj.requests_per_month:,.0f} requests/month — primary "
                  f"{_usd(pj.primary_monthly_usd)}, candidate {_usd(pj.candidate_monthly_usd)}, savings "
                  f"{_usd(pj.savings_monthly_usd)}" + (f" ({pj.savings_pct:.1f}%)" if pj.savings_pct is not None else ""))
    from offramp.shadow.status import accounting_line, breaker_lines

    for line in breaker_lines([b for b in rep.breakers if b.get("state") not in (None, "closed")]):
        con.print(line)
    if rep.accounting.get("offered"):
        con.print(accounting_line(rep.accounting))
    if rep.status_extra:
        con.print("Proxy status: " + "; ".join(f"{k} {v}" for k, v in _flat(rep.status_extra)))
    if rep.decisions:
        dt = Table(title="Ramp history")
        for col in ("when", "action", "by", "share", "reason", "pairs"):
            dt.add_column(col)
        for d in rep.decisions:
            dt.add_row(d.when, d.action, d.actor, f"{d.from_share:g}% → {d.to_share:g}%", d.reason,
                       ", ".join(d.pair_ids[:3]) + (" …" if len(d.pair_ids) > 3 else ""))
        con.print(dt)
    if rep.top_pairs:
        con.print("Most disagreeing pairs:")
        for pv in rep.top_pairs:
            con.print(f"  {pv.id} {pv.family_name or pv.family} [{', '.join(pv.comparators)}] diverges at "
                      f"{pv.divergence}")
    return buf.getvalue()


def _sent_to(e) -> str:
    return ", ".join(f"{k} × {v}" for k, v in sorted(e.candidate_sent_to.items())) or "—"


def _neighbours(e) -> str:
    return "; ".join(f"@{n.k}: {_pct(n.candidate_mean_overlap)} / {_pct(n.noise_mean_overlap)} (n={n.candidate_n})"
                     for n in e.neighbours) or "—"


def _vectors(e) -> str:
    if not e.primary_dims and not e.candidate_dims:
        return "—"
    dims = f"{'/'.join(map(str, e.primary_dims)) or '—'} → {'/'.join(map(str, e.candidate_dims)) or '—'} dims"
    return f"{dims}; {e.reindex}" if e.reindex else dims


_CSS = """
:root{--ink:#1d2330;--muted:#5b6474;--bg:#fafbfc;--panel:#fff;--line:#dde2ea;--head:#eef1f6;--c-primary:#2f6fde;
--c-candidate:#d9630f;--c-noise:#6b7280;--c-pass:#11703a;--c-hold:#9a6700;--c-fail:#b42318;--del:#fde2e1;--ins:#dcf5e3;
--hl:#fff4d6;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--ink:#e6e9ef;--muted:#9aa3b2;--bg:#11151c;--panel:#181d26;--line:#2c3442;
--head:#202735;--c-primary:#6d9ef5;--c-candidate:#f39a4f;--c-noise:#a2a9b6;--c-pass:#4cc47a;--c-hold:#e0b341;
--c-fail:#f0776b;--del:#4a2020;--ins:#173a24;--hl:#3a3219}}
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:var(--ink);background:var(--bg)}
a{color:var(--c-primary)}h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
table{border-collapse:collapse;background:var(--panel);margin:6px 0}td,th{border:1px solid var(--line);padding:4px 8px;
text-align:left;vertical-align:top}th{background:var(--head)}.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:var(--c-pass);font-weight:600}.hold{color:var(--c-hold);font-weight:600}.fail{color:var(--c-fail);font-weight:600}
.muted{color:var(--muted)}.cards{display:flex;gap:12px;flex-wrap:wrap}.card{background:var(--panel);border:1px solid
var(--line);border-radius:6px;padding:10px 14px;min-width:170px}.card b{display:block;font-size:20px}
nav.windows{margin:6px 0 12px}nav.windows a,nav.windows span{margin-right:10px}nav.windows .on{font-weight:700}
.headline{border:2px solid var(--line);border-left-width:8px;border-radius:8px;background:var(--panel);padding:12px 16px;
margin:10px 0 16px}.headline h2{border:0;margin:0 0 6px;padding:0;font-size:20px}
.headline.s-hold,.headline.s-waiting,.headline.s-awaiting_approval,.headline.s-paused{border-color:var(--c-hold)}
.headline.s-failing,.headline.s-rolled_back{border-color:var(--c-fail)}
.headline.s-running,.headline.s-complete{border-color:var(--c-pass)}.headline .metric{font-size:15px}
.headline code{font-size:14px;background:var(--head);padding:2px 6px;border-radius:4px}
tr.deciding td{background:var(--hl)}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:4px 20px}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:8px}.pair pre{white-space:pre-wrap;background:var(--panel);
border:1px solid var(--line);padding:6px;margin:0;max-height:320px;overflow:auto;font-size:12px}
.pair h4{margin:4px 0}del.d{background:var(--del);text-decoration:line-through;text-decoration-color:var(--c-fail)}
ins.i{background:var(--ins);text-decoration:none}table.fields td.diff{background:var(--hl)}
table.fields td{font:12px ui-monospace,Menlo,Consolas,monospace}
svg text{font-size:10px;fill:var(--muted)}.hist-primary{fill:var(--c-primary)}.hist-candidate{fill:var(--c-candidate)}
@media print{:root{--ink:#000;--muted:#444;--bg:#fff;--panel:#fff;--line:#bbb;--head:#eee;color-scheme:light}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}body{margin:0;font-size:10.5pt}nav.windows{display:none}
.charts{display:block}figure.chart,tr,.headline,section{break-inside:avoid}h2,h3{break-after:avoid}
.pair pre{max-height:none;overflow:visible}}
""" + _CHART_CSS


def _e(x: object) -> str:
    return html.escape("" if x is None else str(x))


def _hist_svg(rep: Report, kind: str) -> str:
    """Overlaid latency histograms, primary and candidate, on log-spaced bins."""
    series = ["primary", "candidate"]
    hists = [getattr(rep.latency[s], kind).histogram for s in series]
    if not any(sum(h) for h in hists):
        return '<p class="muted">no data</p>'
    w, h, pad = 640, 160, 24
    nb = len(hists[0])
    bw = (w - pad) / nb
    out = [f'<svg viewBox="0 0 {w} {h + 30}" width="100%" style="max-width:{w}px" role="img" '
           f'aria-label="{kind} latency histogram">']
    mx = max(max(c / (sum(x) or 1) for x in hists for c in x), 1e-9)
    for name, hist in zip(series, hists, strict=True):
        tot = sum(hist) or 1
        for i, c in enumerate(hist):
            bh = c / tot / mx * h
            x = pad + i * bw + (bw / 2 if name == "candidate" else 0)
            out.append(f'<rect class="hist-{name}" x="{x:.1f}" y="{h - bh:.1f}" width="{bw / 2:.1f}" '
                       f'height="{bh:.1f}"><title>{name}: {c}</title></rect>')
    edges = rep.histogram_edges_ms
    for i in range(0, len(edges), 4):
        out.append(f'<text x="{pad + (i + 1) * bw:.1f}" y="{h + 14}">{edges[i]:g}</text>')
    out.append(f'<text x="{pad}" y="{h + 28}">ms (log bins) — blue primary, orange candidate</text></svg>')
    return "".join(out)


def _segments(segs: list[Segment]) -> str:
    out = []
    for s in segs:
        t = _e(s.text)
        out.append(t if s.op == "same" else f"<del class=d>{t}</del>" if s.op == "del" else f"<ins class=i>{t}</ins>")
    return "".join(out)


def _side_text(s: PairSide, segs: list[Segment]) -> str:
    if s.error or (s.status is not None and s.status >= 400):
        return _e(s.error or f"HTTP {s.status}")
    if segs:
        return _segments(segs)
    return _e(s.text or "") or '<span class="muted">(no text)</span>'


def render_pair(pv: PairView, live: bool = False) -> str:
    """One pair, primary | candidate, the difference highlighted (fields first, then text)."""
    fam = pv.family_name or pv.family
    head = (f"<section id='pair-{_e(pv.id)}' data-figure=pair data-pair='{_e(pv.id)}'><h3>"
            f"<span title='{_e(pv.family)}'>{_e(fam)}</span> · {_e(', '.join(pv.comparators) or 'no comparator')}"
            f"</h3><p class=muted>pair {_e(pv.id)} · {iso(pv.created_at)} · served by {_e(pv.served_by)} · "
            f"privacy {_e(pv.privacy)}</p>")
    if not pv.diff.bodies_stored:
        return (head + f"<p data-figure=pair-hidden>Bodies are not stored in <b>{_e(pv.privacy)}</b> privacy mode: "
                f"outcomes only — primary {_e(pv.primary.error or pv.primary.status)}, candidate "
                f"{_e(pv.candidate.error or pv.candidate.status)}.</p></section>")
    parts = [head, f"<p>Request: {_e(pv.request)}</p><p>Diverges at <b>{_e(pv.divergence)}</b></p>"]
    if pv.diff.fields:
        rows = "".join(
            f"<tr data-field='{_e(f.path)}' class='{'same' if f.same else 'changed'}'><td>{_e(f.path)}</td>"
            f"<td class='{'' if f.same else 'diff'}'>{_e('—' if f.primary is None else f.primary)}</td>"
            f"<td class='{'' if f.same else 'diff'}'>{_e('—' if f.candidate is None else f.candidate)}</td></tr>"
            for f in pv.diff.fields)
        parts.append("<table class=fields data-figure=field-diff><tr><th>field<th>primary<th>candidate</tr>"
                     + rows + "</table>")
    fr = [f" · {s.finish_reason}" if s.finish_reason else "" for s in (pv.primary, pv.candidate)]
    has_text = any(s.text or s.error or (s.status is not None and s.status >= 400) for s in (pv.primary, pv.candidate))
    if has_text or not pv.diff.fields:
        parts.append("<div class=pair data-figure=text-diff>"
                     f"<div><h4>primary{_e(fr[0])}</h4><pre>{_side_text(pv.primary, pv.diff.primary_text)}</pre>"
                     f"</div><div><h4>candidate{_e(fr[1])}</h4><pre>"
                     f"{_side_text(pv.candidate, pv.diff.candidate_text)}</pre></div></div>")
    if pv.second_primary is not None and pv.second_primary.text:
        parts.append(f"<details><summary>second primary (noise floor)</summary><pre>{_e(pv.second_primary.text)}"
                     "</pre></details>")
    parts.append("</section>")
    return "".join(parts)


def _page(title: str, body: list[str], live: bool, refresh_seconds: int) -> str:
    return "".join([
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width,initial-scale=1'>",
        "<meta name=color-scheme content='light dark'>",
        f"<meta http-equiv=refresh content={refresh_seconds}>" if live else "",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>", *body, "</body></html>"])


def render_pairs_page(title: str, pairs: list[PairView], note: str = "", back: str = "/dashboard") -> str:
    """The pair viewer: the worst disagreeing pairs of one family or gate."""
    body = [f"<h1>{_e(title)}</h1><p><a href='{_e(back)}'>← dashboard</a></p>",
            f"<p class=muted>{_e(note)}</p>" if note else ""]
    body += [render_pair(pv, live=True) for pv in pairs] or ["<p class=muted data-figure=no-pairs>no disagreeing "
                                                              "pairs</p>"]
    return _page(title, body, live=False, refresh_seconds=0)


def _headline(h: Headline | None) -> str:
    if h is None:
        return ""
    out = [f"<section class='headline s-{_e(h.state)}' data-figure=headline data-state='{_e(h.state)}'>",
           f"<h2>{_e(h.title)}</h2>"]
    if h.metric:
        need = "" if h.samples_needed is None else (
            " · decided" if h.samples_needed == 0 else f" · needs ~{h.samples_needed:,} more samples")
        out.append(f"<div class=metric data-figure=deciding data-metric='{_e(h.metric)}'>Decided by <b>{_e(h.metric)}"
                   f"</b>{_e(need)}{' · set by ' + _e(h.setting) if h.setting else ''}</div>")
    if h.figure:
        out.append(f"<div data-figure=deciding-figure>{_e(h.figure)}</div>")
    if h.reason:
        out.append(f"<div data-figure=reason>{_e(h.reason)}</div>")
    out.append(f"<p data-figure=next-step><b>Next:</b> {_e(h.next_step)}"
               + (f" — <code data-figure=command>{_e(h.command)}</code>" if h.command else "") + "</p>")
    extra = [x for x in (h.explanation, h.decided_by) if x]
    if extra:
        out.append(f"<div class=muted>{_e(' · '.join(extra))}</div>")
    out.append("</section>")
    return "".join(out)


def _windows(rep: Report, live: bool) -> str:
    labels = {"hour": "last hour", "day": "last day", "ramp": "whole ramp"}
    if not live:
        return f"<nav class=windows>Charts: <span class=on>{labels.get(rep.window, rep.window)}</span></nav>"
    links = [f"<span class=on>{v}</span>" if k == rep.window else f"<a href='/dashboard?window={k}'>{v}</a>"
             for k, v in labels.items()]
    return "<nav class=windows data-figure=windows>Charts: " + "".join(links) + "</nav>"


def _flat(d: dict, prefix: str = "") -> list[tuple[str, object]]:
    """Nested status figures as `breaker.deepseek.state = open` rows."""
    out: list[tuple[str, object]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out += _flat(v, key + ".")
        else:
            out.append((key, json.dumps(v) if isinstance(v, (list, dict)) else v))
    return out


def _span(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.2g} s"  # a short scripted ramp has sub-second buckets: never print "0 s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _family_cell(rep: Report, fid: str | None, live: bool) -> str:
    fam = rep.family_names.get(fid or "")
    name = fam.name if fam else (fid or "")
    inner = f"<span title='{_e(fid)}' data-family='{_e(fid)}'>{_e(name)}</span>"
    return f"<a href='/dashboard/pairs?family={_e(fid)}'>{inner}</a>" if live else inner


def render_html(rep: Report, live: bool = False, refresh_seconds: int = 10) -> str:
    r = rep.ramp
    o = rep.gates.outcome.value if rep.gates else "hold"
    pj = rep.projection
    h = rep.headline
    parts = [f"<h1>Offramp rollout {'dashboard' if live else 'report'}</h1>",
             f"<p class=muted>{rep.pairs} pairs from {iso(rep.first)} to {iso(rep.last)} · generated "
             f"{iso(rep.generated_at)}</p>", _windows(rep, live), _headline(h), "<div class=cards>",
             f"<div class=card data-figure=ramp-share>Ramp<b>{r.share:g}%</b>{_e(r.status.value)}</div>",
             f"<div class=card data-figure=gates>Gates now<b class={o}>{o.upper()}</b></div>",
             f"<div class=card data-figure=pairs>Pairs<b>{rep.pairs:,}</b></div>"]
    if pj:
        parts.append(f"<div class=card data-figure=savings>Projected savings / month<b>{_usd(pj.savings_monthly_usd)}"
                     f"</b>{'' if pj.savings_pct is None else f'{pj.savings_pct:.1f}%'} at 100%</div>")
    parts.append("</div>")
    from offramp.shadow.status import accounting_line, breaker_lines

    for line in breaker_lines([b for b in rep.breakers if b.get("state") not in (None, "closed")]):
        parts.append(f"<p class=fail data-figure=breaker>{_e(line)}</p>")
    if rep.accounting.get("offered"):
        parts.append(f"<p class=muted data-figure=accounting>{_e(accounting_line(rep.accounting))}</p>")
    if rep.gates:
        deciding = h.metric if h else None
        parts.append("<h2>Gates</h2><table data-figure=gate-table><tr><th>metric<th>outcome<th>samples<th>needs"
                     "<th>reason</tr>")
        order = {"fail": 0, "hold": 1, "pass": 2}
        for m in sorted(rep.gates.metrics, key=lambda m: (m.name != deciding, order[m.outcome.value],
                                                           not m.applicable)):
            name = (f"<a href='/dashboard/pairs?gate={_e(m.name)}'>{_e(m.name)}</a>" if live and m.outcome.value
                    != "pass" else _e(m.name))
            need = "" if m.samples_needed in (None, 0) else f"~{m.samples_needed:,}"
            parts.append(f"<tr data-gate='{_e(m.name)}'{' class=deciding' if m.name == deciding else ''}><td>{name}"
                         f"<td class={m.outcome.value}>{m.outcome.value}{' (dry run)' if m.dry_run else ''}"
                         f"<td class=num>{m.samples:,}<td class=num>{need}<td>{_e(m.reason)}</tr>")
        parts.append("</table>")
    if rep.series is not None:
        parts.append(f"<h2>Over time <span class=muted>({_e(rep.series.window)}: {iso(rep.series.start)} → "
                     f"{iso(rep.series.end)}, buckets of {_span(rep.series.bucket_seconds)})</span></h2>")
        parts.append("<div class=charts data-figure=charts>" + "".join(chart_svg(c) for c in all_charts(rep.series))
                     + "</div>")
    parts.append("<h2>Agreement vs the noise floor</h2><table data-figure=agreement><tr><th>comparator<th>candidate "
                 "disagrees<th>primary disagrees with itself<th>excess<th>excess ≤ (95%)<th>display</tr>")
    for a in rep.agreement:
        parts.append(f"<tr><td>{_e(a.comparator)}<td class=num>{_pct(a.candidate.rate)} of {a.candidate.n}"
                     f"<td class=num>{_pct(a.noise.rate)} of {a.noise.n}<td class=num>{_pct(a.excess, True)}"
                     f"<td class=num>{_pct(a.excess_upper, True)}<td>{'shown' if a.shown else 'noise'}</tr>")
    parts.append("</table>")
    if rep.families:
        parts.append("<h2>Per request family</h2><table data-figure=families><tr><th>family<th>comparator"
                     "<th>candidate<th>noise floor<th>excess</tr>")
        for a in rep.families:
            if not a.shown and a.excess is not None:
                continue  # Diffy's display filter: hide families where the difference is noise
            parts.append(f"<tr><td>{_family_cell(rep, a.family, live)}<td>{_e(a.comparator)}<td class=num>"
                         f"{_pct(a.candidate.rate)} of {a.candidate.n}<td class=num>{_pct(a.noise.rate)} of "
                         f"{a.noise.n}<td class=num>{_pct(a.excess, True)}</tr>")
        parts.append("</table><p class=muted>Names: route · model · the system prompt's first words as stored "
                     "(redacted per the privacy mode), or the label from <code>[families]</code>; hover for the "
                     "family id.</p>")
    if rep.endpoints:
        parts.append("<h2>Mirrored endpoints</h2><table data-figure=endpoints><tr><th>endpoint<th>pairs<th>candidate "
                     "sent to<th>candidate errors<th>neighbours kept (candidate / primary itself)<th>vectors</tr>")
        for e in rep.endpoints:
            cls = " class=fail" if e.dimension_mismatch else ""
            parts.append(f"<tr><td>{_e(e.endpoint)}<td class=num>{e.pairs}<td>{_e(_sent_to(e))}<td class=num>"
                         f"{e.candidate_errors}<td>{_e(_neighbours(e))}<td{cls}>{_e(_vectors(e))}</tr>")
        parts.append("</table>")
    parts.append("<h2>Latency</h2><table data-figure=latency><tr><th>side<th>calls<th>total p50<th>p95<th>p99"
                 "<th>TTFT p50<th>TTFT p95<th>error rate</tr>")
    for side in ("primary", "candidate", "noise"):
        L = rep.latency[side]
        parts.append(f"<tr><td>{'second primary' if side == 'noise' else side}<td class=num>{rep.cost[side].calls}"
                     + "".join(f"<td class=num>{_ms(v)}" for v in (
                         L.total.quantiles.get("p50"), L.total.quantiles.get("p95"), L.total.quantiles.get("p99"),
                         L.ttft.quantiles.get("p50"), L.ttft.quantiles.get("p95")))
                     + f"<td class=num>{_pct(rep.error_rates[side])}</tr>")
    parts.append("</table><h3>Total latency</h3>" + _hist_svg(rep, "total") + "<h3>Time to first token</h3>"
                 + _hist_svg(rep, "ttft"))
    errs = [(s, k, v) for s, kinds in rep.errors.items() for k, v in sorted(kinds.items())]
    parts.append("<h2>Errors</h2>")
    if errs:
        parts.append("<table data-figure=errors><tr><th>side<th>kind<th>count</tr>" + "".join(
            f"<tr><td>{_e(s)}<td>{_e(k)}<td class=num>{v}</tr>" for s, k, v in errs) + "</table>")
    else:
        parts.append("<p class=muted>none</p>")
    parts.append("<h2>Tokens and cost</h2><table data-figure=cost><tr><th>side<th>prompt tokens<th>completion tokens"
                 "<th>cost<th>per request</tr>")
    for side in ("primary", "candidate", "noise"):
        c = rep.cost[side]
        parts.append(f"<tr><td>{side}<td class=num>{c.prompt_tokens:,}<td class=num>{c.completion_tokens:,}"
                     f"<td class=num>${c.cost_usd:.4f}<td class=num>"
                     f"{'—' if c.cost_per_request is None else f'${c.cost_per_request:.6f}'}</tr>")
    parts.append("</table>")
    if pj:
        parts.append(f"<p data-figure=projection>At 100%: {pj.requests_per_month:,.0f} requests/month; primary "
                     f"{_usd(pj.primary_monthly_usd)}, candidate {_usd(pj.candidate_monthly_usd)}, savings "
                     f"<b>{_usd(pj.savings_monthly_usd)}</b>. <span class=muted>{_e(pj.basis)}.</span></p>")
    if rep.status_extra:
        parts.append("<h2>Proxy status</h2><table data-figure=status-extra><tr><th>what<th>value</tr>" + "".join(
            f"<tr><td>{_e(k)}<td class=num>{_e(v)}</tr>" for k, v in _flat(rep.status_extra)) + "</table>")
    parts.append("<h2>Ramp history</h2>")
    if rep.decisions:
        parts.append("<table data-figure=history><tr><th>when<th>action<th>by<th>share<th>reason<th>figures"
                     "<th>pairs</tr>")
        for d in reversed(rep.decisions):
            figs = "; ".join(f"{f.get('name')}: {f.get('outcome')}" for f in d.figures if f.get("applicable", True))
            parts.append(f"<tr><td>{_e(d.when)}<td>{_e(d.action)}<td>{_e(d.actor)}<td>{d.from_share:g}% → "
                         f"{d.to_share:g}%<td>{_e(d.reason)}<td class=muted>{_e(figs)}<td>"
                         + " ".join(f"<a href='#pair-{_e(p)}'>{_e(p[:8])}</a>" for p in d.pair_ids[:10]) + "</tr>")
        parts.append("</table>")
    else:
        parts.append("<p class=muted>no decisions yet (`migrate shadow ramp start`)</p>")
    parts.append("<h2>Most disagreeing pairs</h2>")
    if live:
        parts.append("<p class=muted>Open a family or a holding gate above for its worst pairs.</p>")
    for pv in rep.top_pairs:
        parts.append(render_pair(pv, live))
    if not rep.top_pairs:
        parts.append("<p class=muted>no disagreeing pairs</p>")
    # Every "<" escaped: a prompt holding "<!--<script>" would otherwise keep the block open past its end.
    data = json.dumps(json.loads(rep.model_dump_json()), separators=(",", ":")).replace("<", "\\u003c")
    parts.append(f"<script type=application/json id=report-data>{data}</script>")
    title = f"Offramp rollout — {h.title if h else r.status.value + f' at {r.share:g}%'}"
    return _page(title, parts, live, refresh_seconds)
