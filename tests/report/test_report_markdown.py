from __future__ import annotations

import re

from offramp.migrate.report import markdown
from offramp.migrate.report.common import location, sorted_findings
from offramp.migrate.report_model import ScanReport

UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def rows(text: str, header: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(header)
    out = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        out.append(line)
    return out


def test_badge_line_first(report: ScanReport, ruleset) -> None:
    out = markdown.render(report, ruleset)
    assert out.splitlines()[2] == (
        "🟣 **Lock-in level 5 of 5 — multimodal and platform APIs** · effort: hybrid: keep on OpenAI"
    )


def test_category_table(report: ScanReport, ruleset) -> None:
    out = markdown.render(report, ruleset)
    table = rows(out, "| Category | Findings | Files | Highest level |")
    assert len(table) == len(report.summary.by_category)
    assert table[0] in (
        "| multimodal | 1 | 1 | L5 multimodal and platform APIs |",
        "| platform | 1 | 1 | L5 multimodal and platform APIs |",
    )
    assert "| embeddings | 1 | 1 | L4 embeddings and vector stores |" in table


def test_one_findings_row_per_finding_with_path_line_and_intact_columns(report: ScanReport, ruleset) -> None:
    out = markdown.render(report, ruleset)
    header = "| Level | Location | API | Category | Features | DeepSeek hosted / self-hosted | Code |"
    table = rows(out, header)
    assert len(table) == len(report.findings)
    for f in report.findings:
        row = next(r for r in table if f"`{location(f)}`" in r)
        # a pipe or backtick in the source line must not add a column
        assert len(UNESCAPED_PIPE.findall(row)) == len(UNESCAPED_PIPE.findall(header)), row
        assert row.startswith(f"| L{f.level} |")
    assert table[0].startswith("| L5 |") and table[-1].startswith("| L0 |")
    agent = next(r for r in table if "app/agent.py:40" in r)
    assert "tool_choice=FORCE \\| extra" in agent and "tools, tool_choice_forced" in agent
    assert '``img = client.images.generate(prompt="a `cat` & a <dog>", size="1024x1024")``' in out


def test_skipped_table(report: ScanReport, ruleset) -> None:
    out = markdown.render(report, ruleset)
    table = rows(out, "| File | Reason |")
    assert table == [f"| `{sk.path}` | {sk.reason} |" for sk in report.skipped]


def test_findings_are_capped_for_a_pr_comment(report: ScanReport, ruleset) -> None:
    many = report.model_copy(update={"findings": report.findings * 30})
    out = markdown.render(many, ruleset)
    assert (
        len(
            rows(
                out, "| Level | Location | API | Category | Features | DeepSeek hosted / self-hosted | Code |"
            )
        )
        == markdown.MAX_FINDINGS
    )
    rest = {f.path for f in sorted_findings(many.findings)[markdown.MAX_FINDINGS :]}
    assert rest == {"app/legacy.py"}  # the last 40 rows are the lowest level
    assert "_40 more findings in 1 file: see the JSON or HTML report._" in out
    assert len(out) < 65_536


def test_huge_reports_stay_within_a_github_comment(report: ScanReport, ruleset) -> None:
    long_code = "x = client.chat.completions.create(" + "messages=msgs, " * 40 + ")"
    fat = [f.model_copy(update={"code": long_code}) for f in report.findings] * 30
    huge = report.model_copy(update={"findings": fat, "skipped": report.skipped * 1000})
    out = markdown.render(huge, ruleset)
    assert len(out) < 65_536
    header = "| Level | Location | API | Category | Features | DeepSeek hosted / self-hosted | Code |"
    shown = len(rows(out, header))
    assert 0 < shown < markdown.MAX_FINDINGS
    assert f"_{len(fat) - shown} more findings in" in out
    skipped_shown = len(rows(out, "| File | Reason |"))
    assert f"_{3000 - skipped_shown} more skipped files: see the JSON report._" in out


def test_no_usage(empty_report: ScanReport) -> None:
    out = markdown.render(empty_report)
    assert "⚪ **Lock-in level 0 of 5 — none**" in out
    assert "No OpenAI usage found." in out and "### Findings" not in out
