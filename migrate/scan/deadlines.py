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


class _FileModels:
    """Model ids used by the calls of one file: literal arguments and same-module constants."""

    def __init__(self, source: str) -> None:
        tree = ast.parse(source)
        self.constants: dict[str, tuple[str, str, int]] = {}
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                target, value = stmt.targets[0].id, stmt.value
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                target, value = stmt.target.id, stmt.value
            else:
                continue
            found = _value(value)
            if found:
                self.constants[target] = (found[0], found[1], stmt.lineno)
        self.calls: dict[int, list[ast.Call]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self.calls.setdefault(node.lineno, []).append(node)

    def at(self, line: int) -> list[tuple[str, str, int]]:
        """(model, context, line of the value) for the calls starting at `line`."""
        out = []
        for call in self.calls.get(line, []):
            for kw in call.keywords:
                if kw.arg not in MODEL_KWARGS:
                    continue
                literal = _value(kw.value)
                if literal and literal[1] == "constant":
                    out.append((literal[0], "call", kw.value.lineno))
                elif literal:
                    out.append((literal[0], literal[1], kw.value.lineno))
                elif isinstance(kw.value, ast.Name) and kw.value.id in self.constants:
                    out.append(self.constants[kw.value.id])
        return out


def fill_models_minimally(report: ScanReport, root: Path) -> None:
    """Fill `Finding.models` and `ScanReport.models` from literal model arguments and same-file constants."""
    base = root if root.is_dir() else root.parent
    files: dict[str, _FileModels | None] = {}
    refs: dict[tuple[str, str, int], ModelRef] = {}
    for f in report.findings:
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
            refs.setdefault((model, f.path, line), ModelRef(model=model, path=f.path, line=line, context=context))
    report.models = sorted(refs.values(), key=lambda r: (r.path, r.line, r.model))


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
                    lifecycle: Lifecycle | None = None) -> ScanReport:
    """Set `deadlines` on every finding and on the report (earliest first, one per model id or API)."""
    today = today or today_utc()
    lc = lifecycle or load_lifecycle()
    if not report.models and not any(f.models for f in report.findings):
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
