from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from offramp.migrate.report import FORMATS, json_report, render
from offramp.migrate.report.json_schema import scan_report_schema, schema_text
from offramp.migrate.report_model import SCHEMA_VERSION, ScanReport

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "scan-report.schema.json"


def test_json_round_trips_and_carries_the_contract_fields(report: ScanReport) -> None:
    text = json_report.render(report)
    data = json.loads(text)
    assert ScanReport.model_validate_json(text) == report
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["summary"]["level"] == 5 and data["summary"]["level_name"] == "multimodal and platform APIs"
    nb = next(f for f in data["findings"] if f["path"].endswith(".ipynb"))
    assert (nb["line"], nb["column"], nb["cell"]) == (4, 0, 2)
    assert {"path", "line", "column", "api", "category", "features", "level", "rule", "deepseek"} <= set(nb)
    assert data["skipped"][0] == {
        "path": "legacy/py2_only.py",
        "reason": "does not parse: line 3: Missing parentheses in call to 'print'",
    }


def test_committed_schema_is_the_generated_one() -> None:
    """Run `migrate schema -o schema/scan-report.schema.json` when the report models change."""
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text()


def test_json_output_validates_against_the_published_schema(
    report: ScanReport, empty_report: ScanReport
) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    for r in (report, empty_report):
        jsonschema.validate(json.loads(json_report.render(r)), schema, cls=jsonschema.Draft202012Validator)


def test_schema_rejects_what_the_contract_forbids(report: ScanReport) -> None:
    validator = jsonschema.Draft202012Validator(scan_report_schema())
    data = json.loads(json_report.render(report))
    data["summary"]["level"] = 6
    data["findings"][0]["line"] = 0
    data["skipped"][0].pop("reason")
    data["skipped"][0]["added_in_1_1"] = True  # a later optional field must stay valid under the 1.0 schema
    errors = {".".join(map(str, e.absolute_path)) for e in validator.iter_errors(data)}
    assert errors == {"summary.level", "findings.0.line", "skipped.0"}


def test_dispatcher_renders_every_format_and_rejects_others(report: ScanReport) -> None:
    assert all(render(fmt, report) for fmt in FORMATS)
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        render("pdf", report)
