"""What every strategy shares: qualified-name lookups, and recording moved/left sites in the context.

Strategies are libcst `VisitorBasedCodemodCommand`s so each runs (and is tested) on its own; the pipeline
(`migrate.rewrite.engine`) chains them on one tree and runs the import fix-ups once at the end, so that line
numbers recorded by every strategy are those of the original file.
"""

from __future__ import annotations

from typing import Any

import libcst as cst
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import PositionProvider, QualifiedNameProvider, QualifiedNameSource

MOVED = "offramp.moved"
LEFT = "offramp.left"
OPTIONS = "offramp.options"
FINDINGS = "offramp.findings"  # line -> scan findings (dicts) on that line; absent when no scan ran


def dotted(node: cst.BaseExpression) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def build_chain(path: str, base: cst.BaseExpression | None = None) -> cst.BaseExpression:
    """Expression for `base.path` (or the dotted `path` alone)."""
    parts = path.split(".")
    node: cst.BaseExpression = base if base is not None else cst.Name(parts.pop(0))
    for p in parts:
        node = cst.Attribute(value=node, attr=cst.Name(p))
    return node


def adapter_client_call(is_async: bool) -> cst.Call:
    return cst.Call(func=build_chain("adapters.async_client" if is_async else "adapters.client"))


class Strategy(VisitorBasedCodemodCommand):
    """Base of the rewrite strategies; STRATEGY is the id the rules name."""

    STRATEGY = ""
    CATEGORY = ""
    METADATA_DEPENDENCIES = (QualifiedNameProvider, PositionProvider)

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context)
        self.context.scratch.setdefault(MOVED, [])
        self.context.scratch.setdefault(LEFT, [])

    # -- name resolution -------------------------------------------------------------------------------
    def qnames(self, node: cst.CSTNode) -> set[str]:
        """Qualified names an expression resolves to through imports (aliases included); locals excluded."""
        try:
            found = self.get_metadata(QualifiedNameProvider, node, set())
        except KeyError:
            return set()
        return {q.name for q in found if q.source == QualifiedNameSource.IMPORT}

    def qname(self, node: cst.CSTNode, prefix: str = "openai.") -> str | None:
        for q in sorted(self.qnames(node)):
            if q.startswith(prefix):
                return q
        return None

    def option(self, key: str, default: Any = None) -> Any:
        return self.context.scratch.get(OPTIONS, {}).get(key, default)

    # -- the scan decides which sites are rewritten, and how -----------------------------------------------
    def scan_strategy(self, node: cst.CSTNode, api: str) -> tuple[str | None, dict[str, Any] | None]:
        """The rewrite strategy the scan's rule names for this site: ("", None) when no scan ran (the
        strategy's own resolution decides), (None, None) when the scan found nothing here (left alone)."""
        by_line = self.context.scratch.get(FINDINGS)
        if by_line is None:
            return "", None
        line, col = self._pos(node)
        here = by_line.get(line, [])
        short = api.split(".")[-1]
        for f in here:
            if f["column"] == col:
                return f["rewrite"], f
        for f in here:
            if f["api"] == api or f["api"].split(".")[-1] == short:
                return f["rewrite"], f
        return None, None

    # -- bookkeeping -----------------------------------------------------------------------------------
    def _pos(self, node: cst.CSTNode) -> tuple[int, int]:
        try:
            pos = self.get_metadata(PositionProvider, node)
        except KeyError:
            return (1, 0)
        return (pos.start.line, pos.start.column)

    def moved(self, node: cst.CSTNode, api: str) -> None:
        line, col = self._pos(node)
        self.context.scratch[MOVED].append(
            {"line": line, "column": col, "api": api, "strategy": self.STRATEGY, "category": self.CATEGORY}
        )

    def left(self, node: cst.CSTNode, api: str, reason: str, strategy: str | None = None) -> None:
        line, col = self._pos(node)
        entry = {"line": line, "column": col, "api": api, "strategy": strategy or self.STRATEGY,
                 "category": self.CATEGORY, "reason": reason}
        if entry not in self.context.scratch[LEFT]:
            self.context.scratch[LEFT].append(entry)

    def need_adapters(self) -> None:
        AddImportsVisitor.add_needed_import(self.context, "offramp", "adapters")

    def drop_import_if_unused(self, module: str, obj: str | None = None, asname: str | None = None) -> None:
        RemoveImportsVisitor.remove_unused_import(self.context, module, obj, asname)
