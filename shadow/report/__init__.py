"""The rollout evidence report: `build_report` gathers it from the store, `render` prints it three ways."""

from offramp.shadow.report.build import Report, build_report
from offramp.shadow.report.render import render_html, render_json, render_terminal

__all__ = ["Report", "build_report", "render_html", "render_json", "render_terminal"]
