"""CLI tests drive `migrate` in-process through typer's CliRunner, with the scan engine replaced by a fake
that returns a chosen report, so exit codes and options are tested apart from detection."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offramp.migrate.report_model import (
    CategorySummary,
    DeepSeekOffer,
    FileSummary,
    Finding,
    ScanReport,
    Skipped,
    Summary,
)
from offramp.migrate.ruleset import load_levels

# the ladder is data (rules/levels.toml, editable): read it rather than restating it here
NAMES = {lv.level: (lv.name, lv.effort) for lv in load_levels()}


def make_report(root: Path, levels: list[int], skipped: int = 0, files_scanned: int = 3) -> ScanReport:
    findings = [
        Finding(
            path=f"app/m{i}.py",
            line=i + 1,
            column=4,
            api="chat.completions.create",
            category="chat",
            level=lv,
            rule="v1.chat.completions.create",
            code="client.chat.completions.create(model=M)",
            deepseek=DeepSeekOffer(hosted="supported", self_hosted="supported", reason="plain chat"),
        )
        for i, lv in enumerate(levels)
    ]
    skips = [
        Skipped(path=f"bad{i}.py", reason="does not parse: line 1: invalid syntax") for i in range(skipped)
    ]
    level = max(levels, default=0)
    return ScanReport(
        root=str(root),
        summary=Summary(
            level=level,
            level_name=NAMES[level][0],
            effort=NAMES[level][1],
            files_scanned=files_scanned,
            files_parsed=len(levels),
            files_with_findings=len(levels),
            findings=len(levels),
            skipped=skipped,
            by_category=[
                CategorySummary(category="chat", findings=len(levels), level=level, files=len(levels))
            ]
            if levels
            else [],
            by_level={str(n): levels.count(n) for n in range(6)},
        ),
        files=[FileSummary(path=f.path, level=f.level, findings=1) for f in findings],
        findings=findings,
        skipped=skips,
    )


@dataclass
class FakeEngine:
    levels: list[int] = field(default_factory=lambda: [1, 2])
    skipped: int = 0
    files_scanned: int = 3
    error: Exception | None = None
    calls: list = field(default_factory=list)

    def __call__(self, root, options):
        self.calls.append((root, options))
        if self.error:
            raise self.error
        return make_report(Path(root), self.levels, self.skipped, self.files_scanned)


@pytest.fixture
def engine(monkeypatch) -> FakeEngine:
    fake = FakeEngine()
    scan_pkg = importlib.import_module("offramp.migrate.scan")
    monkeypatch.setattr(scan_pkg, "scan_path", fake, raising=False)
    return fake


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    root.mkdir()
    (root / "main.py").write_text("import openai\n")
    return root


@pytest.fixture
def cli():
    from offramp.migrate.cli import _register
    from offramp.migrate.cli_app import app

    _register()
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke
