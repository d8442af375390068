"""Writing a rewrite in place: refuse files with uncommitted changes (unless allowed), and never leave a file
half-written — every new text goes to a temp file beside its target first, and only when all temp files are
written are they renamed over their targets (an atomic replace per file)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from offramp.migrate.rewrite.model import RewriteResult


class DirtyTreeError(RuntimeError):
    pass


def dirty_files(base: Path, paths: list[str]) -> list[str]:
    """Of `paths` (relative to base), those git reports as modified, staged or untracked."""
    if not paths:
        return []
    try:
        out = subprocess.run(["git", "-C", str(base), "status", "--porcelain", "-z", "--untracked-files=all",
                              "--", *paths], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        raise DirtyTreeError(f"{base}: cannot run git to check for uncommitted changes ({e}); "
                             "pass --allow-dirty to write anyway") from None
    if out.returncode != 0:
        raise DirtyTreeError(f"{base}: not a git work tree, so uncommitted changes cannot be detected; "
                             "pass --allow-dirty to write anyway")
    top = subprocess.run(["git", "-C", str(base), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    root = Path(top.stdout.strip()).resolve()
    dirty = []
    # -z: paths verbatim (no C-quoting of non-ASCII names); a rename's entry is followed by its source path
    entries = iter(out.stdout.split("\0"))
    for entry in entries:
        if not entry:
            continue
        if entry[0] in "RC":
            next(entries, None)
        dirty.append((root / entry[3:]).resolve().relative_to(base.resolve()).as_posix())
    return sorted(set(dirty))


def write_all(result: RewriteResult, base: Path) -> list[str]:
    """Write every changed file atomically; returns the paths written."""
    changed = result.changed
    staged: list[tuple[Path, Path]] = []
    try:
        for f in changed:
            target = base / f.path
            mode = 0o644 if f.new else target.stat().st_mode
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".offramp-tmp", dir=target.parent)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(f.rewritten)
            os.chmod(tmp, mode & 0o7777)
            staged.append((Path(tmp), target))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, target in staged:
        os.replace(tmp, target)
    return [f.path for f in changed]
