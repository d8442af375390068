"""What a rewrite run hands back: the unified diff (that `git apply` accepts), and the sites it left as a
ScanReport — the scan's JSON/SARIF shape, with the reason it was left in each finding's `message`."""

from __future__ import annotations

import difflib
import subprocess
from pathlib import Path
from typing import Any

from offramp.migrate.rewrite.model import FileResult, RewriteResult


def git_prefix(base: Path) -> str:
    """Path of `base` inside its git work tree ('' at the top or outside git), so patch paths apply from there."""
    try:
        out = subprocess.run(["git", "-C", str(base), "rev-parse", "--show-prefix"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def file_diff(f: FileResult, prefix: str = "") -> str:
    if not f.changed:
        return ""
    a, b = f.original.splitlines(keepends=True), f.rewritten.splitlines(keepends=True)
    lines = [f"diff --git a/{prefix}{f.path} b/{prefix}{f.path}\nnew file mode 100644\n"] if f.new else []
    old = "/dev/null" if f.new else f"a/{prefix}{f.path}"
    for line in difflib.unified_diff(a, b, old, f"b/{prefix}{f.path}", n=3):
        if not line.endswith("\n"):  # the last line of a file without a final newline
            line += "\n\\ No newline at end of file\n"
        lines.append(line)
    return "".join(lines)


def unified_diff(result: RewriteResult, prefix: str = "") -> str:
    return "".join(file_diff(f, prefix) for f in result.files)


def left_report(result: RewriteResult, ruleset: Any = None) -> Any:
    """The sites left (and files that failed the check), as a `ScanReport`."""
    from offramp.migrate.report_model import (
        CategorySummary,
        DeepSeekOffer,
        Finding,
        ScanReport,
        Skipped,
        Summary,
    )

    unknown = DeepSeekOffer(hosted="unsupported", self_hosted="unsupported", reason="left by migrate rewrite")
    findings: list[Finding] = []
    for f, s in result.left:
        lines = f.original.splitlines()
        findings.append(Finding(
            path=f.path, line=max(1, s.line), column=max(0, s.column), cell=s.cell, api=s.api or "openai",
            category=s.category or "rewrite", level=_level(s.strategy), rule=f"rewrite.{s.strategy}".rstrip("."),
            deepseek=unknown, message=s.reason, rewrite=s.strategy,
            code=lines[s.line - 1].strip() if f.cell is None and 0 < s.line <= len(lines) else "",
        ))
    levels = {lv.level: lv for lv in ruleset.levels} if ruleset is not None else {}
    top = max((x.level for x in findings), default=0)
    cats: dict[str, list[Finding]] = {}
    for x in findings:
        cats.setdefault(x.category, []).append(x)
    summary = Summary(
        level=top, level_name=levels[top].name if top in levels else str(top),
        effort=levels[top].effort if top in levels else "", files_scanned=result.files_scanned,
        files_parsed=len(result.files), files_with_findings=len({x.path for x in findings}),
        findings=len(findings), skipped=len(result.failed),
        by_category=[CategorySummary(category=c, findings=len(v), level=max(x.level for x in v),
                                     files=len({x.path for x in v})) for c, v in sorted(cats.items())],
        by_level={str(n): sum(1 for x in findings if x.level == n) for n in range(6)},
    )
    return ScanReport(root=result.root, summary=summary, findings=findings,
                      skipped=[Skipped(path=f.path, reason=(f"line {f.skipped_line}: " if f.skipped_line else "") + f.error)
                               for f in result.failed])


def _level(strategy: str) -> int:
    # Sites left on OpenAI are real lock-in; the rest need a human but not a provider change.
    return 3 if strategy.endswith("keep-on-openai") else 2
