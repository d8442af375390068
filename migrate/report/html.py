"""One self-contained HTML page: what an engineer sends to their manager.

No script, no external stylesheet, font or image, no network: it opens from a mail attachment or a CI
artifact as is, and prints legibly (colours kept, tables not split mid-row).
"""

from __future__ import annotations

from html import escape

from offramp.migrate.report.common import (
    LEVEL_COLOURS,
    by_file,
    deadline_headline,
    deadline_text,
    level_names,
    levels,
    location,
    one_line,
    reached,
)
from offramp.migrate.report.priorities import directory_heat, first_steps
from offramp.migrate.report_model import Finding, ScanReport
from offramp.migrate.ruleset import RuleSet

_CSS = """
:root { --ink: #1d2330; --muted: #5b6474; --line: #d9dde5; --bg: #f6f7f9; --page: #fff; color-scheme: light dark; }
@media (prefers-color-scheme: dark) {
  :root { --ink: #e6e9ef; --muted: #9aa3b2; --line: #2c3442; --bg: #181d26; --page: #11151c; }
}
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: var(--ink); margin: 0; background: var(--page); }
main { max-width: 1100px; margin: 0 auto; padding: 28px 28px 60px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 10px; }
h3 { font-size: 15px; margin: 22px 0 6px;
     font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.muted { color: var(--muted); }
.hero { display: flex; gap: 24px; align-items: center; border: 1px solid var(--line); border-radius: 10px;
        padding: 20px 24px; margin-top: 18px; background: var(--bg); }
.big { min-width: 120px; text-align: center; color: #fff; border-radius: 10px; padding: 12px 10px; }
.big .n { font-size: 46px; font-weight: 700; line-height: 1; } .big .of { font-size: 13px; opacity: .9; }
.hero .name { font-size: 22px; font-weight: 650; } .hero .effort { font-size: 16px; margin-top: 2px; }
.stats { display: flex; gap: 12px; flex-wrap: wrap; margin-top: 14px; }
.stat { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 130px; }
.stat b { display: block; font-size: 20px; }
.ladder { display: grid; grid-template-columns: repeat(6, 1fr); gap: 6px; margin-top: 14px; }
.rung { border: 1px solid var(--line); border-radius: 8px; padding: 8px; font-size: 12px; opacity: .55; }
.rung.on { opacity: 1; border-width: 2px; }
.rung .t { font-weight: 650; font-size: 13px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; }
table.file { table-layout: fixed; }
.c-line { width: 64px; } .c-level { width: 52px; } .c-api { width: 210px; }
.c-offer { width: 230px; } td.num .muted { display: block; font-size: 11px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); }
td.num, th.num { text-align: right; }
.pill { display: inline-block; color: #fff; border-radius: 999px; padding: 1px 8px; font-size: 12px;
        font-weight: 650; white-space: nowrap; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { margin: 0; white-space: pre-wrap; word-break: break-word; background: var(--bg); padding: 4px 6px;
      border-radius: 4px; }
.offer { font-size: 12.5px; } .feat { font-size: 12.5px; color: var(--muted); }
.due { font-size: 12.5px; color: #b3261e; font-weight: 600; }
.via { font-size: 12px; color: #2f5d8a; }
.deadlines { border: 2px solid #b3261e; border-radius: 10px; padding: 10px 18px; margin-top: 14px; }
.deadlines li { color: #b3261e; font-weight: 600; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
           fill: var(--ink); }
footer { margin-top: 40px; font-size: 12px; color: var(--muted); }
table.heatmap { width: auto; min-width: 420px; } td.heat { min-width: 44px; font-weight: 650; }
ol.first li { margin: 6px 0; } .save { color: #1f7a44; }
@media print {
  :root { --ink: #1d2330; --muted: #5b6474; --line: #d9dde5; --bg: #f6f7f9; --page: #fff; color-scheme: light; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  main { max-width: none; padding: 0; } body { font-size: 11pt; }
  tr, .hero, svg, .rung, ol.first li, table.heatmap { break-inside: avoid; } h2, h3 { break-after: avoid; }
}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _pill(level: int) -> str:
    return f'<span class="pill" style="background:{LEVEL_COLOURS[max(0, min(level, 5))]}">L{level}</span>'


def _anchor(f: Finding) -> str:
    """A link target such as `report.html#app/agent.py:40` (ids may not contain whitespace)."""
    anchor = f"{f.path}:{f.line}" + (f"-cell{f.cell}" if f.cell is not None else "")
    return "_".join(anchor.split())


def _chart(report: ScanReport) -> str:
    """Horizontal bars of findings per category, coloured by the category's highest level."""
    cats = sorted(report.summary.by_category, key=lambda c: (-c.findings, c.category))
    if not cats:
        return ""
    label_w, bar_w, row_h = 170, 520, 26
    top = max(c.findings for c in cats) or 1
    height = row_h * len(cats) + 8
    rows = []
    for i, c in enumerate(cats):
        y = 4 + i * row_h
        w = max(2, round(bar_w * c.findings / top))
        rows.append(
            f"<g><title>{_e(c.category)}: {c.findings} findings in {c.files} files, "
            f"highest L{c.level}</title>"
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{_e(c.category)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{row_h - 8}" rx="3" '
            f'fill="{LEVEL_COLOURS[max(0, min(c.level, 5))]}"/>'
            f'<text x="{label_w + w + 6}" y="{y + 16}">{c.findings} (L{c.level})</text></g>'
        )
    total_w = label_w + bar_w + 90
    return (
        f'<svg role="img" aria-label="Findings by category" width="100%" viewBox="0 0 {total_w} {height}" '
        f'preserveAspectRatio="xMinYMin meet" style="max-width:{total_w}px">{"".join(rows)}</svg>'
    )


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha:.2f})"


