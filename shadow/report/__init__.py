"""The rollout evidence report: `build_report` gathers it from the store, `render` prints it three ways."""

from shadow.report.build import Report, build_report
from shadow.report.render import render_html, render_json, render_terminal

__all__ = ["Report", "build_report", "render_html", "render_json", "render_terminal"]
