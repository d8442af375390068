"""`v0-exception`: 0.x exception classes (`openai.error.X`) become the right 1.x classes on `openai`
(openai-api-patterns.md §7.5). `openai.error.Timeout` becomes `openai.APITimeoutError` — never `openai.Timeout`,
which in 1.x is httpx's timeout configuration class. `openai.error` imports are fixed; names imported from
`openai.error` are renamed at every use unless the new name is taken, in which case the import keeps the old
name as an alias. Classes with no 1.x equivalent are left and reported.
"""

from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.helpers import get_full_name_for_node
from libcst.metadata import PositionProvider, QualifiedNameProvider, ScopeProvider

from offramp.migrate.rewrite import renames
from offramp.migrate.rewrite.strategies.base import Strategy, build_chain
from offramp.migrate.rewrite.strategies.imports import drop_unused

EXAMPLES: list[tuple[str, str]] = [
    (
        "import openai\ntry:\n    f()\nexcept openai.error.Timeout:\n    pass\n"
        "except (openai.error.InvalidRequestError, openai.error.ServiceUnavailableError) as e:\n    raise\n",
        "import openai\ntry:\n    f()\nexcept openai.APITimeoutError:\n    pass\n"
        "except (openai.BadRequestError, openai.InternalServerError) as e:\n    raise\n",
    ),
    (
        "from openai.error import RateLimitError, PermissionError as PE\n"
        "try:\n    f()\nexcept (RateLimitError, PE):\n    pass\n",
        "from openai import RateLimitError, PermissionDeniedError as PE\n"
        "try:\n    f()\nexcept (RateLimitError, PE):\n    pass\n",
    ),
    (
        "from openai.error import InvalidRequestError\ntry:\n    f()\nexcept InvalidRequestError:\n    pass\n",
        "from openai import BadRequestError\ntry:\n    f()\nexcept BadRequestError:\n    pass\n",
    ),
    (
        "import openai.error\ntry:\n    f()\nexcept openai.error.Timeout:\n    pass\n",
        "import openai\ntry:\n    f()\nexcept openai.APITimeoutError:\n    pass\n",
    ),
    (
        "from openai import error\ntry:\n    f()\nexcept error.RateLimitError:\n    pass\n",
        "import openai\n\ntry:\n    f()\nexcept openai.RateLimitError:\n    pass\n",
    ),
    (
        "import openai\ntry:\n    f()\nexcept openai.error.APIError as e:\n    log(e.http_status, e.json_body, e.user_message)\n",
        "import openai\ntry:\n    f()\nexcept openai.APIError as e:\n"
        "    log(getattr(e, \"status_code\", None), e.body, e.message)\n",
    ),
    (  # no 1.x class: left and reported
        "import openai\ntry:\n    f()\nexcept openai.error.TryAgain:\n    pass\n",
        "import openai\ntry:\n    f()\nexcept openai.error.TryAgain:\n    pass\n",
    ),
]