def _heat(report: ScanReport, names: dict[int, str]) -> str:
    """Directories × levels: each cell the findings of that level there, darker the more there are."""
    rows = directory_heat(report)
    if not rows:
        return ""
    top = max(n for r in rows for n in r.by_level.values()) or 1
    shown = [lv for lv in range(1, 6) if any(r.by_level.get(lv) for r in rows)]
    head = "".join(f'<th class="num" title="{_e(names.get(lv, ""))}">L{lv}</th>' for lv in shown)
    body = []
    for r in rows:
        cells = []
        for lv in shown:
            n = r.by_level.get(lv, 0)
            if not n:
                cells.append('<td class="heat num"></td>')
                continue
            a = 0.18 + 0.82 * n / top
            ink = "#fff" if a > 0.55 else "var(--ink)"
            cells.append(f'<td class="heat num" data-dir="{_e(r.dir)}" data-level="{lv}" data-n="{n}" '
                         f'style="background:{_rgba(LEVEL_COLOURS[lv], a)};color:{ink}" '
                         f'title="{_e(r.dir)}: {n} L{lv} finding{"" if n == 1 else "s"}">{n}</td>')
        body.append(f"<tr><td><code>{_e(r.dir)}/</code></td>{''.join(cells)}<td class=\"num\">{r.files}</td>"
                    f"<td>{_pill(r.level)}</td></tr>")
    return ('<table class="heatmap" data-figure="heatmap"><thead><tr><th>Directory</th>' + head
            + '<th class="num">Files</th><th>Highest</th></tr></thead><tbody>' + "".join(body) + "</tbody></table>")


def _first(report: ScanReport) -> str:
    """The steps ordered by effort saved: what `migrate rewrite` does first (largest saving), then hand work."""
    steps = first_steps(report)
    if not steps:
        return ""
    items = []
    for s in steps:
        where = ", ".join(f"{d}/" for d in s.dirs[:3]) + (f" and {len(s.dirs) - 3} more" if len(s.dirs) > 3 else "")
        if s.automatic:
            gain = f'<b class="save">saves ~{s.hours_saved:g} h</b> · automatic'
        else:
            gain = f'<b>~{s.hours_by_hand:g} h by hand</b>'
        cmd = f' — <code>{_e(s.command)}</code>' if s.command else ""
        items.append(
            f'<li data-strategy="{_e(s.strategy)}" data-saved="{s.hours_saved:g}" data-hand="{s.hours_by_hand:g}">'
            f"{_pill(s.level)} <b>{_e(s.strategy)}</b> · {_e(s.category)}: {s.sites} site"
            f"{'' if s.sites == 1 else 's'} in {s.files} file{'' if s.files == 1 else 's'} ({_e(where)}) — {gain}"
            f'{cmd}<div class="muted">{_e(s.does)}</div></li>')
    return ('<ol class="first" data-figure="first-steps">' + "".join(items) + "</ol>"
            '<p class="muted" style="font-size:12px">Hours per site from <code>rules/effort.toml</code> (editable '
            "estimates of the edit and its check; a level's own work, such as re-embedding, is not in them). "
            "Run the dry run first: writing refuses a dirty tree.</p>")


def _ladder(report: ScanReport, ruleset: RuleSet | None) -> str:
    rungs = levels(ruleset)
    if not rungs:
        return ""
    cells = []
    for lv in rungs:
        on = " on" if lv.level == report.summary.level else ""
        colour = LEVEL_COLOURS[lv.level]
        cells.append(
            f'<div class="rung{on}" style="border-color:{colour}"><div class="t" style="color:{colour}">'
            f"L{lv.level} {_e(lv.name)}</div><div>{_e(lv.effort)}</div></div>"
        )
    return f'<div class="ladder" aria-label="The lock-in ladder">{"".join(cells)}</div>'


def _deadlines(report: ScanReport) -> str:
    """Shutdowns announced for what the project uses, at the top: these migrations have a date."""
    if not report.deadlines:
        return ""
    items = "".join(
        f"<li>{_e(deadline_headline(d))}"
        f'<div class="muted" style="font-weight:400;font-size:12px">{_e(d.source)}</div></li>'
        for d in report.deadlines
    )
    return f'<section class="deadlines"><b>Forced migrations</b><ul>{items}</ul></section>'


