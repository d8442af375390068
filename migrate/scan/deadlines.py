"""Forced migrations: the shutdown dates (rules/lifecycle/) of the model ids and APIs a scanned project uses.

`apply_deadlines(report, root)` runs where the report is assembled (summary.build_report), so it works with
whatever engine filled the findings: it reads `Finding.models` / `ScanReport.models` and each finding's `api`.

Until the scan engine resolves model ids through its data flow, an empty `models` is filled here minimally: a
literal `model=` (or `engine=`, `deployment_id=`, ...) argument of the call a finding points at, or a module-level
constant / `os.environ.get("X", "default")` it names — of the same file, or of a project module it imports
(`from app.config import MODEL`, `model=config.MODEL` after `import config` / `from app import config`, followed
through re-exports); the ref then names the line of the constant in that module. Ids held in attributes of
objects or in parameters are left to the engine.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
import textwrap
from pathlib import Path

from offramp.migrate.lifecycle import Lifecycle, load_lifecycle
from offramp.migrate.report_model import Deadline, Finding, ModelRef, ScanReport

MODEL_KWARGS = ("model", "engine", "deployment_id", "model_name", "azure_deployment")
_ENV_GETTERS = {"os.environ.get", "os.getenv", "environ.get", "getenv"}


def today_utc() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def _value(node: ast.AST) -> tuple[str, str] | None:
    """(model id, context) of a literal or an env default: os.environ.get("X", "gpt-4o")."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
        return node.value, "constant"
    if isinstance(node, ast.Call) and _dotted(node.func) in _ENV_GETTERS and len(node.args) >= 2:
        default = node.args[1]
        if isinstance(default, ast.Constant) and isinstance(default.value, str) and default.value:
            return default.value, "env-default"
    return None


_ASSIGN = re.compile(r"^([A-Za-z_]\w*)\s*(?::[^=\n]*)?=(?!=)\s*(.+?)\s*(?:#.*)?$", re.M)


def _statement(lines: list[str], start: int, limit: int = 60) -> str:
    """The source from line `start` (0-based) to where its brackets close: the call a finding points at, without
    parsing the whole file (strings are skipped; an unbalanced closing bracket ends it)."""
    depth, quote, out = 0, "", []
    for line in lines[start:start + limit]:
        out.append(line)
        i = 0
        while i < len(line):
            ch = line[i]
            if quote:
                if line.startswith(quote, i):
                    i += len(quote) - 1
                    quote = ""
                elif ch == "\\":
                    i += 1
            elif ch == "#":
                break
            elif ch in "\"'":
                quote = line[i:i + 3] if line[i:i + 3] in ('"""', "'''") else ch
                i += len(quote) - 1
            elif ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
                if depth < 0:
                    out[-1] = line[:i]
                    return "\n".join(out)
            i += 1
        if len(quote) == 1:  # a one-quote string ends with its line
            quote = ""
        if depth <= 0 and not quote:
            break
    return "\n".join(out)


def _parse_chunk(text: str) -> ast.AST | None:
    text = textwrap.dedent(text).strip().rstrip(",")
    for candidate in (text, f"({text})"):
        try:
            return ast.parse(candidate)
        except (SyntaxError, ValueError, RecursionError):
            continue
    return None


_IMPORT = re.compile(r"^(?:from[ \t]+(\.*[\w.]*)[ \t]+import\b|import[ \t]+\w)", re.M)


