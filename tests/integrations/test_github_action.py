"""The composite GitHub Action (action.yml): its scan step is run here as GitHub would run it (bash, inputs in
INPUT_* variables, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files), with the installed `migrate` on PATH; the steps
GitHub provides (setup-python, upload-sarif) are checked for the files and conditions they are handed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
STEPS = {s.get("name") or s["uses"].split("@")[0]: s for s in ACTION["runs"]["steps"]}
APP = "from openai import OpenAI\n\nclient = OpenAI()\n\n\ndef draw(p):\n    return client.images.generate(prompt=p)\n"


def run_scan_step(workspace: Path, tmp: Path, **inputs: str) -> tuple[int, dict[str, str], str]:
    step = STEPS["Scan"]
    values = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()} | inputs
    env = dict(os.environ)
    for name, expr in step["env"].items():  # `${{ inputs.fail-on }}` -> the input's value
        key = expr.strip("${} ").removeprefix("inputs.")
        env[name] = values[key]
    out, summary = tmp / "github_output", tmp / "step_summary"
    env |= {"GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(tmp),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"}
    proc = subprocess.run(["bash", "-c", step["run"]], cwd=workspace, env=env, capture_output=True, text=True,
                          timeout=300)
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines()) if out.exists() else {}
    return proc.returncode, outputs, summary.read_text() if summary.exists() else ""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / "app").mkdir(parents=True)
    (ws / "app" / "media.py").write_text(APP)
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    return ws


def test_scan_step_writes_sarif_summary_and_outputs(workspace: Path, tmp_path: Path) -> None:
    code, outputs, summary = run_scan_step(workspace, tmp_path)
    assert code == 0
    assert outputs == {"level": "5", "findings": "2", "exit-code": "0"}
    assert summary.startswith("## Offramp lock-in report") and "images.generate" in summary
    sarif = json.loads((workspace / "offramp.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]} \
        == {"app/media.py"}


def test_fail_on_sets_exit_code_3_and_the_last_step_fails(workspace: Path, tmp_path: Path) -> None:
    code, outputs, _ = run_scan_step(workspace, tmp_path, **{"fail-on": "4"})
    assert code == 0, "the scan step itself succeeds so that the SARIF is still uploaded"
    assert outputs["exit-code"] == "3"
    last = STEPS["Fail on lock-in level"]
    assert last["if"] == "steps.scan.outputs.exit-code == '3'" and "exit 3" in last["run"]


def test_baseline_input_reports_only_new_findings(workspace: Path, tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "offramp.migrate", "scan", ".", "-f", "json", "-o", "base.json"],
                   cwd=workspace, check=True, capture_output=True)
    _, outputs, summary = run_scan_step(workspace, tmp_path, baseline="base.json", **{"fail-on": "1"})
    assert outputs == {"level": "0", "findings": "0", "exit-code": "0"}
    assert "No new findings since the baseline." in summary


def test_a_usage_error_fails_the_scan_step(workspace: Path, tmp_path: Path) -> None:
    code, outputs, _ = run_scan_step(workspace, tmp_path, path="missing-dir")
    assert code == 2 and "exit-code" not in outputs


def test_the_steps_github_runs_are_wired_to_the_scan() -> None:
    assert STEPS["actions/setup-python"]["with"]["python-version"] == "${{ inputs.python-version }}"
    assert '"$GITHUB_ACTION_PATH"' in STEPS["Install Offramp"]["run"]  # Offramp from the action's own checkout
    upload = STEPS["Upload SARIF"]
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == "${{ inputs.sarif-file }}"
    assert "inputs.upload-sarif == 'true'" in upload["if"]
    assert set(ACTION["outputs"]) == {"level", "findings", "exit-code", "sarif-file"}
