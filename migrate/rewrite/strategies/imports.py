"""Import bookkeeping shared by strategies: which import bound a name a strategy stopped using."""

from __future__ import annotations

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
