"""`migrate scan sample_apps/<app>` reports exactly what each app's expected_findings.json says.

The expectations are written by hand from the apps' code and the rules, so a disagreement is either an engine
bug or a stale expectation: the diff printed names both sides.
"""

from __future__ import annotations

import json
import re

import pytest
from sample_app_harness import discover_apps

from offramp.migrate.scan import ScanOptions, scan_path

APPS = discover_apps()
KEYS = ("path", "line", "api", "category", "level", "features")


def _shows_api(line: str, text: str, api: str) -> bool:
    """The line names the API (call, constructor, assignment, reference) or calls a bound method kept from it."""
    if api.rsplit(".", 1)[-1] in line:
        return True
    called = re.search(r"\b(\w+)\(", line)
    return bool(called and re.search(rf"\b{called.group(1)} = [\w.()]*\b{re.escape(api)}\b", text))


def _key(f: dict) -> tuple:
    return (f["path"], f["line"], f["api"])


def _expected(app) -> list[dict]:
    return json.loads((app.root / "expected_findings.json").read_text(encoding="utf-8"))


def _normalise(findings: list[dict]) -> list[dict]:
    return sorted(({**{k: f[k] for k in KEYS}, "features": sorted(f["features"])} for f in findings), key=_key)


@pytest.mark.parametrize("app", APPS, ids=[a.name for a in APPS])
def test_expected_findings_file_is_well_formed(app):
    expected = _expected(app)
    assert expected, f"{app.name}: an app with no finding proves nothing"
    for f in expected:
        assert tuple(f) == KEYS, f"{app.name}: keys must be exactly {KEYS}: {f}"
        assert isinstance(f["line"], int) and 0 <= f["level"] <= 5
        assert f["features"] == sorted(f["features"]), f"{app.name}: features sorted: {f}"
        source = app.root / f["path"]
        assert source.is_file(), f"{app.name}: {f['path']} does not exist"
        text = source.read_text(encoding="utf-8")
        line = text.splitlines()[f["line"] - 1]
        assert _shows_api(line, text, f["api"]), f"{app.name}: {f['path']}:{f['line']} does not show {f['api']}: {line!r}"
    assert [(f["path"], f["line"]) for f in expected] == sorted((f["path"], f["line"]) for f in expected)
    assert expected == _normalise(expected), f"{app.name}: sort by path, line, api"


@pytest.mark.parametrize("app", APPS, ids=[a.name for a in APPS])
def test_scan_matches_expected_findings_exactly(app, tmp_path):
    report = scan_path(app.root, ScanOptions(jobs=1, use_cache=False, cache_dir=tmp_path / "cache"))
    got = _normalise([f.model_dump() for f in report.findings])
    expected = _normalise(_expected(app))
    missing = [f for f in expected if f not in got]
    unexpected = [f for f in got if f not in expected]
    assert not missing and not unexpected, (
        f"{app.name}: scan and expected_findings.json differ\n"
        + "".join(f"  missing:    {json.dumps(f)}\n" for f in missing)
        + "".join(f"  unexpected: {json.dumps(f)}\n" for f in unexpected)
    )
    assert got == expected  # also catches duplicates
    assert report.skipped == [], f"{app.name}: files skipped: {report.skipped}"
    assert report.summary.level == max(f["level"] for f in expected)


def test_apps_cover_every_level_from_1_to_5():
    levels = {f["level"] for app in APPS for f in _expected(app)}
    assert {1, 2, 3, 4, 5} <= levels
