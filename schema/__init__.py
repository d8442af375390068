"""The published JSON Schema of `migrate scan --format json`, shipped with the package."""

from pathlib import Path

SCAN_REPORT_SCHEMA = Path(__file__).resolve().parent / "scan-report.schema.json"
