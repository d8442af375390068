"""Forced migrations: the shutdown dates (rules/lifecycle/) of the model ids and APIs a scanned project uses.

`apply_deadlines(report, root)` runs where the report is assembled (summary.build_report), so it works with
whatever engine filled the findings: it reads `Finding.models` / `ScanReport.models` and each finding's `api`.

Until the scan engine resolves model ids through its data flow, an empty `models` is filled here minimally: a
literal `model=` (or `engine=`, `deployment_id=`, ...) argument of the call a finding points at, or a module-level
constant / `os.environ.get("X", "default")` of the same file it names. Ids held in other modules, attributes or
parameters are left to the engine.
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


class _FileModels:
    """Model ids used by the calls of one file: literal arguments and same-module constants. Only the statements
    findings point at and the top-level assignments are parsed (a cached re-scan stays cheap)."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines()
        self.constants: dict[str, tuple[str, str, int]] = {}
        for m in _ASSIGN.finditer(source):
            tree = _parse_chunk(m.group(2))
            value = tree.body[0].value if tree and tree.body and isinstance(tree.body[0], ast.Expr) else None
            found = _value(value) if value is not None else None
            if found:
                self.constants[m.group(1)] = (found[0], found[1], source.count("\n", 0, m.start()) + 1)

    def at(self, line: int) -> list[tuple[str, str, int]]:
        """(model, context, line of the value) for the calls starting at `line`."""
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
                    out.append((literal[0], "call" if literal[1] == "constant" else literal[1], where))
                elif isinstance(kw.value, ast.Name) and kw.value.id in self.constants:
                    out.append(self.constants[kw.value.id])
        return out


def minimal_models(findings: list[Finding], root: Path) -> list[list[ModelRef]]:
    """Fill each finding's `models` from literal model arguments and same-file constants; the model refs each
    finding gave (the scan engine stores them with its cached answer, so a re-scan reads no file for them)."""
    base = root if root.is_dir() else root.parent
    files: dict[str, _FileModels | None] = {}
    out: list[list[ModelRef]] = []
    for f in findings:
        refs: list[ModelRef] = []
        out.append(refs)
        if f.cell is not None or not f.path.endswith(".py"):
            continue
        if f.path not in files:
            try:
                files[f.path] = _FileModels((base / f.path).read_text(encoding="utf-8"))
            except (OSError, SyntaxError, UnicodeDecodeError, ValueError, RecursionError):
                files[f.path] = None
        fm = files[f.path]
        if fm is None:
            continue
        for model, context, line in fm.at(f.line):
            if model not in f.models:
                f.models.append(model)
            refs.append(ModelRef(model=model, path=f.path, line=line, context=context))
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
