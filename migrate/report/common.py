"""What every format shows the same way: ordering, locations, level labels, the DeepSeek offer."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from offramp.migrate.report_model import Deadline, Finding, ScanReport
from offramp.migrate.ruleset import Level, RuleSet

# One colour per level (0–5), shared by the HTML page and its chart.
LEVEL_COLOURS = ("#8a8f98", "#2e9d57", "#b8a200", "#e07b00", "#d23f31", "#8e3bb8")


def sorted_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Highest lock-in first, then by place, so the top of any listing is what costs most to move."""
    return sorted(
        findings, key=lambda f: (-f.level, f.path, f.cell if f.cell is not None else -1, f.line, f.column)
    )


def by_file(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in sorted(findings, key=lambda f: (f.path, f.cell if f.cell is not None else -1, f.line, f.column)):
        out.setdefault(f.path, []).append(f)
    return out


def location(f: Finding) -> str:
    """`path:line`, with the notebook cell after it: `nb.ipynb:4 (cell 2)`."""
    loc = f"{f.path}:{f.line}"
    return loc if f.cell is None else f"{loc} (cell {f.cell})"


_STEP_AT = re.compile(r"(?:in|at) ([^\s:]+\.(?:py|ipynb)):(\d+)")


def reached(f: Finding) -> str:
    """How the finding was reached, one line: its `via` steps, then a non-SDK origin, its confidence and the
    backend offramp.toml routes it to. Empty for a direct use of the SDK."""
    parts = [" → ".join(f.via)] if f.via else []
    if f.origin != "openai":
        parts.append(f.origin + (f" → {f.backend}" if f.backend else ""))
    if f.confidence < 1:
        parts.append(f"confidence {f.confidence:g}")
    return " · ".join(parts)


def via_locations(f: Finding) -> list[tuple[str, str, int]]:
    """(step, path, line) of each `via` step that names a place (`factory get_client() in app/clients.py:12`)."""
    out = []
    for step in f.via:
        m = _STEP_AT.search(step)
        if m:
            out.append((step, m.group(1), int(m.group(2))))
    return out


def offer(f: Finding) -> str:
    return f"hosted {f.deepseek.hosted} · self-hosted {f.deepseek.self_hosted}"


def level_names(report: ScanReport, ruleset: RuleSet | None) -> dict[int, str]:
    names = {lv.level: lv.name for lv in levels(ruleset)}
    names.setdefault(report.summary.level, report.summary.level_name)
    return names


def levels(ruleset: RuleSet | None) -> Sequence[Level]:
    return sorted(ruleset.levels, key=lambda lv: lv.level) if ruleset else ()


def level_label(n: int, names: dict[int, str]) -> str:
    return f"L{n} {names[n]}" if n in names else f"L{n}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def one_line(text: str) -> str:
    return " ".join(text.split())


def scope_notes(report: ScanReport) -> list[str]:
    """What the listed findings are limited to (changed files, a baseline), so that a short report is not read as
    the whole project's lock-in."""
    notes = []
    if report.scope:
        shown = ", ".join(report.scope[:3]) + (f" and {len(report.scope) - 3} more" if len(report.scope) > 3 else "")
        notes.append(f"Limited to {plural(len(report.scope), 'path')}: {shown} (the whole project was analysed)")
    if report.baseline is not None:
        notes.append(f"Only findings new since the baseline {report.baseline.path}: "
                     f"{plural(report.baseline.known, 'known finding')} not shown")
    return notes


def empty_text(report: ScanReport) -> str:
    """What an empty, narrowed report means ('' when nothing was narrowed: then no usage was found at all)."""
    if report.baseline is not None:
        return "No new findings since the baseline."
    if report.scope:
        return "No OpenAI usage in these paths."
    return ""


def deadline_text(d: Deadline) -> str:
    """The phrase every format shows for a shutdown: 'forced migration by 2027-01-14 (gpt-4o → gpt-6-luna, 42
    days left)', or 'shut down on 2026-08-26 (assistants → …: calls fail now)' once the date has passed."""
    instead = f" → {d.replacement}" if d.replacement else ""
    if d.days_left is not None and d.days_left < 0:
        return f"shut down on {d.shutdown} ({d.id}{instead}: calls fail now)"
    left = "" if d.days_left is None else f", {plural(d.days_left, 'day')} left"
    return f"forced migration by {d.shutdown} ({d.id}{instead}{left})"


def deadline_headline(d: Deadline) -> str:
    """`deadline_text` as a sentence start, for the top of a report."""
    text = deadline_text(d)
    return text[:1].upper() + text[1:]
