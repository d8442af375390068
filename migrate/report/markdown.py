"""The report as GitHub-flavoured Markdown, for a pull-request comment or a job summary.

A GitHub comment holds at most 65,536 characters, so rows stop at MAX_FINDINGS findings or when the text
reaches a budget (findings first, then skipped files); what is left out is counted, with a pointer to the
JSON and HTML reports, which carry everything.
"""

from __future__ import annotations

from offramp.migrate.report.common import (
    by_file,
    deadline_headline,
    deadline_text,
    empty_text,
    level_names,
    location,
    one_line,
    plural,
    reached,
    scope_notes,
    sorted_findings,
)
from offramp.migrate.report_model import ScanReport
from offramp.migrate.ruleset import RuleSet

MAX_FINDINGS = 200
FINDINGS_BUDGET = 48_000  # characters of the whole text after which no more findings rows are added
TOTAL_BUDGET = 60_000  # ... and no more skipped-file rows
BADGES = ("⚪", "🟢", "🟡", "🟠", "🔴", "🟣")


def cell(text: str) -> str:
    """Plain text safe inside a table cell: one line, pipes escaped, no raw HTML."""
    return one_line(text).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def code(text: str) -> str:
    """An inline code span that survives backticks and pipes in the source line."""
    text = one_line(text).replace("|", "\\|")
    if not text:
        return ""
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def badge(level: int, name: str, effort: str) -> str:
    dot = BADGES[max(0, min(level, 5))]
    return f"{dot} **Lock-in level {level} of 5 — {cell(name)}** · effort: {cell(effort)}"


def render(report: ScanReport, ruleset: RuleSet | None = None) -> str:
    s = report.summary
    names = level_names(report, ruleset)
    out = ["## Offramp lock-in report", "", badge(s.level, s.level_name, s.effort), ""]
    out.append(
        f"{plural(s.findings, 'finding')} in {plural(s.files_with_findings, 'file')} · "
        f"{plural(s.files_scanned, 'file')} scanned · {s.skipped} skipped"
    )
    out += [f"_{t}_" for t in scope_notes(report)]
    out.append("")
    if report.deadlines:
        out += [f"- ⏰ **{cell(deadline_headline(d))}**" for d in report.deadlines]
        out.append("")
    if s.by_category:
        out += ["| Category | Findings | Files | Highest level |", "|---|---:|---:|---|"]
        for c in sorted(s.by_category, key=lambda c: (-c.level, -c.findings, c.category)):
            lv = f"L{c.level} {names[c.level]}" if c.level in names else f"L{c.level}"
            out.append(f"| {cell(c.category)} | {c.findings} | {c.files} | {cell(lv)} |")
        out.append("")
    size = sum(len(line) + 1 for line in out)
    findings = sorted_findings(report.findings)
    if findings:
        out += [
            f"### Findings ({len(findings)})",
            "",
            "| Level | Location | API | Category | Features | DeepSeek hosted / self-hosted | Code |",
            "|---|---|---|---|---|---|---|",
        ]
        shown = 0
        for f in findings[:MAX_FINDINGS]:
            row = (
                f"| L{f.level} | {code(location(f))} | {code(f.api)} | {cell(f.category)} | "
                f"{cell(', '.join([*f.features, *(deadline_text(d) for d in f.deadlines)])) or '–'}"
                f"{'<br>via ' + cell(reached(f)) if reached(f) else ''} | "
                f"{cell(f.deepseek.hosted)} / {cell(f.deepseek.self_hosted)}"
                f" | {code(f.code)} |"
            )
            if size + len(row) > FINDINGS_BUDGET:
                break
            out.append(row)
            size += len(row) + 1
            shown += 1
        if len(findings) > shown:
            rest = findings[shown:]
            out += [
                "",
                f"_{plural(len(rest), 'more finding')} in {plural(len(by_file(rest)), 'file')}: "
                "see the JSON or HTML report._",
            ]
        out.append("")
    else:
        out += [empty_text(report) or "No OpenAI usage found.", ""]
    if report.skipped:
        out += [f"### Skipped files ({len(report.skipped)})", "", "| File | Reason |", "|---|---|"]
        size = sum(len(line) + 1 for line in out)
        shown = 0
        for sk in report.skipped:
            row = f"| {code(sk.path)} | {cell(sk.reason)} |"
            if size + len(row) > TOTAL_BUDGET:
                break
            out.append(row)
            size += len(row) + 1
            shown += 1
        if len(report.skipped) > shown:
            out += ["", f"_{plural(len(report.skipped) - shown, 'more skipped file')}: see the JSON report._"]
        out.append("")
    out.append(
        f"<sub>offramp-migrate {cell(report.tool.version)} · report schema {cell(report.schema_version)}"
        + (f" · rules {cell(report.rules_digest)}" if report.rules_digest else "")
        + "</sub>"
    )
    return "\n".join(out) + "\n"
