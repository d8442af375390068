"""`migrate scan` end to end on a tiny app with the real engine: formats, schema, exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from offramp.migrate.report.common import location
from offramp.migrate.report_model import ScanReport

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "scan-report.schema.json"

BOT = """from openai import OpenAI

MODEL = "gpt-4o-mini"
client = OpenAI()


def answer(question: str) -> str:
    resp = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": question}],
        stream=True,
    )
    return "".join(c.choices[0].delta.content or "" for c in resp)
"""
EMB = """import openai as oa

_client = oa.OpenAI()


def embed(texts):
    return _client.embeddings.create(model="text-embedding-3-small", input=texts)
"""
NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# demo"]},
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": [
                "from openai import OpenAI\n",
                "c = OpenAI()\n",
                "img = c.images.generate(prompt='a cat')\n",
            ],
        },
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    (root / "app").mkdir(parents=True)
    (root / "app" / "bot.py").write_text(BOT)
    (root / "app" / "emb.py").write_text(EMB)
    (root / "app" / "legacy.py").write_text('import openai\nprint "hello"\n')
    (root / "app" / "notes.py").write_text("# the word openai in a comment is not usage\n")
    (root / "app" / "explore.ipynb").write_text(json.dumps(NOTEBOOK))
    return root


def scan_json(cli, root: Path, *args: str) -> tuple[ScanReport, int]:
    res = cli("scan", root, "--format", "json", "--no-cache", *args)
    return ScanReport.model_validate_json(res.stdout), res.exit_code


def test_json_of_a_real_scan_validates_against_the_published_schema(cli, tiny: Path) -> None:
    res = cli("scan", tiny, "--format", "json", "--no-cache")
    data = json.loads(res.stdout)
    jsonschema.validate(data, json.loads(SCHEMA_FILE.read_text("utf-8")), cls=jsonschema.Draft202012Validator)
    report = ScanReport.model_validate(data)
    assert report.summary.level == 5
    got = {(f.path, f.line, f.cell, f.api, f.level) for f in report.findings}
    assert ("app/emb.py", 7, None, "embeddings.create", 4) in got
    assert ("app/bot.py", 8, None, "chat.completions.create", 1) in got
    assert ("app/explore.ipynb", 3, 1, "images.generate", 5) in got
    assert not any(f.path == "app/notes.py" for f in report.findings)
    assert [s.path for s in report.skipped] == ["app/legacy.py"]


def test_exit_codes_on_a_real_scan(cli, tiny: Path) -> None:
    assert scan_json(cli, tiny)[1] == 4  # app/legacy.py is Python 2
    assert scan_json(cli, tiny, "--no-fail-on-skipped")[1] == 0
    assert scan_json(cli, tiny, "--fail-on", "multimodal")[1] == 3
    (tiny / "app" / "explore.ipynb").unlink()
    assert scan_json(cli, tiny, "--fail-on", "5")[1] == 4
    assert scan_json(cli, tiny, "--fail-on", "embeddings")[1] == 3
    (tiny / "app" / "legacy.py").unlink()
    assert scan_json(cli, tiny, "--fail-on", "5")[1] == 0


def test_only_filters_the_report(cli, tiny: Path) -> None:
    report, _ = scan_json(cli, tiny, "--only", "embeddings")
    assert {f.category for f in report.findings} == {"embeddings"}
    assert report.summary.level == 4


def test_every_format_on_a_real_scan(cli, tiny: Path, tmp_path: Path) -> None:
    report, _ = scan_json(cli, tiny)
    outs = {}
    for fmt in ("terminal", "markdown", "sarif", "html"):
        out = tmp_path / f"r.{fmt}"
        res = cli("scan", tiny, "--format", fmt, "--output", out, "--no-cache")
        assert res.exit_code == 4 and res.stdout == ""
        outs[fmt] = out.read_text("utf-8")
    run = json.loads(outs["sarif"])["runs"][0]
    assert {r["ruleId"] for r in run["results"]} <= {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert len(run["results"]) == len(report.findings)
    assert (
        run["invocations"][0]["toolExecutionNotifications"][0]["locations"][0]["physicalLocation"][
            "artifactLocation"
        ]["uri"]
        == "app/legacy.py"
    )
    for f in report.findings:
        assert location(f) in outs["html"]
        assert f"`{location(f)}`" in outs["markdown"]
    assert "Lock-in level 5 of 5" in outs["terminal"] and "app/legacy.py" in outs["terminal"]


def test_console_script_output_to_a_pipe_is_plain(tiny: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    proc = subprocess.run(
        [sys.executable, "-m", "offramp.migrate", "scan", str(tiny), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 4, proc.stderr
    assert "Lock-in level 5 of 5 — multimodal and platform APIs" in proc.stdout
    assert not re.search(r"\x1b\[", proc.stdout + proc.stderr)
    assert proc.stderr.strip() == "migrate scan: 1 file skipped (exit 4; --no-fail-on-skipped to ignore)"


def test_empty_tree(cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    res = cli("scan", empty, "--format", "json", "--no-cache")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["summary"]["level"] == 0
    assert f"no Python files or notebooks found under {empty.resolve()}" in res.stderr


def test_a_hard_coded_key_never_reaches_a_report_file(cli, tmp_path: Path) -> None:
    key = "sk-proj-" + "Qw3rty" * 6
    root = tmp_path / "keyed"
    root.mkdir()
    (root / "old.py").write_text(f'import openai\nopenai.api_key = "{key}"\n'
                                 'r = openai.ChatCompletion.create(model="gpt-4", messages=[])\n')
    for fmt in ("json", "sarif", "markdown", "html"):
        out = tmp_path / f"report.{fmt}"
        res = cli("scan", root, "--format", fmt, "--no-cache", "--output", out)
        text = out.read_text(encoding="utf-8")
        assert res.exit_code == 0 and "old.py" in text and "api_key" in text
        assert key not in text and key not in res.stdout, fmt
