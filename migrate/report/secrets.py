"""Reports quote source lines: every format gets them with key values replaced (see migrate.secrets)."""

from __future__ import annotations

from offramp.migrate.report_model import ScanReport
from offramp.migrate.secrets import REDACTED, redact

__all__ = ["REDACTED", "redact", "redact_report"]


def redact_report(report: ScanReport) -> ScanReport:
    """A copy whose quoted source lines carry no key (the report itself when none had one)."""
    findings = list(report.findings)
    changed = False
    for i, f in enumerate(findings):
        clean = redact(f.code) if f.code else f.code
        if clean != f.code:
            findings[i] = f.model_copy(update={"code": clean})
            changed = True
    return report.model_copy(update={"findings": findings}) if changed else report
