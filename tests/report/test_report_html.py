from __future__ import annotations

import re
from html.parser import HTMLParser

from offramp.migrate.report import html
from offramp.migrate.report.common import location
from offramp.migrate.report_model import ScanReport

VOID = {"meta", "col", "br", "hr", "img", "input", "link", "rect", "path", "circle", "line", "source", "wbr"}


class Page(HTMLParser):
    """Collects tags and checks that every non-void element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unbalanced </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    assert not page.errors and not page.stack, (page.errors, page.stack)
    return page


def test_self_contained_no_network(report: ScanReport, ruleset) -> None:
    out = html.render(report, ruleset)
    page = parse(out)
    names = {t for t, _ in page.tags}
    assert not names & {"script", "link", "img", "iframe", "object", "embed", "image", "use"}
    for _tag, attrs in page.tags:
        for key in ("src", "href", "xlink:href", "srcset", "action"):
            assert key not in attrs, (_tag, attrs)
    style = out.split("<style>")[1].split("</style>")[0]
    assert "@import" not in style and "url(" not in style and "@font-face" not in style
    # A URL in a finding's code is shown, never loaded.
    assert re.findall(r"https?://", out) == ["https://"]
    assert "OpenAI(base_url=&quot;https://api.openai.com/v1&quot;)" in out


def test_level_is_prominent(report: ScanReport, ruleset) -> None:
    out = html.render(report, ruleset)
    assert "<title>OpenAI lock-in of support-bot: level 5 (multimodal and platform APIs)</title>" in out
    assert '<div class="n">5</div>' in out
    assert "Level 5: multimodal and platform APIs" in out and "<b>hybrid: keep on OpenAI</b>" in out
    assert out.count('class="rung') == 6 and out.count('class="rung on"') == 1


def test_every_finding_with_its_code_line_escaped(report: ScanReport, ruleset) -> None:
    out = html.render(report, ruleset)
    text = "".join(parse(out).text)
    for f in report.findings:
        assert location(f) in text
        assert " ".join(f.code.split()) in " ".join(text.split())
    assert "<script>alert(1)</script>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out


def test_svg_chart_has_one_bar_per_category(report: ScanReport, ruleset) -> None:
    out = html.render(report, ruleset)
    svg = out.split("<svg", 1)[1].split("</svg>", 1)[0]
    widths = {t: int(w) for t, w in re.findall(r"<title>(\w+): \d+ findings.*?width=\"(\d+)\"", svg)}
    assert set(widths) == {c.category for c in report.summary.by_category}
    doubled = report.model_copy(
        update={
            "summary": report.summary.model_copy(
                update={
                    "by_category": [
                        c.model_copy(update={"findings": 2 if c.category == "tools" else 1})
                        for c in report.summary.by_category
                    ]
                }
            )
        }
    )
    svg2 = html.render(doubled, ruleset).split("<svg", 1)[1]
    w2 = {t: int(w) for t, w in re.findall(r"<title>(\w+): \d+ findings.*?width=\"(\d+)\"", svg2)}
    assert w2["tools"] == 2 * w2["chat"]


def test_skipped_files_listed(report: ScanReport, ruleset) -> None:
    out = html.render(report, ruleset)
    assert "<h2>Skipped files (3)</h2>" in out
    for sk in report.skipped:
        assert (
            f"<tr><td><code>{sk.path}</code></td><td>{sk.reason.replace(chr(39), '&#x27;')}</td></tr>" in out
        )


def test_print_styles_keep_colours_and_rows(report: ScanReport) -> None:
    out = html.render(report)
    assert "@media print" in out and "print-color-adjust: exact" in out and "break-inside: avoid" in out


def test_no_usage_page(empty_report: ScanReport) -> None:
    out = html.render(empty_report)
    parse(out)
    assert "No OpenAI usage found." in out and "<svg" not in out


def test_findings_have_linkable_ids(report: ScanReport, ruleset) -> None:
    page = parse(html.render(report, ruleset))
    ids = [a["id"] for t, a in page.tags if t == "tr" and "id" in a]
    assert len(ids) == len(set(ids)) == len(report.findings)
    assert "app/agent.py:40" in ids and "notebooks/explore.ipynb:4-cell2" in ids
    assert not any(re.search(r"\s", i) for i in ids)
