"""Options of one scan: the boundary between the `migrate scan` CLI and the engine."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


def default_cache_dir(root: Path) -> Path:
    """Per-root result cache in the user's cache directory: a scan must not write into the tree it reads."""
    base = os.environ.get("OFFRAMP_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    digest = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:16]
    return Path(base) / "offramp" / "scan" / digest


class ScanOptions(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    include: list[str] = Field(default_factory=list, description="gitignore-style patterns to force in")
    exclude: list[str] = Field(default_factory=list, description="gitignore-style patterns to leave out")
    rules_dirs: list[Path] = Field(default_factory=list, description="user rule dirs (--rules)")
    jobs: int | None = Field(default=None, description="worker processes; None = all cores")
    use_cache: bool = True
    cache_dir: Path | None = Field(
        default=None, description="default: default_cache_dir(root), outside the scanned tree")
    max_file_bytes: int = 2_000_000
    only_categories: list[str] = Field(default_factory=list)
    # Called as progress(done, total) while files are analysed; the CLI passes one only on a TTY.
    progress: Callable[[int, int], None] | None = None
