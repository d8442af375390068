"""A key hard-coded in the scanned app must not reach any report: the line is quoted with its value redacted."""

from __future__ import annotations

import pytest

from offramp.migrate.report import FORMATS, render
from offramp.migrate.report.secrets import redact
from offramp.migrate.report_model import ScanReport

KEY = "sk-proj-Zx81bcdefghijklmnopqrstuvwxyz0123"
AZURE_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.fixture
def keyed(report: ScanReport) -> ScanReport:
    lines = [f'openai.api_key = "{KEY}"', f'client = AzureOpenAI(api_key="{AZURE_KEY}", api_version=V)']
    findings = [f.model_copy(update={"code": line}) for f, line in zip(report.findings, lines, strict=False)]
    return report.model_copy(update={"findings": findings + report.findings[len(lines):]})


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_format_carries_a_hard_coded_key(keyed: ScanReport, fmt: str) -> None:
    text = render(fmt, keyed, color=False) if fmt == "terminal" else render(fmt, keyed)
    assert KEY not in text and AZURE_KEY not in text and KEY[-12:] not in text
    if fmt != "terminal":  # the terminal view does not quote source lines
        assert "<redacted>" in text or "&lt;redacted&gt;" in text
    assert keyed.findings[0].path in text  # still says where the key is


def test_redaction_keeps_everything_but_the_value() -> None:
    assert redact(f'openai.api_key = "{KEY}"') == 'openai.api_key = "<redacted>"'
    assert redact(f"headers={{'api-key': '{AZURE_KEY}'}}") == "headers={'api-key': '<redacted>'}"
    assert redact(f'call(token="x", extra="{KEY}")') == 'call(token="x", extra="sk-<redacted>")'
    for clean in ('openai.api_key = os.environ["OPENAI_API_KEY"]', "OpenAI(api_key=settings.key)",
                  'client.chat.completions.create(model="gpt-4o", messages=m)', 'OpenAI(api_key="")'):
        assert redact(clean) == clean


def test_a_report_without_keys_is_rendered_as_is(report: ScanReport) -> None:
    assert render("json", report) == report.model_dump_json(indent=2) + "\n"
