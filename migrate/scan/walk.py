"""Which files a scan looks at: Python sources and notebooks, minus ignored and vendored trees."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from offramp.migrate.report_model import Skipped

# Directories that hold other people's code or build output; `--include` can still force them in.
DEFAULT_SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", "__pycache__", "node_modules", "site-packages", "dist-packages", ".venv", "venv",
    ".tox", ".nox", "build", "dist", ".eggs", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".offramp-cache",
    ".ipynb_checkpoints",
})
SOURCE_SUFFIXES = (".py", ".ipynb")


@dataclass
class WalkResult:
    files: list[tuple[str, Path]] = field(default_factory=list)  # (POSIX path relative to root, path)
    skipped: list[Skipped] = field(default_factory=list)


def _spec(lines: list[str]) -> pathspec.GitIgnoreSpec | None:
    lines = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    return pathspec.GitIgnoreSpec.from_lines(lines) if lines else None


def _gitignore(d: Path) -> pathspec.GitIgnoreSpec | None:
    try:
        return _spec((d / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError:
        return None


def walk(root: Path, include: list[str] = (), exclude: list[str] = ()) -> WalkResult:  # type: ignore[assignment]
    """Files under `root` (or `root` itself), honouring nested `.gitignore` files, the default skips,
    `include` (gitignore-style patterns forced in) and `exclude` (left out). Symlink loops are reported."""
    out = WalkResult()
    inc = _spec(list(include))
    exc = _spec(list(exclude))
    inc_prefixes = [p.strip("/").split("*")[0].rstrip("/") for p in include]
    if root.is_file():
        out.files.append((root.name, root))
        return out

    def forced(rel: str, is_dir: bool) -> bool:
        if inc is None:
            return False
        if inc.match_file(rel + ("/" if is_dir else "")):
            return True
        return is_dir and any(p and (p == rel or p.startswith(rel + "/")) for p in inc_prefixes)

    def ignored(rel: str, is_dir: bool, specs: list[tuple[str, pathspec.GitIgnoreSpec]]) -> bool:
        for base, spec in specs:
            sub = rel[len(base) + 1:] if base else rel
            if spec.match_file(sub + ("/" if is_dir else "")):
                return True
        return False

    def visit(d: Path, rel: str, specs: list[tuple[str, pathspec.GitIgnoreSpec]],
              ancestors: frozenset[tuple[int, int]] = frozenset()) -> None:
        try:
            st = d.stat()
        except OSError as e:
            out.skipped.append(Skipped(path=rel or ".", reason=_os_reason(e)))
            return
        key = (st.st_dev, st.st_ino)
        if key in ancestors:
            out.skipped.append(Skipped(path=rel, reason="symlink loop: links back to an enclosing directory"))
            return
        ancestors = ancestors | {key}
        spec = _gitignore(d)
        if spec is not None:
            specs = [*specs, (rel, spec)]
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as e:
            out.skipped.append(Skipped(path=rel or ".", reason=_os_reason(e)))
            return
        for entry in entries:
            erel = f"{rel}/{entry.name}" if rel else entry.name
            try:
                is_dir = entry.is_dir()
                is_file = entry.is_file()
            except OSError as e:
                out.skipped.append(Skipped(path=erel, reason=_os_reason(e)))
                continue
            if entry.is_symlink() and not is_dir and not is_file:
                if entry.name.endswith(SOURCE_SUFFIXES):
                    out.skipped.append(Skipped(path=erel, reason=_symlink_reason(Path(entry.path))))
                continue
            force = forced(erel, is_dir)
            if exc is not None and exc.match_file(erel + ("/" if is_dir else "")) and not (
                inc is not None and inc.match_file(erel + ("/" if is_dir else ""))
            ):
                continue
            if is_dir:
                if not force and (entry.name in DEFAULT_SKIP_DIRS or entry.name.endswith(".egg-info")
                                  or (Path(entry.path) / "pyvenv.cfg").exists() or ignored(erel, True, specs)):
                    continue
                visit(Path(entry.path), erel, specs, ancestors)
            elif is_file:
                if force or (entry.name.endswith(SOURCE_SUFFIXES) and not ignored(erel, False, specs)):
                    out.files.append((erel, Path(entry.path)))

    visit(root, "", [])
    return out


def _symlink_reason(p: Path) -> str:
    try:
        p.stat()
    except OSError as e:
        if e.errno == 40:
            return "symlink loop"
        return f"broken symlink: {e.strerror}"
    return "not a regular file"


def _os_reason(e: OSError) -> str:
    if e.errno == 40:
        return "symlink loop"
    return f"unreadable: {e.strerror or e}"