def _files(report: ScanReport) -> str:
    level_of = {f.path: f.level for f in report.files}
    groups = by_file(report.findings)
    order = sorted(groups, key=lambda p: (-level_of.get(p, max(f.level for f in groups[p])), p))
    out = []
    for path in order:
        items = groups[path]
        lvl = level_of.get(path, max(f.level for f in items))
        rows = []
        for f in items:
            where = f"{f.line}" if f.cell is None else f'{f.line}<span class="muted">cell {f.cell}</span>'
            feats = ", ".join(f.features)
            rows.append(
                f'<tr id="{_e(_anchor(f))}"><td class="num">{where}</td><td>{_pill(f.level)}</td>'
                f'<td><code>{_e(f.api)}</code><div class="feat">{_e(f.category)}'
                f"{' · ' + _e(feats) if feats else ''}</div>"
                + "".join(f'<div class="due">{_e(deadline_text(d))}</div>' for d in f.deadlines)
                + (f'<div class="via">via {_e(reached(f))}</div>' if reached(f) else "") + "</td>"
                f"<td><pre>{_e(f.code)}</pre>"
                f'<div class="muted" style="font-size:11px">{_e(location(f))}</div></td>'
                f'<td class="offer">hosted <b>{_e(f.deepseek.hosted)}</b> · self-hosted '
                f"<b>{_e(f.deepseek.self_hosted)}</b>"
                f'<div class="muted">{_e(one_line(f.deepseek.reason))}</div></td></tr>'
            )
        out.append(
            f'<h3>{_e(path)} {_pill(lvl)} <span class="muted">{len(items)} '
            f"finding{'' if len(items) == 1 else 's'}</span></h3>"
            '<table class="file"><colgroup><col class="c-line"><col class="c-level"><col class="c-api"><col>'
            '<col class="c-offer"></colgroup><thead><tr><th class="num">Line</th><th>Level</th><th>API</th>'
            f"<th>Code</th><th>DeepSeek offers</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    return "".join(out)


def render(report: ScanReport, ruleset: RuleSet | None = None) -> str:
    s = report.summary
    names = level_names(report, ruleset)
    ladder = {lv.level: lv for lv in levels(ruleset)}
    blurb = f'<div class="muted">{_e(ladder[s.level].summary)}</div>' if s.level in ladder else ""
    colour = LEVEL_COLOURS[max(0, min(s.level, 5))]
    root_name = report.root.rstrip("/").rsplit("/", 1)[-1] or report.root
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>OpenAI lock-in of {_e(root_name)}: level {s.level} ({_e(s.level_name)})</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>OpenAI lock-in report: {_e(root_name)}</h1>",
        f'<div class="muted">{_e(report.root)}</div>',
        f'<section class="hero"><div class="big" style="background:{colour}"><div class="n">{s.level}</div>'
        '<div class="of">lock-in level, of 5</div></div>'
        f'<div><div class="name">Level {s.level}: {_e(s.level_name)}'
        f'</div><div class="effort">Estimated effort to move to DeepSeek: <b>{_e(s.effort)}</b></div>{blurb}'
        "</div></section>",
        _deadlines(report),
        _ladder(report, ruleset),
        '<div class="stats">'
        f'<div class="stat"><b>{s.findings}</b>findings</div>'
        f'<div class="stat"><b>{s.files_with_findings}</b>files with findings</div>'
        f'<div class="stat"><b>{s.files_scanned}</b>files scanned</div>'
        f'<div class="stat"><b>{s.skipped}</b>files skipped</div></div>',
    ]
    if report.findings:
        parts.append("<h2>What to do first</h2>")
        parts.append(_first(report))
        parts.append("<h2>Lock-in by directory</h2>")
        parts.append(_heat(report, names))
    if s.by_category:
        parts.append("<h2>Findings by category</h2>")
        parts.append(_chart(report))
        rows = "".join(
            f'<tr><td>{_e(c.category)}</td><td class="num">{c.findings}</td><td class="num">{c.files}</td>'
            f"<td>{_pill(c.level)} {_e(names.get(c.level, ''))}</td></tr>"
            for c in sorted(s.by_category, key=lambda c: (-c.level, -c.findings, c.category))
        )
        parts.append(
            '<table><thead><tr><th>Category</th><th class="num">Findings</th><th class="num">Files</th>'
            f"<th>Highest level</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    if report.findings:
        parts.append("<h2>Findings by file</h2>")
        parts.append(_files(report))
    else:
        parts.append("<h2>Findings</h2><p>No OpenAI usage found.</p>")
    if report.skipped:
        rows = "".join(
            f"<tr><td><code>{_e(sk.path)}</code></td><td>{_e(one_line(sk.reason))}</td></tr>"
            for sk in report.skipped
        )
        parts.append(
            f'<h2>Skipped files ({len(report.skipped)})</h2><p class="muted">These files were not '
            "analysed; OpenAI usage in them is not counted above.</p>"
            f"<table><thead><tr><th>File</th><th>Reason</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    parts.append(
        f"<footer>{_e(report.tool.name)} {_e(report.tool.version)} · report schema "
        f"{_e(report.schema_version)}{' · rules ' + _e(report.rules_digest) if report.rules_digest else ''}"
        "</footer></main></body></html>"
    )
    return "\n".join(p for p in parts if p) + "\n"
