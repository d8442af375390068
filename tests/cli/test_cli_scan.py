from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

from offramp.migrate.commands.scan import UsageError, parse_level

ANSI = re.compile(r"\x1b\[")
LEVELS = [
    (0, "none"),
    (1, "plain chat"),
    (2, "tools and structured outputs"),
    (3, "fine-tuned models"),
    (4, "embeddings and vector stores"),
    (5, "multimodal and platform APIs"),
]


def one_line(text: str) -> bool:
    return len(text.strip().splitlines()) == 1


def test_missing_path_is_a_one_line_usage_error(cli, engine, tmp_path: Path) -> None:
    res = cli("scan", tmp_path / "nope")
    assert res.exit_code == 2
    assert one_line(res.stderr) and f"{tmp_path / 'nope'}: no such file or directory" in res.stderr
    assert engine.calls == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "pdf"], "--format: unknown format 'pdf'"),
        (["--fail-on", "7"], "--fail-on: level '7' is out of range"),
        (["--fail-on", "bananas"], "--fail-on: unknown level 'bananas'"),
        (["--only", "nonsense"], "--only: unknown category 'nonsense'"),
        (["--jobs", "0"], "--jobs: must be at least 1"),
    ],
)
def test_bad_options_are_one_line_usage_errors(cli, engine, project: Path, args, message) -> None:
    res = cli("scan", project, *args)
    assert res.exit_code == 2, res.output
    assert one_line(res.stderr) and message in res.stderr
    assert engine.calls == []


def test_bad_rule_file_names_file_and_key(cli, engine, project: Path, tmp_path: Path) -> None:
    rules = tmp_path / "myrules"
    rules.mkdir()
    (rules / "wrapper.toml").write_text('[[rule]]\nid = "acme.llm"\ntitle = "x"\n')
    res = cli("scan", project, "--rules", rules)
    assert res.exit_code == 2
    assert one_line(res.stderr) and "wrapper.toml: rule[0](acme.llm).match: Field required" in res.stderr
    missing = cli("scan", project, "--rules", tmp_path / "absent")
    assert missing.exit_code == 2 and "rules directory does not exist" in missing.stderr


def test_bad_rule_dir_in_pyproject_is_a_usage_error(cli, engine, project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.migrate]\nrules = "in-house-rules"\n')
    res = cli("scan", project)
    assert res.exit_code == 2 and "in-house-rules: rules directory does not exist" in res.stderr


def test_ok_scan_exit_0_and_options_reach_the_engine(cli, engine, project: Path, tmp_path: Path) -> None:
    rules = tmp_path / "r"
    rules.mkdir()
    res = cli(
        "scan",
        project,
        "--format",
        "json",
        "--include",
        "vendor/ours/**",
        "--exclude",
        "scripts/",
        "--exclude",
        "*.ipynb",
        "--jobs",
        "3",
        "--no-cache",
        "--only",
        "tools",
        "--rules",
        rules,
    )
    assert res.exit_code == 0, res.stderr
    root, opts = engine.calls[0]
    assert Path(root) == project.resolve()
    assert (opts.include, opts.exclude, opts.jobs, opts.use_cache) == (
        ["vendor/ours/**"],
        ["scripts/", "*.ipynb"],
        3,
        False,
    )
    assert opts.only_categories == ["tools"] and opts.rules_dirs == [rules]
    assert opts.progress is None  # stderr is not a terminal
    assert json.loads(res.stdout)["summary"]["level"] == 2


@pytest.mark.parametrize(
    "levels, fail_on, code",
    [
        ([1, 2], "2", 3),
        ([1, 2], "3", 0),
        ([1, 2], "L2", 3),
        ([1, 2], "tools and structured outputs", 3),
        ([1, 2], "fine-tuned", 0),
        ([4], "embeddings", 3),
        ([5], "multimodal", 3),
        ([], "0", 0),
        ([0], "0", 3),
        ([1], "1", 3),
        ([1], "plain-chat", 3),
    ],
)
def test_fail_on_thresholds(cli, engine, project: Path, levels, fail_on, code) -> None:
    engine.levels = levels
    res = cli("scan", project, "--format", "json", "--fail-on", fail_on)
    assert res.exit_code == code, res.stderr
    if code == 3:
        assert f"reaches --fail-on {parse_level(fail_on, LEVELS)}" in res.stderr


