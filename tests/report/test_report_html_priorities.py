"""The scan's HTML report: a per-directory heat map of lock-in and the steps ordered by effort saved, on real
scans of the sample apps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from offramp.migrate.report.html import render
from offramp.migrate.report.priorities import EffortError, directory_heat, first_steps, load_effort
from offramp.migrate.scan.engine import scan_path

APPS = Path(__file__).resolve().parents[2] / "sample_apps"


@pytest.fixture(scope="module")
def finetuned():
    return scan_path(APPS / "finetuned_classifier")


def test_automatic_steps_come_first_largest_saving_first(finetuned):
    steps = first_steps(finetuned)
    table = load_effort()
    auto = [s for s in steps if s.automatic]
    hand = [s for s in steps if not s.automatic]
    assert auto and hand and steps == auto + hand
    assert [s.hours_saved for s in auto] == sorted((s.hours_saved for s in auto), reverse=True)
    assert [s.hours_by_hand for s in hand] == sorted(s.hours_by_hand for s in hand)
    # Every finding is in exactly one step, and a step's hours are its sites × the table's hours.
    assert sum(s.sites for s in steps) == len(finetuned.findings)
    for s in steps:
        assert (s.hours_saved or s.hours_by_hand) == pytest.approx(table.of(s.strategy).hours * s.sites)
    keep = next(s for s in hand if s.strategy == "keep-on-openai")
    assert keep.dirs == ["scripts"] and keep.command is None
    assert auto[0].command.startswith("migrate rewrite --dry-run")


def test_heat_map_counts_findings_per_directory_and_level(finetuned):
    rows = directory_heat(finetuned)
    assert rows[0].level == max(f.level for f in finetuned.findings)
    for r in rows:
        mine = [f for f in finetuned.findings if (f.path.rsplit("/", 1)[0] if "/" in f.path else ".") == r.dir]
        assert r.findings == len(mine) and sum(r.by_level.values()) == len(mine)
    page = render(finetuned)
    cells = re.findall(r'data-dir="([^"]+)" data-level="(\d)" data-n="(\d+)"', page)
    assert {(d, int(lv), int(n)) for d, lv, n in cells} == {
        (r.dir, lv, n) for r in rows for lv, n in r.by_level.items() if n}
    assert page.index("What to do first") < page.index("Lock-in by directory") < page.index("Findings by file")
    order = re.findall(r'<li data-strategy="([^"]+)"', page)
    assert order == [s.strategy for s in first_steps(finetuned)]


def test_legacy_app_steps_are_all_automatic_and_no_network_in_the_page():
    rep = scan_path(APPS / "legacy_v0_app")
    steps = first_steps(rep)
    assert {s.strategy for s in steps} == {"v0-config", "v0-resource-call", "v0-exception"}
    assert steps[0].strategy == "v0-resource-call"  # 5 sites × 1.5 h: the largest saving
    page = render(rep)
    assert "http://" not in page and "https://" not in page.replace("https://api.openai.com", "")


def test_a_bad_effort_table_is_one_line_naming_the_field(tmp_path):
    p = tmp_path / "effort.toml"
    p.write_text('[default]\nautomatic = false\nhours = -1\ndoes = "x"\n')
    with pytest.raises(EffortError, match=r"effort.toml: default.hours: "):
        load_effort(p)


@pytest.mark.browser
def test_chromium_renders_the_heat_map_and_first_steps(finetuned, tmp_path):
    import shutil
    import subprocess

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        from tests.rollout.conftest_services import need_browser

        need_browser()
    artifacts = Path(__file__).resolve().parents[2] / "artifacts"
    artifacts.mkdir(exist_ok=True)
    page = tmp_path / "scan.html"
    page.write_text(render(finetuned), encoding="utf-8")
    flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--hide-scrollbars", "--window-size=1200,1500"]
    dom = subprocess.run([*flags, f"--user-data-dir={tmp_path / 'p1'}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=60).stdout
    cells = re.findall(r'data-dir="([^"]+)" data-level="(\d)" data-n="(\d+)"', dom)
    assert {(d, int(lv), int(n)) for d, lv, n in cells} == {
        (r.dir, lv, n) for r in directory_heat(finetuned) for lv, n in r.by_level.items() if n}
    assert re.findall(r'<li data-strategy="([^"]+)"', dom) == [s.strategy for s in first_steps(finetuned)]
    for name, extra in (("scan-report.png", []), ("scan-report-dark.png", ["--blink-settings=preferredColorScheme=0"])):
        shot = artifacts / name
        shot.unlink(missing_ok=True)
        subprocess.run([*flags, *extra, f"--user-data-dir={tmp_path / name}", f"--screenshot={shot}", page.as_uri()],
                       capture_output=True, text=True, timeout=60)
        assert shot.exists() and shot.stat().st_size > 20_000
