"""`migrate rewrite PATH`: move OpenAI calls onto the unified adapter — a reviewable diff, or the files in place."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from offramp.migrate.cli_app import app

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_UNSAFE = 0, 1, 2, 3


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


@app.command("rewrite")
def rewrite(
    path: Path = typer.Argument(..., help="Project directory (or one file) to rewrite."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the diff and the summary; change nothing."),
    diff_file: Path | None = typer.Option(None, "--diff-file", help="Write the unified diff here (git apply)."),
    allow_dirty: bool = typer.Option(False, "--allow-dirty",
                                     help="Write even when files to change have uncommitted changes."),
    only: list[str] = typer.Option([], "--only", help="Rewrite only sites of this category (repeatable)."),
    include: list[str] = typer.Option([], "--include", help="gitignore-style pattern to force in (repeatable)."),
    exclude: list[str] = typer.Option([], "--exclude", help="gitignore-style pattern to leave out (repeatable)."),
    rules: list[Path] = typer.Option([], "--rules", help="Extra rule directory, as for `migrate scan`."),
    annotate: bool = typer.Option(False, "--annotate", help="Add `# migrate: <reason>` above each site left."),
    fmt: str = typer.Option("text", "--format", help="text | json | sarif (json/sarif: the sites left)."),
    color: bool = typer.Option(True, "--color/--no-color", help="Colour the diff (default on a terminal)."),
    no_scan: bool = typer.Option(False, "--no-scan", hidden=True, help="Use the rewrite's own resolution."),
) -> None:
    """Rewrite OpenAI SDK usage onto the `adapters` package. Dry run prints a diff; writing refuses a dirty tree.

    Exit codes: 0 ok · 1 internal error · 2 usage error (bad path/option, dirty tree) · 3 some files failed the
    safety check and were not written.
    """
    from offramp.migrate.rewrite import output
    from offramp.migrate.rewrite.engine import RewriteOptions, load_ruleset, rewrite_path
    from offramp.migrate.rewrite.write import DirtyTreeError, dirty_files, write_all
    from offramp.migrate.ruleset import RuleFileError

    if fmt not in ("text", "json", "sarif"):
        raise _fail(f"--format: unknown format {fmt!r} (text, json, sarif)")
    if not path.exists():
        raise _fail(f"{path}: no such file or directory")
    root = path.resolve()
    base = root if root.is_dir() else root.parent
    options = RewriteOptions(include=include, exclude=exclude, only_categories=only, rules_dirs=rules,
                             annotate=annotate, use_scan=not no_scan)
    try:
        ruleset = load_ruleset(root, options)
        if only and ruleset is not None:
            bad = sorted(set(only) - set(ruleset.categories) - {"errors", "client", "configuration"})
            if bad:
                raise _fail(f"--only: unknown category {bad[0]!r} (known: {', '.join(ruleset.categories)})")
        result = rewrite_path(root, options)
    except RuleFileError as e:
        raise _fail(str(e)) from None
    if result.files_scanned == 0:
        raise _fail(f"{root}: no Python files or notebooks found")
    notes, extra = _project_files(result, root, options) if root.is_dir() else ([], set())

    prefix = output.git_prefix(base)
    diff = output.unified_diff(result, prefix)
    if diff_file is not None:
        try:
            diff_file.write_text(diff, encoding="utf-8")
        except OSError as e:
            raise _fail(f"{diff_file}: cannot write the diff: {e.strerror}") from None

    written: list[str] = []
    if not dry_run and result.changed:
        if not allow_dirty:
            try:
                dirty = dirty_files(base, [f.path for f in result.changed])
            except DirtyTreeError as e:
                raise _fail(str(e)) from None
            if dirty:
                raise _fail(f"{base / dirty[0]}: has uncommitted changes ({len(dirty)} file(s) to rewrite are "
                            "dirty); commit or stash them, or pass --allow-dirty")
        try:
            written = write_all(result, base)
        except OSError as e:
            raise _fail(f"{e.filename}: cannot write: {e.strerror}; no file was changed", EXIT_INTERNAL) from None

    if fmt != "text":
        from offramp.migrate.report import render

        typer.echo(render(fmt, output.left_report(result, ruleset), ruleset), nl=False)
    else:
        _print_text(result, diff if (dry_run or diff_file is None) else "", written, dry_run,
                    color and sys.stdout.isatty(), notes, extra)
    if result.failed:
        raise typer.Exit(EXIT_UNSAFE)


def _project_files(result, root: Path, options) -> tuple[list[str], set[str]]:
    """Once calls moved onto the adapter: the starting offramp.toml and `offramp` in the app's dependency file,
    as files of the same diff and write; returns the summary lines saying what they do, and their paths."""
    from offramp.migrate.rewrite import config_file, dependencies

    if result.report is None or not (result.moved or _on_adapter(root, options)):
        return [], set()
    notes, paths = [], set()
    for planned, note in (config_file.plan(root, result.report), dependencies.plan(root)):
        if planned is not None:
            result.files.append(planned)
            paths.add(planned.path)
        notes.append(note)
    return notes, paths


def _on_adapter(root: Path, options) -> bool:
    """The project already imports Offramp's client (rewritten before): its config and dependency still count."""
    from offramp.migrate.rewrite.engine import discover

    for path in discover(root, options):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "offramp.adapters" in text or "from offramp import adapters" in text:
            return True
    return False


