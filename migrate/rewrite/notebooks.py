"""Notebooks: the code cells are rewritten as one module (imports are shared across cells at run time), then
split back into the cells of the .ipynb JSON, which is re-serialised in the notebook's own indentation."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_MARK = "# @@offramp-cell {}@@"
_MARK_RE = re.compile(r"^# @@offramp-cell (\d+)@@\n", re.M)
_MAGIC_RE = re.compile(r"^([ \t]*)([%!?].*)$")
_ASSIGN_MAGIC_RE = re.compile(r"^([ \t]*)([\w.\[\], ]+[ \t]*=[ \t]*[!%].*)$")  # files = !ls
_MAGIC_OUT = re.compile(r"^([ \t]*)# @@offramp-magic (\d+)@@$", re.M)


class NotebookError(ValueError):
    pass


@dataclass
class Notebook:
    data: dict[str, Any]
    indent: int | str | None
    trailing_newline: bool
    cells: list[int]  # indexes (over all cells) of the code cells
    magics: list[str]
    source_cache: str = ""

    def source(self) -> str:
        """The code cells joined into one module; what is not Python is hidden behind placeholders, one per line
        (so lines map back): IPython line magics and shell escapes with their backslash-continued lines, `x = !cmd`,
        and whole cells under a cell magic (`%%bash`, `%%writefile`), as the scanner reads them."""
        parts = []
        for n, i in enumerate(self.cells):
            src = _cell_text(self.data["cells"][i])
            lines = src.splitlines(keepends=True)
            cell_magic = bool(lines) and lines[0].lstrip().startswith("%%")
            out, continued = [], False
            for line in lines:
                body = line.rstrip("\r\n")
                m = _MAGIC_RE.match(body) or _ASSIGN_MAGIC_RE.match(body)
                if cell_magic or continued or m:
                    indent = m.group(1) if m else ""
                    self.magics.append(body[len(indent):])
                    out.append(f"{indent}# @@offramp-magic {len(self.magics) - 1}@@" + line[len(body):])
                    continued = body.endswith("\\")  # IPython joins the next line to this magic
                else:
                    out.append(line)
            src = "".join(out)
            parts.append(_MARK.format(n) + "\n" + src + ("" if src.endswith("\n") or not src else "\n"))
        return "".join(parts)

    def line_map(self, module_line: int) -> tuple[int | None, int]:
        """Module line -> (cell index over all cells, line within the cell)."""
        cell, start = None, 0
        for lineno, text in enumerate(self.source_cache.splitlines(), 1):
            m = re.match(r"^# @@offramp-cell (\d+)@@$", text)
            if lineno > module_line:
                break
            if m:
                cell, start = self.cells[int(m.group(1))], lineno
        return cell, max(1, module_line - start)

    def render(self, module_code: str) -> str:
        chunks = _MARK_RE.split(module_code)
        # chunks: [prefix, n0, src0, n1, src1, ...]; anything before the first mark (an added import) joins cell 0
        prefix = chunks[0]
        data = json.loads(json.dumps(self.data))
        for k in range(1, len(chunks), 2):
            n, src = int(chunks[k]), chunks[k + 1]
            if k == 1:
                src = prefix + src
            src = _MAGIC_OUT.sub(lambda m: m.group(1) + self.magics[int(m.group(2))], src)
            cell = data["cells"][self.cells[n]]
            original = _cell_text(self.data["cells"][self.cells[n]])
            if not original.endswith("\n") and src.endswith("\n"):
                src = src[:-1]
            if src != original:
                cell["source"] = src.splitlines(keepends=True) if isinstance(cell["source"], list) else src
        return _dump(data, self.indent, self.trailing_newline)


def _cell_text(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _dump(data: Any, indent: int | str | None, trailing: bool) -> str:
    return json.dumps(data, indent=indent, ensure_ascii=False) + ("\n" if trailing else "")


def load(text: str, path: str) -> Notebook:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise NotebookError(f"{path}: not valid notebook JSON (line {e.lineno}: {e.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError(f"{path}: not a notebook (no cells list)")
    m = re.search(r"\n( +)\"", text)
    indent: int | None = len(m.group(1)) if m else None
    nb = Notebook(data=data, indent=indent, trailing_newline=text.endswith("\n"),
                  cells=[i for i, c in enumerate(data["cells"]) if c.get("cell_type") == "code"], magics=[])
    nb.source_cache = nb.source()
    return nb
