"""Renderers of a `ScanReport`: each module turns the one JSON contract into one output format.

Every renderer is `render(report, ruleset=None, ...) -> str`; the ruleset, when given, adds what the report
does not carry (level names for every rung of the ladder, rule titles for SARIF). `render` below is the way in
for the CLI: it also redacts keys hard-coded in the quoted source lines (`secrets.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from offramp.migrate.report_model import ScanReport
    from offramp.migrate.ruleset import RuleSet

FORMATS = ("terminal", "json", "markdown", "sarif", "html")


def render(fmt: str, report: ScanReport, ruleset: RuleSet | None = None, **kwargs: Any) -> str:
    """Render `report` in `fmt`; imports only the renderer asked for."""
    if fmt == "terminal":
        from offramp.migrate.report import terminal as mod
    elif fmt == "json":
        from offramp.migrate.report import json_report as mod
    elif fmt == "markdown":
        from offramp.migrate.report import markdown as mod
    elif fmt == "sarif":
        from offramp.migrate.report import sarif as mod
    elif fmt == "html":
        from offramp.migrate.report import html as mod
    else:
        raise ValueError(f"unknown report format {fmt!r} (expected one of {', '.join(FORMATS)})")
    from offramp.migrate.report.secrets import redact_report

    return mod.render(redact_report(report), ruleset, **kwargs)