def _print_text(result, diff: str, written: list[str], dry_run: bool, color: bool, notes: list[str],
                extra: set[str]) -> None:
    from rich.console import Console
    from rich.markup import escape

    con = Console(highlight=False, color_system="auto" if color else None, soft_wrap=True)
    styles = {"+": "green", "-": "red", "@": "cyan"}
    for line in diff.splitlines():
        style = "bold" if line.startswith(("+++", "---")) else styles.get(line[:1], "")
        con.print(f"[{style}]{escape(line)}[/]" if style else escape(line))
    changed = [f for f in result.changed if f.path not in extra]  # source files; the notes say the rest
    verb = "would change" if dry_run else "changed"
    n = result.moved_unchanged
    riding = (f" (including {n} call{'s' if n != 1 else ''} on a client, unchanged in the source: "
              "they move with the client)") if n else ""
    skipped = sum(1 for f in result.failed if f.skipped_line is not None)
    refused = len(result.failed) - skipped
    con.print(f"\n[bold]{result.root}[/]: {result.files_scanned} files scanned, {len(changed)} {verb}, "
              f"{result.moved} sites moved onto the adapter{riding}, {len(result.left)} left"
              + (f", {refused} file(s) not rewritten" if refused else "")
              + (f", {skipped} file(s) skipped (syntax not supported by the parser)" if skipped else ""))
    for note in notes:
        con.print(escape(note if not dry_run else note.replace(": adds ", ": would add ")
                         .replace(": a starting", ": would write a starting")))
    if written:
        also = [p for p in written if p in extra]
        con.print(f"wrote {len(written) - len(also)} file(s)" + (f" and {', '.join(also)}" if also else ""))
    for f in result.failed:
        if f.skipped_line is not None:  # not refused: the parser cannot read it, so nothing was checked
            where = f.path if f.cell is None else f"{f.path}[cell {f.cell}]"
            con.print(f"[yellow]skipped[/] {escape(where)}:{f.skipped_line}: {escape(f.error)}")
        else:
            con.print(f"[red]not rewritten[/] {escape(f.path)}: {escape(f.error)}")
    if result.left:
        con.print("\n[bold]Left (and why):[/]")
        for f, s in result.left:
            where = f"{f.path}:{s.line}" if s.cell is None else f"{f.path}[cell {s.cell}]:{s.line}"
            con.print(f"  {escape(where)}  {escape(s.api)}  [dim]{escape(s.strategy)}[/] — {escape(s.reason)}")
