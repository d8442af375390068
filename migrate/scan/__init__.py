"""The scan engine: `scan_path` walks a tree and fills a ScanReport; `analyze_source` does one file."""

from migrate.scan.analyze import ENGINE_VERSION, FileResult, Hit, analyze_module, analyze_source
from migrate.scan.engine import scan_path
from migrate.scan.options import ScanOptions

__all__ = ["ENGINE_VERSION", "FileResult", "Hit", "ScanOptions", "analyze_module", "analyze_source", "scan_path"]