def test_skipped_files_exit_4_unless_fail_on_applies_or_turned_off(cli, engine, project: Path) -> None:
    engine.skipped = 2
    res = cli("scan", project, "--format", "json")
    assert res.exit_code == 4 and "2 files skipped" in res.stderr
    assert cli("scan", project, "--format", "json", "--no-fail-on-skipped").exit_code == 0
    assert cli("scan", project, "--format", "json", "--fail-on", "2").exit_code == 3
    assert cli("scan", project, "--format", "json", "--fail-on", "3").exit_code == 4


def test_internal_error_exit_1_in_one_line(cli, engine, project: Path) -> None:
    engine.error = RuntimeError("worker died\nwhile parsing")
    res = cli("scan", project)
    assert res.exit_code == 1
    assert one_line(res.stderr) and "internal error: RuntimeError: worker died while parsing" in res.stderr


def test_rule_error_from_the_engine_is_a_usage_error(cli, engine, project: Path) -> None:
    from offramp.migrate.ruleset import RuleFileError

    engine.error = RuleFileError("/x/rules.toml: rule[2](acme).level: too big")
    res = cli("scan", project)
    assert (
        res.exit_code == 2
        and res.stderr.strip() == "migrate scan: /x/rules.toml: rule[2](acme).level: too big"
    )


@pytest.mark.parametrize(
    "fmt, marker",
    [
        ("terminal", "Lock-in level 2 of 5"),
        ("json", '"schema_version": "1.1"'),
        ("markdown", "## Offramp lock-in report"),
        ("sarif", '"version": "2.1.0"'),
        ("html", "<!DOCTYPE html>"),
    ],
)
def test_output_writes_the_file_and_nothing_on_stdout(
    cli, engine, project: Path, tmp_path: Path, fmt, marker
) -> None:
    out = tmp_path / f"report.{fmt}"
    res = cli("scan", project, "--format", fmt, "--output", out)
    assert res.exit_code == 0
    assert res.stdout == ""
    text = out.read_text(encoding="utf-8")
    assert marker in text and not ANSI.search(text)
    assert f"wrote {fmt} report to {out}: lock-in level 2" in res.stderr


def test_unwritable_output_is_a_usage_error(cli, engine, project: Path, tmp_path: Path) -> None:
    res = cli("scan", project, "--output", tmp_path / "no" / "such" / "dir" / "r.html", "--format", "html")
    assert res.exit_code == 2 and one_line(res.stderr) and "cannot write" in res.stderr


def test_terminal_output_to_a_pipe_has_no_escape_codes(cli, engine, project: Path) -> None:
    res = cli("scan", project)
    assert res.exit_code == 0
    assert "Lock-in level 2 of 5 — tools and structured outputs" in res.stdout
    assert not ANSI.search(res.stdout)


def test_zero_files_is_said_with_the_resolved_root(cli, engine, project: Path) -> None:
    engine.levels, engine.files_scanned = [], 0
    res = cli("scan", project, "--format", "json")
    assert res.exit_code == 0
    assert (
        f"no Python files or notebooks found under {project.resolve()} (0 files scanned, 0 skipped"
        in res.stderr
    )


def test_sarif_uris_are_relative_to_the_enclosing_repository(cli, engine, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    svc = repo / "services" / "bot"
    svc.mkdir(parents=True)
    res = cli("scan", svc, "--format", "sarif")
    run = json.loads(res.stdout)["runs"][0]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert uris == {"services/bot/app/m0.py", "services/bot/app/m1.py"}


def test_parse_level_names() -> None:
    assert parse_level("  Fine-Tuned Models ", LEVELS) == 3
    assert parse_level("l4", LEVELS) == 4
    assert parse_level("multimodal_and_platform_apis", LEVELS) == 5
    with pytest.raises(UsageError, match="unknown level 'x'"):
        parse_level("x", LEVELS)
    with pytest.raises(UsageError, match="unknown level 'tool'"):  # a prefix of two names is ambiguous
        parse_level("tool", [*LEVELS[:5], (5, "tooling platform")])


def test_progress_bar_only_when_stderr_is_a_terminal(cli, engine, project: Path, monkeypatch) -> None:
    import offramp.migrate.commands.scan as scan_cmd

    monkeypatch.setattr(scan_cmd, "_stderr_is_tty", lambda: True)
    seen = []

    def engine_with_progress(root, options):
        seen.append(options.progress)
        options.progress(1, 2)
        options.progress(2, 2)
        return engine(root, options)

    monkeypatch.setattr(importlib.import_module("offramp.migrate.scan"), "scan_path", engine_with_progress)
    res = cli("scan", project, "--format", "json")
    assert res.exit_code == 0 and callable(seen[0])
    json.loads(res.stdout)  # the bar went to stderr, never into the report
