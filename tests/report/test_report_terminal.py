from __future__ import annotations

import re

from offramp.migrate.report import terminal
from offramp.migrate.report_model import ScanReport

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def flat(text: str) -> str:
    """The words of the panel without its frame, so wrapping does not matter."""
    return " ".join(text.replace("│", " ").split())


def test_summary_panel_names_level_name_and_effort(report: ScanReport, ruleset) -> None:
    out = terminal.render(report, ruleset)
    assert "Lock-in level 5 of 5 — multimodal and platform APIs" in out
    assert "Effort: hybrid: keep on OpenAI" in out
    assert "stay on OpenAI in a hybrid setup." in flat(out)  # the level's summary from rules/levels.toml
    assert "8 findings in 6 files · 42 files scanned" in out


def test_category_table_top_files_and_findings(report: ScanReport, ruleset) -> None:
    out = terminal.render(report, ruleset, width=140)
    for c in report.summary.by_category:
        assert re.search(rf"^\s*{c.category}\s+{c.findings}\s+{c.files}\s+L{c.level}\s*$", out, re.M), (
            c.category
        )
    top = out.split("Top files")[1].split("Findings (")[0]
    assert top.index("app/assist.py") < top.index("app/search/embed.py") < top.index("app/legacy.py")
    for f in report.findings:
        assert f"{f.path}:{f.line}" in out
    assert "notebooks/explore.ipynb:4 (cell 2)" in out


def test_skipped_files_with_reasons(report: ScanReport, ruleset) -> None:
    out = terminal.render(report, ruleset, width=140)
    assert "Skipped files (3)" in out
    for sk in report.skipped:
        assert re.search(rf"{re.escape(sk.path)}\s+{re.escape(sk.reason)}", out), sk.path


def test_no_escape_codes_without_colour_and_colour_on_request(report: ScanReport, ruleset) -> None:
    plain = terminal.render(report, ruleset, color=False)
    assert not ANSI.search(plain)
    coloured = terminal.render(report, ruleset, color=True)
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured).split() == plain.split()


def test_long_lists_are_capped_with_a_pointer_to_the_full_formats(report: ScanReport, ruleset) -> None:
    many = report.model_copy(update={"findings": report.findings * 10})
    out = terminal.render(many, ruleset)
    assert f"Findings ({terminal.MAX_FINDINGS} of 80" in out
    assert "40 more: use --format json or --format html" in out


def test_no_usage(empty_report: ScanReport, ruleset) -> None:
    out = terminal.render(empty_report, ruleset)
    assert "Lock-in level 0 of 5 — none" in out
    assert "No OpenAI usage found" in out
    assert "Skipped" not in out


def test_findings_table_fits_common_widths_without_cropping(report: ScanReport, ruleset) -> None:
    for width in (80, 110, 160):
        out = terminal.render(report, ruleset, width=width)
        assert max(len(line) for line in out.splitlines()) <= width
        rows = out.split("Findings (")[1].split("Skipped files")[0]
        for offer in ("unsupported", "translated", "emulated", "supported"):
            want = sum(
                (f.deepseek.hosted == offer) + (f.deepseek.self_hosted == offer) for f in report.findings
            )
            assert len(re.findall(rf"\b{offer}\b", rows)) == want, (width, offer)
