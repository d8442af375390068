from __future__ import annotations

import json
from pathlib import Path

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "scan-report.schema.json"


def test_schema_prints_the_committed_schema(cli) -> None:
    res = cli("schema")
    assert res.exit_code == 0
    assert res.stdout == SCHEMA_FILE.read_text(encoding="utf-8")
    assert json.loads(res.stdout)["properties"]["schema_version"]["default"] == "1.0"


def test_schema_output_writes_the_file(cli, tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    res = cli("schema", "--output", out)
    assert res.exit_code == 0 and res.stdout == ""
    assert out.read_text(encoding="utf-8") == SCHEMA_FILE.read_text(encoding="utf-8")


def test_schema_unwritable_output_is_a_usage_error(cli, tmp_path: Path) -> None:
    res = cli("schema", "--output", tmp_path / "missing" / "s.json")
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1 and "cannot write" in res.stderr
