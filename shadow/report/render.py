"""Renderers of the rollout report: terminal (rich), JSON, and one self-contained HTML page (no external
assets, so it can be mailed to whoever signs off; the dashboard serves the same page live)."""

from __future__ import annotations

import html
import io
import json

from offramp.shadow.report.build import PairSide, Report, iso


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
    if rep.gates:
        con.print(f"Gates now: {rep.gates.outcome.value.upper()} — {'; '.join(rep.gates.reasons)}")
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
            con.print(f"  {pv.id} [{', '.join(pv.comparators)}] diverges at {pv.divergence}")
    return buf.getvalue()


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d2330;background:#fafbfc}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde2ea;padding-bottom:4px}
table{border-collapse:collapse;background:#fff;margin:6px 0}td,th{border:1px solid #dde2ea;padding:4px 8px;text-align:left;
vertical-align:top}th{background:#eef1f6}.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#11703a;font-weight:600}.hold{color:#9a6700;font-weight:600}.fail{color:#b42318;font-weight:600}
.muted{color:#6b7280}.cards{display:flex;gap:12px;flex-wrap:wrap}.card{background:#fff;border:1px solid #dde2ea;
border-radius:6px;padding:10px 14px;min-width:170px}.card b{display:block;font-size:20px}
.pair{display:grid;grid-template-columns:repeat(3,1fr);gap:8px}.pair pre{white-space:pre-wrap;background:#fff;
border:1px solid #dde2ea;padding:6px;margin:0;max-height:260px;overflow:auto;font-size:12px}
svg text{font-size:10px;fill:#4b5563}
"""


def _e(x: object) -> str:
    return html.escape("" if x is None else str(x))


def _hist_svg(rep: Report, kind: str) -> str:
    """Overlaid latency histograms, primary (blue) and candidate (orange), on log-spaced bins."""
    series = [("primary", "#2f6fde"), ("candidate", "#e8741c")]
    hists = [getattr(rep.latency[s], kind).histogram for s, _ in series]
    if not any(sum(h) for h in hists):
        return '<p class="muted">no data</p>'
    w, h, pad = 640, 160, 24
    nb = len(hists[0])
    bw = (w - pad) / nb
    out = [f'<svg width="{w}" height="{h + 30}" role="img" aria-label="{kind} latency histogram">']
    for (name, color), hist in zip(series, hists, strict=True):
        tot = sum(hist) or 1
        frac = [c / tot for c in hist]
        mx = max(max(c / (sum(x) or 1) for x in hists for c in x), 1e-9)
        for i, f in enumerate(frac):
            bh = f / mx * h
            x = pad + i * bw + (bw / 2 if name == "candidate" else 0)
            out.append(f'<rect x="{x:.1f}" y="{h - bh:.1f}" width="{bw / 2:.1f}" height="{bh:.1f}" fill="{color}">'
                       f'<title>{name}: {hist[i]}</title></rect>')
    edges = rep.histogram_edges_ms
    for i in range(0, len(edges), 4):
        out.append(f'<text x="{pad + (i + 1) * bw:.1f}" y="{h + 14}">{edges[i]:g}</text>')
    out.append(f'<text x="{pad}" y="{h + 28}">ms (log bins) — blue primary, orange candidate</text></svg>')
    return "".join(out)


def _pair_side(s: PairSide | None) -> str:
    if s is None:
        return '<div><h4>second primary</h4><pre class="muted">not sampled</pre></div>'
    body = s.error or ""
    if s.tool_calls:
        body += "\n".join(s.tool_calls) + "\n"
    body += s.text or ""
    fr = f" · {s.finish_reason}" if s.finish_reason else ""
    return f"<div><h4>{_e(s.label)}{_e(fr)}</h4><pre>{_e(body.strip() or '(empty)')}</pre></div>"


def render_html(rep: Report, live: bool = False, refresh_seconds: int = 10) -> str:
    r = rep.ramp
    o = rep.gates.outcome.value if rep.gates else "hold"
    pj = rep.projection
    parts = ["<!doctype html><html lang=en><head><meta charset=utf-8>",
             "<meta name=viewport content='width=device-width,initial-scale=1'>",
             f"<meta http-equiv=refresh content={refresh_seconds}>" if live else "",
             f"<title>Offramp rollout — {_e(r.status.value)} at {r.share:g}%</title><style>{_CSS}</style></head><body>",
             f"<h1>Offramp rollout {'dashboard' if live else 'report'}</h1>",
             f"<p class=muted>{rep.pairs} pairs from {iso(rep.first)} to {iso(rep.last)} · generated "
             f"{iso(rep.generated_at)}</p>", "<div class=cards>",
             f"<div class=card data-figure=ramp-share>Ramp<b>{r.share:g}%</b>{_e(r.status.value)}</div>",
             f"<div class=card data-figure=gates>Gates now<b class={o}>{o.upper()}</b></div>",
             f"<div class=card data-figure=pairs>Pairs<b>{rep.pairs:,}</b></div>"]
    if pj:
        parts.append(f"<div class=card data-figure=savings>Projected savings / month<b>{_usd(pj.savings_monthly_usd)}"
                     f"</b>{'' if pj.savings_pct is None else f'{pj.savings_pct:.1f}%'} at 100%</div>")
    parts.append("</div>")
    if r.reason:
        parts.append(f"<p>{_e(r.reason)}</p>")
    from offramp.shadow.status import accounting_line, breaker_lines

    for line in breaker_lines([b for b in rep.breakers if b.get("state") not in (None, "closed")]):
        parts.append(f"<p class=fail data-figure=breaker>{_e(line)}</p>")
    if rep.accounting.get("offered"):
        parts.append(f"<p class=muted data-figure=accounting>{_e(accounting_line(rep.accounting))}</p>")
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
            parts.append(f"<tr><td>{_e(a.family)}<td>{_e(a.comparator)}<td class=num>{_pct(a.candidate.rate)} of "
                         f"{a.candidate.n}<td class=num>{_pct(a.noise.rate)} of {a.noise.n}<td class=num>"
                         f"{_pct(a.excess, True)}</tr>")
        parts.append("</table>")
    if rep.gates:
        parts.append("<h2>Gates</h2><table data-figure=gate-table><tr><th>metric<th>outcome<th>reason</tr>")
        for m in rep.gates.metrics:
            parts.append(f"<tr><td>{_e(m.name)}<td class={m.outcome.value}>{m.outcome.value}"
                         f"{' (dry run)' if m.dry_run else ''}<td>{_e(m.reason)}</tr>")
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
    for pv in rep.top_pairs:
        parts.append(f"<section id='pair-{_e(pv.id)}' data-figure=pair><h3>{_e(pv.id)} · {_e(pv.family)} · "
                     f"{_e(', '.join(pv.comparators))}</h3><p>Request: {_e(pv.request)}</p>"
                     f"<p>Diverges at <b>{_e(pv.divergence)}</b></p><div class=pair>"
                     + _pair_side(pv.primary) + _pair_side(pv.second_primary) + _pair_side(pv.candidate)
                     + "</div></section>")
    if not rep.top_pairs:
        parts.append("<p class=muted>no disagreeing pairs</p>")
    # Every "<" escaped: a prompt holding "<!--<script>" would otherwise keep the block open past its end.
    data = json.dumps(json.loads(rep.model_dump_json()), separators=(",", ":")).replace("<", "\\u003c")
    parts.append(f"<script type=application/json id=report-data>{data}</script></body></html>")
    return "".join(parts)
