"""Typed results of a rewrite run: what moved, what was left and why, per file and in total."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Site(BaseModel):
    """One call site a strategy looked at (line/column in the original source, 1-based line)."""

    line: int
    column: int = 0
    cell: int | None = Field(default=None, description="notebook code cell (0-based over all cells)")
    api: str
    strategy: str
    category: str = ""
    reason: str = ""
    via: list[str] = Field(default_factory=list, description="how the scan reached the site (factory, parameter...)")


class FileResult(BaseModel):
    path: str = Field(description="POSIX path relative to the root")
    cell: int | None = None
    original: str
    rewritten: str
    moved: list[Site] = Field(default_factory=list)
    left: list[Site] = Field(default_factory=list)
    error: str = Field(default="", description="why the file was not rewritten (parse or safety check)")
    skipped_line: int | None = Field(default=None, description="the file was skipped, not refused: its syntax is not "
                                     "supported by the parser; the line (in `cell` for a notebook) it stopped at")
    new: bool = Field(default=False, description="a file the rewrite creates (the starting offramp.toml)")

    @property
    def changed(self) -> bool:
        return not self.error and self.rewritten != self.original


class RewriteResult(BaseModel):
    root: str
    files: list[FileResult] = Field(default_factory=list)
    files_scanned: int = 0
    report: Any = Field(default=None, exclude=True, description="the scan the rewrite worked from (a ScanReport)")

    @property
    def changed(self) -> list[FileResult]:
        return [f for f in self.files if f.changed]

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.error]

    @property
    def moved(self) -> int:
        return sum(len(f.moved) for f in self.files if not f.error)

    @property
    def moved_unchanged(self) -> int:
        """Of `moved`: calls on a client object, which keep their shape and move with the client's constructor."""
        return sum(1 for f in self.files if not f.error for s in f.moved if s.strategy == "with-client")

    @property
    def left(self) -> list[tuple[FileResult, Site]]:
        return [(f, s) for f in self.files for s in f.left]
