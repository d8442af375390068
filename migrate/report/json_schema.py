"""The published JSON Schema of the scan report, generated from the pydantic models (never hand-edited)."""

from __future__ import annotations

import json
from typing import Any

from offramp.migrate.report_model import SCHEMA_VERSION, ScanReport


def scan_report_schema() -> dict[str, Any]:
    schema = ScanReport.model_json_schema()
    # The tool version's default would change the schema on every release although the contract did not.
    schema["$defs"]["Tool"]["properties"]["version"].pop("default", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        # one id per major version: a 1.x consumer validates every 1.x report with the same schema
        "$id": f"urn:offramp:schema:scan-report:{SCHEMA_VERSION.split('.')[0]}",
        "title": "Offramp scan report",
        "description": f"Output of `migrate scan --format json`, schema_version {SCHEMA_VERSION}.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def schema_text() -> str:
    return json.dumps(scan_report_schema(), indent=2, ensure_ascii=False) + "\n"
