"""The report a person reads in a terminal: level first, then where the lock-in is.

Long lists are capped (findings, skipped files) because a terminal is for reading; the JSON and HTML
formats carry everything.
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from offramp.migrate.report.common import (
    deadline_headline,
    deadline_text,
    empty_text,
    level_label,
    level_names,
    levels,
    location,
    one_line,
    plural,
    reached,
    scope_notes,
    sorted_findings,
)
from offramp.migrate.report_model import ScanReport
from offramp.migrate.ruleset import RuleSet

MAX_FINDINGS = 40
MAX_FILES = 10
MAX_SKIPPED = 25
MAX_DEADLINES = 8
_STYLES = ("dim", "green", "yellow", "dark_orange", "red", "magenta")


def _style(level: int) -> str:
    return _STYLES[max(0, min(level, 5))]


def _summary_panel(report: ScanReport, ruleset: RuleSet | None) -> Panel:
    s = report.summary
    head = Text.assemble(
        ("Lock-in level ", "bold"),
        (f"{s.level}", f"bold {_style(s.level)}"),
        (" of 5 — ", "bold"),
        (s.level_name, f"bold {_style(s.level)}"),
    )
    lines: list[Text] = [head, Text.assemble(("Effort: ", "bold"), s.effort)]
    ladder = {lv.level: lv for lv in levels(ruleset)}
    if s.level in ladder:
        lines.append(Text(ladder[s.level].summary, style="italic"))
    lines.append(
        Text(
            f"{plural(s.findings, 'finding')} in {plural(s.files_with_findings, 'file')} · "
            f"{plural(s.files_scanned, 'file')} scanned, {s.files_parsed} parsed · {s.skipped} skipped"
        )
    )
    if s.by_level:
        parts = [f"L{k}: {v}" for k, v in sorted(s.by_level.items()) if v]
        if parts:
            lines.append(Text("By level: " + " · ".join(parts)))
    for d in report.deadlines[:MAX_DEADLINES]:
        lines.append(Text(deadline_headline(d), style="bold red"))
    if len(report.deadlines) > MAX_DEADLINES:
        lines.append(Text(f"{len(report.deadlines) - MAX_DEADLINES} more deadlines: --format json", style="red"))
    lines.append(Text(f"Root: {report.root}", style="dim"))
    lines += [Text(t, style="dim") for t in scope_notes(report)]
    return Panel(Group(*lines), title="Offramp lock-in report", border_style=_style(s.level), expand=False)


def _categories(report: ScanReport) -> Table:
    t = Table(title="By category", box=box.SIMPLE_HEAD, title_justify="left")
    t.add_column("Category")
    t.add_column("Findings", justify="right")
    t.add_column("Files", justify="right")
    t.add_column("Highest level", justify="center")
    for c in sorted(report.summary.by_category, key=lambda c: (-c.level, -c.findings, c.category)):
        t.add_row(c.category, str(c.findings), str(c.files), Text(f"L{c.level}", style=_style(c.level)))
    return t


def _files(report: ScanReport) -> Table:
    files = sorted(report.files, key=lambda f: (-f.level, -f.findings, f.path))
    t = Table(
        title=f"Top files ({min(len(files), MAX_FILES)} of {len(files)})",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    t.add_column("File", overflow="fold")
    t.add_column("Level", justify="center")
    t.add_column("Findings", justify="right")
    for f in files[:MAX_FILES]:
        t.add_row(f.path, Text(f"L{f.level}", style=_style(f.level)), str(f.findings))
    return t


def _findings(report: ScanReport, width: int) -> Table:
    findings = sorted_findings(report.findings)
    shown = findings[:MAX_FINDINGS]
    t = Table(
        title=f"Findings ({len(shown)} of {len(findings)}, highest level first)",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    narrow = width < 100  # below this, the two offer columns become one two-line column
    t.add_column("Level", justify="center")
    # Locations are what people copy into an editor: keep them whole when the terminal allows it.
    longest = max((len(location(f)) for f in shown), default=8)
    share = width * 3 // 10 if narrow else width * 7 // 20
    t.add_column("Location", overflow="fold", min_width=min(longest, max(16, share)))
    t.add_column("API · features", overflow="fold", min_width=16, max_width=max(20, width // 4))
    if narrow:
        t.add_column("DeepSeek", min_width=19, no_wrap=True)
    else:
        t.add_column("Hosted", min_width=11, no_wrap=True)
        t.add_column("Self-hosted", min_width=11, no_wrap=True)
    for f in shown:
        api = Text(f.api)
        if f.features:
            api.append("\n" + " ".join(f.features), style="dim")
        for d in f.deadlines:
            api.append("\n" + deadline_text(d), style="red")
        how = reached(f)
        if how:
            api.append("\nvia " + how, style="cyan")
        offers = (
            [f"hosted: {f.deepseek.hosted}\nself:   {f.deepseek.self_hosted}"]
            if narrow
            else [f.deepseek.hosted, f.deepseek.self_hosted]
        )
        t.add_row(Text(f"L{f.level}", style=_style(f.level)), location(f), api, *offers)
    if len(findings) > len(shown):
        t.caption = f"{len(findings) - len(shown)} more: use --format json or --format html for every finding"
    return t


def _skipped(report: ScanReport) -> Table:
    shown = report.skipped[:MAX_SKIPPED]
    t = Table(title=f"Skipped files ({len(report.skipped)})", box=box.SIMPLE_HEAD, title_justify="left")
    t.add_column("File", overflow="fold")
    t.add_column("Reason", overflow="fold")
    for sk in shown:
        t.add_row(sk.path, one_line(sk.reason))
    if len(report.skipped) > len(shown):
        t.caption = f"{len(report.skipped) - len(shown)} more: use --format json for every skipped file"
    return t


def render(
    report: ScanReport, ruleset: RuleSet | None = None, *, color: bool = False, width: int = 110
) -> str:
    """Text for a terminal; with `color=False` it has no escape codes (pipes, files, CI logs)."""
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
    )
    names = level_names(report, ruleset)
    console.print(_summary_panel(report, ruleset))
    if report.findings:
        console.print(_categories(report))
        console.print(_files(report))
        console.print(_findings(report, width))
    else:
        console.print(empty_text(report) or f"No OpenAI usage found ({level_label(0, names)}).")
    if report.skipped:
        console.print(_skipped(report))
    return buf.getvalue()
