from __future__ import annotations

import json
from pathlib import Path

from offramp.migrate.report_model import SCHEMA_VERSION

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "scan-report.schema.json"


def test_schema_prints_the_committed_schema(cli) -> None:
    res = cli("schema")
    assert res.exit_code == 0
    assert res.stdout == SCHEMA_FILE.read_text(encoding="utf-8")
    assert json.loads(res.stdout)["properties"]["schema_version"]["default"] == SCHEMA_VERSION


def test_schema_output_writes_the_file(cli, tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    res = cli("schema", "--output", out)
    assert res.exit_code == 0 and res.stdout == ""
    assert out.read_text(encoding="utf-8") == SCHEMA_FILE.read_text(encoding="utf-8")


def test_schema_unwritable_output_is_a_usage_error(cli, tmp_path: Path) -> None:
    res = cli("schema", "--output", tmp_path / "missing" / "s.json")
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1 and "cannot write" in res.stderr


def test_a_1_0_report_still_validates_under_the_1_1_schema() -> None:
    """1.1 only adds optional fields: reports written by 1.0 consumers' tools stay valid."""
    import jsonschema

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["$id"] == "urn:offramp:schema:scan-report:1"
    old = {"schema_version": "1.0", "tool": {"name": "offramp-migrate", "version": "0.1.0"}, "root": "/app",
           "summary": {"level": 1, "level_name": "plain chat", "effort": "days", "files_scanned": 1,
                       "files_parsed": 1, "files_with_findings": 1, "findings": 1, "skipped": 0},
           "findings": [{"path": "a.py", "line": 1, "column": 0, "api": "chat.completions.create",
                         "category": "chat", "level": 1, "rule": "v1.chat.completions.create",
                         "deepseek": {"hosted": "supported", "self_hosted": "supported", "reason": "r"}}]}
    jsonschema.validate(old, schema)
