"""Import bookkeeping shared by strategies: which import bound a name a strategy stopped using."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import RemoveImportsVisitor
from libcst.helpers import get_full_name_for_node


def openai_imports(tree: cst.Module) -> list[tuple[str, str | None, str | None, str]]:
    """(module, obj, asname, bound name) for every import of openai or a submodule, anywhere in the file."""
    found: list[tuple[str, str | None, str | None, str]] = []

    class _V(cst.CSTVisitor):
        def visit_Import(self, node: cst.Import) -> None:
            for a in node.names:
                mod = get_full_name_for_node(a.name) or ""
                if mod == "openai" or mod.startswith("openai."):
                    asname = get_full_name_for_node(a.asname.name) if a.asname else None
                    found.append((mod, None, asname, asname or mod.split(".")[0]))

        def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
            if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
                return
            mod = get_full_name_for_node(node.module) or ""
            if not (mod == "openai" or mod.startswith("openai.")):
                return
            for a in node.names:
                obj = get_full_name_for_node(a.name) or ""
                asname = get_full_name_for_node(a.asname.name) if a.asname else None
                found.append((mod, obj, asname, asname or obj))

    tree.visit(_V())
    return found


def drop_unused(context: CodemodContext, tree: cst.Module, touched: set[str]) -> None:
    """Ask libcst to remove the openai imports binding `touched` names, if nothing else references them."""
    for mod, obj, asname, bound in openai_imports(tree):
        if bound in touched:
            RemoveImportsVisitor.remove_unused_import(context, mod, obj, asname)


# Context key: module names whose plain `import X` a strategy may have repeated in the module scope (`import
# openai.error` turned into `import openai` beside an `import openai`). Strategies never delete a line while the
# pipeline runs (every later step records original line numbers), so the repeats go in one pass at the end.
REPEATED = "offramp.repeated_imports"


def request_dedupe(context: CodemodContext, module: str) -> None:
    context.scratch.setdefault(REPEATED, set()).add(module)


def drop_repeated_imports(tree: cst.Module, context: CodemodContext) -> cst.Module:
    """Remove every plain `import X` (X requested) after the first of the module scope — there or in a function
    below it, where the module's import binds it already (pyflakes: redefinition of unused 'X') —: the alias, or
    the whole statement when it has no other name (its leading comments go to the next statement)."""
    modules = context.scratch.get(REPEATED)
    if not modules:
        return tree
    return tree.visit(_DropRepeated(set(modules)))


class _DropRepeated(cst.CSTTransformer):
    def __init__(self, modules: set[str]) -> None:
        self.modules = modules
        self.seen: set[str] = set()
        self.depth = 0  # inside a def/class/lambda: an import there does not bind the module scope
        self.empty: set[int] = set()  # id() of `import` statements left without a name
        self.gone: set[int] = set()  # id() of statement lines made only of those

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.depth += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        self.depth -= 1
        return updated_node

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.depth += 1

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        self.depth -= 1
        return updated_node

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.depth += 1

    def leave_Lambda(self, original_node: cst.Lambda, updated_node: cst.Lambda) -> cst.Lambda:
        self.depth -= 1
        return updated_node

    def leave_Import(self, original_node: cst.Import, updated_node: cst.Import) -> cst.Import:
        keep = []
        for a in updated_node.names:
            name = get_full_name_for_node(a.name) or ""
            if a.asname is None and name in self.modules:
                if name in self.seen:  # in a function too: the module's import already binds it there
                    continue
                if not self.depth:
                    self.seen.add(name)
            keep.append(a)
        if len(keep) == len(updated_node.names):
            return updated_node
        if not keep:
            self.empty.add(id(updated_node))
            return updated_node
        keep[-1] = keep[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(names=keep)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine,
                                  updated_node: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
        if all(id(small) in self.empty for small in updated_node.body):  # every import of the line goes: dropped
            self.gone.add(id(updated_node))  # by the block holding it, where its comments can move to the next line
        return updated_node

    def _drop(self, body: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
        out: list[cst.BaseStatement] = []
        carry: list[cst.EmptyLine] = []
        for stmt in body:
            if id(stmt) in self.gone:
                carry += stmt.leading_lines
                continue
            if carry:
                stmt = stmt.with_changes(leading_lines=[*carry, *stmt.leading_lines])
                carry = []
            out.append(stmt)
        return out

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
                            ) -> cst.IndentedBlock:
        body = self._drop(updated_node.body)
        return updated_node.with_changes(body=body or [cst.SimpleStatementLine(body=[cst.Pass()])])

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        return updated_node.with_changes(body=self._drop(updated_node.body))
