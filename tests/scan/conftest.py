from __future__ import annotations

from pathlib import Path

import pytest

from offramp.migrate.scan import ScanOptions, scan_path


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    return root


@pytest.fixture
def scan(tmp_path):
    """scan(files, **options) -> ScanReport of a fresh tree (no cache unless asked)."""

    def run(files: dict[str, str | bytes], **opts):
        write_tree(tmp_path, files)
        opts.setdefault("use_cache", False)
        return scan_path(tmp_path, ScanOptions(**opts))

    return run


def _rows(report):
    return [(f.path, f.line, f.api, f.rule) for f in report.findings]


@pytest.fixture
def rows():
    """rows(report) -> [(path, line, api, rule)] in report order."""
    return _rows
