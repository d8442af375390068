"""The JSON contract itself (see migrate/report_model.py and schema/scan-report.schema.json)."""

from __future__ import annotations

from offramp.migrate.report_model import ScanReport
from offramp.migrate.ruleset import RuleSet


def render(report: ScanReport, ruleset: RuleSet | None = None) -> str:
    # The ruleset is unused: the JSON must not depend on anything but the report, so tools can re-render it.
    return report.model_dump_json(indent=2) + "\n"
