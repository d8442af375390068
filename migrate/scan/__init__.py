"""The scan engine: `scan_path` walks a tree and fills a ScanReport; `analyze_source` does one file."""

from offramp.migrate.scan.analyze import ENGINE_VERSION, FileResult, Hit, analyze_module, analyze_source
from offramp.migrate.scan.engine import scan_path
from offramp.migrate.scan.options import ScanOptions

__all__ = ["ENGINE_VERSION", "FileResult", "Hit", "ScanOptions", "analyze_module", "analyze_source", "scan_path"]
