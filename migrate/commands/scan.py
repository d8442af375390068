"""`migrate scan PATH`: the lock-in report of a codebase, in the format a person or a tool reads.

Exit codes (docs/architecture.md): 0 ok · 1 internal error · 2 usage error (bad path, option or rule
file) · 3 `--fail-on LEVEL` reached or `--fail-on-deadline DAYS` hit (a used model or API shuts down within DAYS,
or already has) · 4 files were skipped (only when 3 does not apply; turned off by `--no-fail-on-skipped`).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import typer

from offramp.migrate.cli_app import app
from offramp.migrate.report import FORMATS
from offramp.migrate.report_model import BaselineInfo

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_FAIL_ON, EXIT_SKIPPED = 0, 1, 2, 3, 4


class UsageError(Exception):
    """Bad input from the command line: reported in one line, exit 2."""


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"migrate scan: {message}", err=True)
    return typer.Exit(code)


def _internal(e: Exception) -> typer.Exit:
    """One line for the user; the traceback with MIGRATE_DEBUG=1."""
    if os.environ.get("MIGRATE_DEBUG"):
        raise e
    detail = " ".join(str(e).split())
    return _fail(f"internal error: {type(e).__name__}: {detail} (set MIGRATE_DEBUG=1 for the traceback)", 1)


def parse_level(value: str, levels: Sequence[tuple[int, str]]) -> int:
    """`3`, `L3` or a level name (`fine-tuned models`, or an unambiguous start of one: `embeddings`)."""
    raw = value.strip().lower()
    digits = raw[1:] if raw[:1] == "l" and raw[1:].isdigit() else raw
    if digits.isdigit():
        n = int(digits)
        if 0 <= n <= 5:
            return n
        raise UsageError(f"--fail-on: level {value!r} is out of range (0–5)")

    def norm(s: str) -> str:
        return " ".join(s.lower().replace("-", " ").replace("_", " ").split())

    want = norm(raw)
    exact = [n for n, name in levels if norm(name) == want]
    if exact:
        return exact[0]
    prefix = [n for n, name in levels if norm(name).startswith(want)] if want else []
    if len(prefix) == 1:
        return prefix[0]
    known = ", ".join(f"{n}={name!r}" for n, name in levels)
    raise UsageError(f"--fail-on: unknown level {value!r} (use 0–5 or a name: {known})")


def fail_on_reached(report, threshold: int | None) -> bool:
    """A finding at `threshold` or above; `--fail-on 0` therefore fails on any finding at all."""
    if threshold is None:
        return False
    return any(f.level >= threshold for f in report.findings)


def deadlines_hit(report, days: int | None) -> list:
    """Deadlines within `days` (past ones included); none when the option is not given."""
    if days is None:
        return []
    from offramp.migrate.scan.deadlines import within

    return within(report, days)


def exit_code(report, threshold: int | None, fail_on_skipped: bool, deadline_days: int | None = None) -> int:
    if fail_on_reached(report, threshold) or deadlines_hit(report, deadline_days):
        return EXIT_FAIL_ON
    if fail_on_skipped and report.skipped:
        return EXIT_SKIPPED
    return EXIT_OK


def repo_prefix(base: Path) -> str:
    """Where the scanned directory sits in its git work tree: GitHub resolves SARIF URIs from its root."""
    for parent in (base, *base.parents):
        if (parent / ".git").exists():
            rel = base.relative_to(parent).as_posix()
            return "" if rel == "." else rel
    return ""


def _stderr_is_tty() -> bool:
    return sys.stderr.isatty()


def _progress_callback(stack):
    """A rich progress bar on stderr; only called when stderr is a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = stack.enter_context(
        Progress(
            TextColumn("scanning"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
    )
    task = progress.add_task("scan", total=None)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return update


def in_scope(rel: str, scope: list[str]) -> bool:
    return any(rel == s or rel.startswith(s.rstrip("/") + "/") or s == "." for s in scope)


def resolve_scope(paths: list[Path], project: Path | None) -> tuple[Path, list[str]]:
    """(the root analysed, the paths findings are limited to). One PATH is the project; several PATHs (what a
    pre-commit hook passes), or PATHs with --project, are analysed as part of the project they sit in, so that a
    client made in another module is still followed, and only their findings are listed."""
    for p in paths:
        if not p.exists():
            raise UsageError(f"{p}: no such file or directory")
    if project is None and len(paths) == 1:
        return paths[0].resolve(), []
    root = (project or Path.cwd()).resolve()
    if not root.is_dir():
        raise UsageError(f"--project: {project}: not a directory")
    scope = []
    for p in paths:
        try:
            scope.append(p.resolve().relative_to(root).as_posix())
        except ValueError:
            raise UsageError(f"{p}: not inside the project {root} (set --project)") from None
    return root, scope


@app.command("scan")
def scan(
    paths: list[Path] = typer.Argument(..., metavar="PATH...", show_default=False,
                                       help="Directory or file to scan; several: list only their findings."),
    project: Path | None = typer.Option(
        None, "--project", metavar="DIR",
        help="Analyse the whole project DIR but list only the findings in PATH... (default with several "
             "PATHs: the current directory)."),
    baseline: Path | None = typer.Option(
        None, "--baseline", metavar="FILE",
        help="List only findings that are not in FILE, a saved `--format json` report."),
    fmt: str = typer.Option(
        "terminal", "--format", "-f", metavar="FORMAT", help="terminal | json | markdown | sarif | html"
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", metavar="FILE", help="Write the report to FILE instead of standard output."
    ),
    fail_on: str | None = typer.Option(
        None,
        "--fail-on",
        metavar="LEVEL",
        help="Exit 3 when a finding reaches LEVEL (0–5, L3, or a level name).",
    ),
    fail_on_deadline: int | None = typer.Option(
        None,
        "--fail-on-deadline",
        metavar="DAYS",
        help="Exit 3 when a model or API the project uses shuts down within DAYS days (or already has).",
    ),
    rules: list[Path] = typer.Option(
        [], "--rules", metavar="DIR", help="Extra rule directory or file (repeatable)."
    ),
    include: list[str] = typer.Option(
        [], "--include", metavar="PAT", help="gitignore-style pattern to scan even if ignored (repeatable)."
    ),
    exclude: list[str] = typer.Option(
        [], "--exclude", metavar="PAT", help="gitignore-style pattern to leave out (repeatable)."
    ),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", metavar="N", help="Worker processes (default: all cores)."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Ignore and do not write the result cache."),
    only: list[str] = typer.Option(
        [], "--only", metavar="CATEGORY", help="Report only this category (repeatable)."
    ),
    no_fail_on_skipped: bool = typer.Option(
        False, "--no-fail-on-skipped", help="Exit 0 rather than 4 when files were skipped."
    ),
) -> None:
    """Report a codebase's OpenAI lock-in: where each API is used, its level, and what DeepSeek offers.

    Exit codes: 0 ok, 1 internal error, 2 usage error, 3 --fail-on reached or --fail-on-deadline hit,
    4 files skipped.
    """
    import contextlib

    from offramp.migrate.ruleset import RuleFileError, load_ruleset, user_rule_dirs

    if fmt not in FORMATS:
        raise _fail(f"--format: unknown format {fmt!r} (expected one of {', '.join(FORMATS)})", EXIT_USAGE)
    if fail_on_deadline is not None and fail_on_deadline < 0:
        raise _fail(f"--fail-on-deadline: DAYS must be 0 or more, got {fail_on_deadline}", EXIT_USAGE)
    if jobs is not None and jobs < 1:
        raise _fail(f"--jobs: must be at least 1, got {jobs}", EXIT_USAGE)
    try:
        root, scope = resolve_scope(paths, project)
    except UsageError as e:
        raise _fail(str(e), EXIT_USAGE) from None
    base = root if root.is_dir() else root.parent
    from offramp.migrate import baseline as baseline_mod

    try:
        known = baseline_mod.load(baseline) if baseline is not None else None
    except baseline_mod.BaselineError as e:
        raise _fail(str(e), EXIT_USAGE) from None

    try:
        ruleset = load_ruleset([*rules, *user_rule_dirs(base)])
    except RuleFileError as e:
        raise _fail(str(e), EXIT_USAGE) from None
    try:
        threshold = (
            None if fail_on is None else parse_level(fail_on, [(lv.level, lv.name) for lv in ruleset.levels])
        )
    except UsageError as e:
        raise _fail(str(e), EXIT_USAGE) from None
    unknown = [c for c in only if c not in ruleset.categories]
    if unknown:
        raise _fail(
            f"--only: unknown category {unknown[0]!r} (known: {', '.join(ruleset.categories)})", EXIT_USAGE
        )

    from offramp.migrate.report import render
    from offramp.migrate.scan import scan_path
    from offramp.migrate.scan.options import ScanOptions

    with contextlib.ExitStack() as stack:
        progress = _progress_callback(stack) if _stderr_is_tty() else None
        options = ScanOptions(
            include=list(include),
            exclude=list(exclude),
            rules_dirs=list(rules),
            jobs=jobs,
            use_cache=not no_cache,
            only_categories=list(only),
            progress=progress,
        )
        try:
            report = scan_path(root, options)
        except RuleFileError as e:
            raise _fail(str(e), EXIT_USAGE) from None
        except Exception as e:
            raise _internal(e) from None
    if scope:
        report = baseline_mod.with_findings(
            report, [f for f in report.findings if in_scope(f.path, scope)], ruleset, scope=scope)
    if known is not None:
        fresh, seen = baseline_mod.new_findings(report, known)
        report = baseline_mod.with_findings(report, fresh, ruleset, baseline=BaselineInfo(
            path=str(baseline), known=seen))

    s = report.summary
    if s.files_scanned == 0:
        typer.echo(
            f"migrate scan: no Python files or notebooks found under {root} "
            f"(0 files scanned, {s.skipped} skipped; check --include/--exclude and .gitignore)",
            err=True,
        )

    kwargs: dict = {}
    if fmt == "terminal":
        to_tty = output is None and sys.stdout.isatty()
        kwargs = {
            "color": to_tty and not os.environ.get("NO_COLOR"),
            "width": shutil.get_terminal_size((110, 24)).columns if to_tty else 110,
        }
    elif fmt == "sarif":
        kwargs = {"uri_prefix": repo_prefix(base)}
    try:
        text = render(fmt, report, ruleset, **kwargs)
    except Exception as e:
        raise _internal(e) from None

    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as e:
            raise _fail(f"{output}: cannot write: {e.strerror or e}", EXIT_USAGE) from None
        typer.echo(
            f"wrote {fmt} report to {output}: lock-in level {s.level} ({s.level_name}), "
            f"{s.findings} findings, {s.skipped} skipped",
            err=True,
        )

    code = exit_code(report, threshold, fail_on_skipped=not no_fail_on_skipped, deadline_days=fail_on_deadline)
    if code == EXIT_FAIL_ON:
        if fail_on_reached(report, threshold):
            typer.echo(f"migrate scan: lock-in level {s.level} reaches --fail-on {threshold}", err=True)
        from offramp.migrate.report.common import deadline_text

        for d in deadlines_hit(report, fail_on_deadline):
            typer.echo(f"migrate scan: {deadline_text(d)}: within --fail-on-deadline {fail_on_deadline}", err=True)
    elif code == EXIT_SKIPPED:
        typer.echo(
            f"migrate scan: {s.skipped} file{'s' if s.skipped != 1 else ''} skipped "
            "(exit 4; --no-fail-on-skipped to ignore)",
            err=True,
        )
    raise typer.Exit(code)