class _FileModels:
    """Model ids used by the calls of one file: literal arguments and constants, of this module or of the project
    modules it imports. Only the statements findings point at, the top-level assignments and the import lines are
    parsed (a cached re-scan stays cheap)."""

    def __init__(self, source: str, path: str = "", project: _Project | None = None) -> None:
        self.lines = source.splitlines()
        self.path = path
        self.project = project
        self.constants: dict[str, tuple[str, str, int]] = {}
        for m in _ASSIGN.finditer(source):
            tree = _parse_chunk(m.group(2))
            value = tree.body[0].value if tree and tree.body and isinstance(tree.body[0], ast.Expr) else None
            found = _value(value) if value is not None else None
            if found:
                self.constants[m.group(1)] = (found[0], found[1], source.count("\n", 0, m.start()) + 1)
        # local name -> (module, name in it): `from m import X as Y` -> ("m", "X"); `import m.n as a` -> ("m.n", None)
        self.imports: dict[str, tuple[str, str | None]] = {}
        if project is None:
            return
        for m in _IMPORT.finditer(source):
            if m.start() and source[m.start() - 1] != "\n":
                continue
            tree = _parse_chunk(_statement(self.lines, source.count("\n", 0, m.start())))
            stmt = tree.body[0] if tree is not None and tree.body else None
            if isinstance(stmt, ast.ImportFrom):
                module = project.absolute(path, stmt.module or "", stmt.level)
                for a in stmt.names:
                    if module is not None and a.name != "*":
                        self.imports[a.asname or a.name] = (module, a.name)
            elif isinstance(stmt, ast.Import):
                for a in stmt.names:  # `import a.b` binds `a`; `a.b.X` is then the module a.b's X
                    self.imports[a.asname or a.name.split(".")[0]] = (a.name if a.asname else a.name.split(".")[0], None)

    def _named(self, node: ast.AST, depth: int = 0) -> tuple[str, str, int, str] | None:
        """(model, context, line, path) of a constant named by `node`: NAME here or imported, or module.NAME."""
        if isinstance(node, ast.Name):
            if node.id in self.constants:
                return (*self.constants[node.id], self.path)
            module, name = self.imports.get(node.id, (None, None))
            return self._resolve(module, name, depth) if module and name else None
        dotted = _dotted(node)
        if "." not in dotted or self.project is None:
            return None
        prefix, name = dotted.rsplit(".", 1)
        head, _, rest = prefix.partition(".")
        if head not in self.imports:
            return None
        module, obj = self.imports[head]
        module = ".".join(p for p in (module, obj, rest) if p)  # `from app import config` binds a module too
        return self._resolve(module, name, depth)

    def _resolve(self, module: str | None, name: str | None, depth: int) -> tuple[str, str, int, str] | None:
        if self.project is None or module is None or name is None or depth > 3:
            return None
        target = self.project.module(module)
        if target is None:
            return None
        if name in target.constants:
            return (*target.constants[name], target.path)
        if name in target.imports:  # a re-export: `from .base import MODEL` in the module imported
            return target._named(ast.Name(id=name), depth + 1)
        return None

    def at(self, line: int) -> list[tuple[str, str, int, str]]:
        """(model, context, line of the value, file of the value) for the calls starting at `line`."""
        if not 0 < line <= len(self.lines):
            return []
        tree = _parse_chunk(_statement(self.lines, line - 1))
        if tree is None:
            return []
        out = []
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call) or call.lineno != 1:
                continue
            for kw in call.keywords:
                if kw.arg not in MODEL_KWARGS:
                    continue
                where = line + kw.value.lineno - 1
                literal = _value(kw.value)
                if literal:
                    out.append((literal[0], "call" if literal[1] == "constant" else literal[1], where, self.path))
                elif (named := self._named(kw.value)) is not None:
                    out.append(named)
        return out


