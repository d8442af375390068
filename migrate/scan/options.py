"""Options of one scan: the boundary between the `migrate scan` CLI and the engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ScanOptions(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    include: list[str] = Field(default_factory=list, description="gitignore-style patterns to force in")
    exclude: list[str] = Field(default_factory=list, description="gitignore-style patterns to leave out")
    rules_dirs: list[Path] = Field(default_factory=list, description="user rule dirs (--rules)")
    jobs: int | None = Field(default=None, description="worker processes; None = all cores")
    use_cache: bool = True
    cache_dir: Path | None = Field(default=None, description="default: <root>/.offramp-cache/scan")
    max_file_bytes: int = 2_000_000
    only_categories: list[str] = Field(default_factory=list)
    # Called as progress(done, total) while files are analysed; the CLI passes one only on a TTY.
    progress: Callable[[int, int], None] | None = None