class ErrorClasses(Strategy):
    STRATEGY = "v0-exception"
    CATEGORY = "errors"
    DESCRIPTION = "openai.error.X (0.x) -> the matching 1.x exception class on openai"
    METADATA_DEPENDENCIES = (QualifiedNameProvider, PositionProvider, ScopeProvider)

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context)
        self.renames: dict[int, str] = {}  # id(Name node) -> new name
        self.aliased: dict[str, str] = {}  # bound old name -> new class kept under the old name
        self.touched: set[str] = set()
        self.handlers: list[str | None] = []

    def visit_Module(self, node: cst.Module) -> None:
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None:
            return
        bound = {a.name for a in scope.assignments}
        for imp in [s for s in scope.assignments if isinstance(getattr(s, "node", None), cst.ImportFrom)]:
            stmt = imp.node
            if (get_full_name_for_node(stmt.module) if stmt.module else "") != "openai.error":
                continue
            if isinstance(stmt.names, cst.ImportStar):
                continue
            for alias in stmt.names:
                old = get_full_name_for_node(alias.name) or ""
                new = renames.EXCEPTIONS.get(old)
                if alias.asname or not new or (alias.evaluated_alias or old) != imp.name or new == old:
                    continue
                if new in bound:
                    self.aliased[old] = new
                    continue
                for access in imp.references:
                    if isinstance(access.node, cst.Name):
                        self.renames[id(access.node)] = new

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        drop_unused(self.context, original_node, self.touched)
        return updated_node

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        new = self.renames.get(id(original_node))
        return updated_node.with_changes(value=new) if new else updated_node

    def leave_ImportFrom(self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom) -> cst.ImportFrom:
        if (get_full_name_for_node(original_node.module) if original_node.module else "") != "openai.error":
            return updated_node
        if isinstance(updated_node.names, cst.ImportStar):
            self.left(original_node, "openai.error.*", "star import from openai.error; import the 1.x classes by name")
            return updated_node
        names = []
        for alias in updated_node.names:
            old = get_full_name_for_node(alias.name) or ""
            new = renames.EXCEPTIONS.get(old)
            if not new:
                self.left(original_node, f"openai.error.{old}",
                          renames.EXCEPTION_NOTES.get(old, f"openai.error.{old} has no 1.x class"))
                return updated_node
            asname = alias.asname
            if old in self.aliased and not asname:
                asname = cst.AsName(name=cst.Name(old))
            names.append(alias.with_changes(name=cst.Name(new), asname=asname))
        self.moved(original_node, "openai.error")
        return updated_node.with_changes(module=cst.Name("openai"), names=names)

    def leave_Import(self, original_node: cst.Import, updated_node: cst.Import) -> cst.Import:
        out = []
        changed = False
        for alias in updated_node.names:
            if get_full_name_for_node(alias.name) == "openai.error":
                changed = True
                if alias.asname is None:
                    out.append(alias.with_changes(name=cst.Name("openai")))
                else:  # every `alias.X` is rewritten to `openai.Y` below
                    AddImportsVisitor.add_needed_import(self.context, "openai")
                continue
            out.append(alias)
        if not changed:
            return updated_node
        if not out:
            return cst.Import(names=[cst.ImportAlias(name=cst.Name("openai"))])
        out[-1] = out[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(names=out)

    # Inside `except openai.error.X as e:` the caught object becomes a 1.x exception: its attributes move too.
    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        name = node.name.name.value if node.name and isinstance(node.name.name, cst.Name) else None
        caught_v0 = node.type is not None and self._mentions_v0(node.type)
        self.handlers.append(name if caught_v0 else None)

    def leave_ExceptHandler(self, original_node: cst.ExceptHandler, updated_node: cst.ExceptHandler
                            ) -> cst.ExceptHandler:
        self.handlers.pop()
        return updated_node

    def _mentions_v0(self, expr: cst.BaseExpression) -> bool:
        found = []
        outer = self

        class _V(cst.CSTVisitor):
            def visit_Attribute(self, n: cst.Attribute) -> None:
                if (outer.qname(n) or "").startswith("openai.error."):
                    found.append(n)

            def visit_Name(self, n: cst.Name) -> None:
                if (outer.qname(n) or "").startswith("openai.error."):
                    found.append(n)

        expr.visit(_V())
        return bool(found)

    def _caught_attribute(self, node: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression | None:
        name = self.handlers[-1] if self.handlers else None
        if not name or not isinstance(node.value, cst.Name) or node.value.value != name:
            return None
        attr = node.attr.value
        if attr in renames.ERROR_ATTRIBUTES:
            self.moved(node, f"{name}.{attr}")
            new = renames.ERROR_ATTRIBUTES[attr]
            if new == "status_code":  # only status errors carry one; 0.x gave None for timeouts and network errors
                return cst.parse_expression(f'getattr({name}, "status_code", None)')
            return updated.with_changes(attr=cst.Name(new))
        if attr in renames.ERROR_ATTRIBUTES_LEFT:
            self.left(node, f"{name}.{attr}", renames.ERROR_ATTRIBUTES_LEFT[attr])
        return None

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> cst.BaseExpression:
        caught = self._caught_attribute(original_node, updated_node)
        if caught is not None:
            return caught
        q = self.qname(original_node)
        if not q or not q.startswith("openai.error.") or q.count(".") != 2:
            return updated_node
        old = q.rsplit(".", 1)[1]
        if old not in renames.EXCEPTIONS:
            return updated_node
        new = renames.EXCEPTIONS[old]
        if not new:
            self.left(original_node, q, renames.EXCEPTION_NOTES.get(old, f"{q} has no 1.x class"))
            return updated_node
        root = original_node
        while isinstance(root, cst.Attribute):
            root = root.value
        if isinstance(root, cst.Name) and root.value != "openai":
            AddImportsVisitor.add_needed_import(self.context, "openai")
            self.touched.add(root.value)
        self.moved(original_node, q)
        return build_chain(f"openai.{new}").with_changes(lpar=updated_node.lpar, rpar=updated_node.rpar)