class _Project:
    """The project's modules by dotted name, read on demand (only those a finding's file imports a model from)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.files: dict[str, _FileModels | None] = {}

    def read(self, rel: str) -> _FileModels | None:
        if rel not in self.files:
            try:
                self.files[rel] = _FileModels((self.base / rel).read_text(encoding="utf-8"), rel, self)
            except (OSError, SyntaxError, UnicodeDecodeError, ValueError, RecursionError):
                self.files[rel] = None
        return self.files[rel]

    def absolute(self, importer: str, module: str, level: int) -> str | None:
        """The dotted module a `from <module> import` of file `importer` names (relative imports resolved)."""
        if not level:
            return module
        parts = importer.split("/")[:-1]
        if level - 1 > len(parts):
            return None
        parts = parts[:len(parts) - (level - 1)]
        return ".".join([*parts, *([module] if module else [])])

    def module(self, dotted: str) -> _FileModels | None:
        """The file of a project module: from the root, or from `src/` (a src layout)."""
        path = dotted.replace(".", "/")
        for rel in (f"{path}.py", f"{path}/__init__.py", f"src/{path}.py", f"src/{path}/__init__.py"):
            if (self.base / rel).is_file():
                return self.read(rel)
        return None


def minimal_models(findings: list[Finding], root: Path) -> list[list[ModelRef]]:
    """Fill each finding's `models` from literal model arguments and same-file constants; the model refs each
    finding gave (the scan engine stores them with its cached answer, so a re-scan reads no file for them)."""
    base = root if root.is_dir() else root.parent
    project = _Project(base)
    out: list[list[ModelRef]] = []
    for f in findings:
        refs: list[ModelRef] = []
        out.append(refs)
        if f.cell is not None or not f.path.endswith(".py"):
            continue
        fm = project.read(f.path)
        if fm is None:
            continue
        for model, context, line, path in fm.at(f.line):
            if model not in f.models:
                f.models.append(model)
            refs.append(ModelRef(model=model, path=path, line=line, context=context))
    return out


def merge_models(per_finding: list[list[ModelRef]]) -> list[ModelRef]:
    """`ScanReport.models`: one ref per (model, path, line), the first finding's, in file order."""
    refs: dict[tuple[str, str, int], ModelRef] = {}
    for got in per_finding:
        for r in got:
            refs.setdefault((r.model, r.path, r.line), r)
    return sorted(refs.values(), key=lambda r: (r.path, r.line, r.model))


def fill_models_minimally(report: ScanReport, root: Path) -> None:
    """Fill `Finding.models` and `ScanReport.models` from literal model arguments and same-file constants."""
    report.models = merge_models(minimal_models(report.findings, root))


def _deadline(kind: str, ident: str, row, today: dt.date) -> Deadline:
    return Deadline(kind=kind, id=ident, shutdown=row.shutdown.isoformat(), replacement=row.replacement,
                    source=row.source, days_left=row.days_left(today))


def _finding_deadlines(f: Finding, lc: Lifecycle, today: dt.date) -> list[Deadline]:
    out = []
    row = lc.api(f.api)
    if row is not None and row.shutdown is not None:
        out.append(_deadline("api", row.id, row, today))
    for model in f.models:
        mrow = lc.model(model)
        if mrow is not None and mrow.shutdown is not None:
            out.append(_deadline("model", model, mrow, today))
    return out


def apply_deadlines(report: ScanReport, root: Path | str, *, today: dt.date | None = None,
                    lifecycle: Lifecycle | None = None, models_filled: bool = False) -> ScanReport:
    """Set `deadlines` on every finding and on the report (earliest first, one per model id or API).
    `models_filled`: the caller already filled the models (see `minimal_models`), even if it found none."""
    today = today or today_utc()
    lc = lifecycle or load_lifecycle()
    if not models_filled and not report.models and not any(f.models for f in report.findings):
        fill_models_minimally(report, Path(root))
    every: dict[tuple[str, str], Deadline] = {}
    for f in report.findings:
        f.deadlines = sorted(_finding_deadlines(f, lc, today), key=lambda d: (d.shutdown, d.kind, d.id))
        for d in f.deadlines:
            every.setdefault((d.kind, d.id), d)
    for ref in report.models:  # constants and env defaults the engine found outside any call
        row = lc.model(ref.model)
        if row is not None and row.shutdown is not None:
            every.setdefault(("model", ref.model), _deadline("model", ref.model, row, today))
    report.deadlines = sorted(every.values(), key=lambda d: (d.shutdown, d.kind, d.id))
    return report


def within(report: ScanReport, days: int) -> list[Deadline]:
    """Deadlines at most `days` away (already past ones included): what `--fail-on-deadline DAYS` fails on."""
    return [d for d in report.deadlines if d.days_left is not None and d.days_left <= days]
