"""Jupyter notebooks as one Python source: code cells joined, IPython magics neutralised, lines mapped back."""

from __future__ import annotations

import bisect
import json
import re

_ASSIGN_MAGIC = re.compile(r"^(\s*[\w.\[\], ]+\s*=\s*)[!%].*$")
_LINE_MAGIC = re.compile(r"^(\s*)([!%?]|\w[\w.]*\?\??\s*$)")


class NotebookError(ValueError):
    pass


def _neutralise(line: str) -> str:
    m = _ASSIGN_MAGIC.match(line)
    if m:
        return f"{m.group(1)}None"
    m = _LINE_MAGIC.match(line)
    if m:
        return f"{m.group(1)}pass"
    return line


def notebook_source(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The code cells as one module (so imports in one cell resolve in later ones) and, per code cell,
    (cell index over all cells, first line in the module)."""
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as e:
        raise NotebookError(f"not a valid notebook: JSON error at line {e.lineno}: {e.msg}") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise NotebookError("not a valid notebook: no `cells` list")
    out: list[str] = []
    starts: list[tuple[int, int]] = []
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else str(src)
        lines = src.splitlines() or [""]
        if lines[0].lstrip().startswith("%%"):  # a cell magic: the cell is not Python
            lines = ["#"] * len(lines)
        starts.append((i, len(out) + 1))
        out.extend(_neutralise(ln) for ln in lines)
    return "\n".join(out) + "\n", starts


class LineMap:
    """Module line → (cell index, line within the cell)."""

    def __init__(self, starts: list[tuple[int, int]]) -> None:
        self.cells = [c for c, _ in starts]
        self.firsts = [f for _, f in starts]

    def __call__(self, line: int) -> tuple[int | None, int]:
        i = bisect.bisect_right(self.firsts, line) - 1
        if i < 0:
            return None, line
        return self.cells[i], line - self.firsts[i] + 1
