"""Lock-in scoring of a whole scan: per file, per category and for the project (its highest level)."""

from __future__ import annotations

from collections import defaultdict

from offramp.migrate.report_model import (
    CategorySummary,
    FileSummary,
    Finding,
    ModelRef,
    ScanReport,
    Skipped,
    Summary,
)
from offramp.migrate.ruleset import RuleSet


def finding_order(f: Finding) -> tuple:
    return (f.path, f.cell or 0, f.line, f.column, f.rule)


def build_report(root: str, findings: list[Finding], skipped: list[Skipped], ruleset: RuleSet,
                 files_scanned: int, files_parsed: int, models: list[ModelRef] | None = None) -> ScanReport:
    """`models`: the model refs already found for these findings (their `models` filled); None: found here."""
    findings = sorted(findings, key=finding_order)
    skipped = sorted(skipped, key=lambda s: s.path)
    per_file: dict[str, list[Finding]] = defaultdict(list)
    per_cat: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        per_file[f.path].append(f)
        per_cat[f.category].append(f)
    level = max((f.level for f in findings), default=0)
    lv = ruleset.level(level)
    files = sorted(
        (FileSummary(path=p, level=max(f.level for f in fs), findings=len(fs)) for p, fs in per_file.items()),
        key=lambda s: (-s.level, -s.findings, s.path),
    )
    cats = sorted(
        (CategorySummary(category=c, findings=len(fs), level=max(f.level for f in fs),
                         files=len({f.path for f in fs})) for c, fs in per_cat.items()),
        key=lambda c: (-c.level, -c.findings, c.category),
    )
    by_level = {str(n): sum(1 for f in findings if f.level == n) for n in range(6)}
    summary = Summary(
        level=level, level_name=lv.name, effort=lv.effort, files_scanned=files_scanned, files_parsed=files_parsed,
        files_with_findings=len(per_file), findings=len(findings), skipped=len(skipped), by_category=cats,
        by_level=by_level,
    )
    report = ScanReport(root=root, summary=summary, files=files, findings=findings, skipped=skipped,
                        rules_digest=ruleset.digest, models=models or [])
    from offramp.migrate.scan.deadlines import apply_deadlines

    return apply_deadlines(report, root, models_filled=models is not None)  # shutdown dates of the models and APIs used (rules/lifecycle/)
