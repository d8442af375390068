"""`migrate scan --baseline FILE`: report only the findings that are new since a saved JSON report.

How teams adopt a scanner on a large codebase (Semgrep's baseline, Bandit's `-b`): the lock-in that exists today
is recorded once, and CI then fails only on what a change adds. Findings are matched on what survives unrelated
edits — path, rule, API and the stripped source line — not on line numbers, which move whenever code above them
changes; repeated identical lines are matched by count, so a second copy of a known call is still new.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from pydantic import ValidationError

from offramp.migrate.report_model import Finding, ScanReport
from offramp.migrate.ruleset import RuleSet


class BaselineError(Exception):
    """The baseline file cannot be used: one line naming the file and what is wrong."""


def _key(f: Finding) -> tuple[str, str, str, str]:
    return (f.path, f.rule, f.api, " ".join(f.code.split()))


def load(path: Path) -> ScanReport:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise BaselineError(f"{path}: cannot read the baseline: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise BaselineError(f"{path}: line {e.lineno}: not JSON ({e.msg}); write one with "
                            "`migrate scan PATH --format json -o FILE`") from None
    if not isinstance(data, dict) or "findings" not in data:
        raise BaselineError(f"{path}: not a scan report (no 'findings'); write one with "
                            "`migrate scan PATH --format json -o FILE`")
    try:
        return ScanReport.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise BaselineError(f"{path}: field {where}: {err['msg']}") from None


def new_findings(report: ScanReport, baseline: ScanReport) -> tuple[list[Finding], int]:
    """(the findings of `report` the baseline does not have, how many of them it had)."""
    known = Counter(_key(f) for f in baseline.findings)
    new: list[Finding] = []
    for f in report.findings:
        k = _key(f)
        if known[k]:
            known[k] -= 1
        else:
            new.append(f)
    return new, len(report.findings) - len(new)


def with_findings(report: ScanReport, findings: list[Finding], ruleset: RuleSet, **fields: object) -> ScanReport:
    """`report` listing only `findings`: its summary, files and levels recomputed from them (so --fail-on and the
    exit code judge only what is listed); project-wide facts (models used, deadlines, skipped files) are kept."""
    from offramp.migrate.scan.summary import build_report

    s = report.summary
    fresh = build_report(report.root, findings, list(report.skipped), ruleset, s.files_scanned, s.files_parsed)
    return report.model_copy(update={"summary": fresh.summary, "files": fresh.files, "findings": fresh.findings,
                                     **fields})
