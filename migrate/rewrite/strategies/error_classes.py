"""`v0-exception`: 0.x exception classes (`openai.error.X`) become the right 1.x classes on `openai`
(openai-api-patterns.md §7.5). `openai.error.Timeout` becomes `openai.APITimeoutError` — never `openai.Timeout`,
which in 1.x is httpx's timeout configuration class. `openai.error` imports are fixed; names imported from
`openai.error` are renamed at every use unless the new name is taken, in which case the import keeps the old
name as an alias. Classes with no 1.x equivalent are left and reported; when one import names both kinds, the
classes that move are imported from `openai` (AddImportsVisitor: merged into an existing `from openai import`)
and the rest stay on `openai.error` (every name the
rewrite introduces is imported). `import openai.error` becomes `import openai` — or goes, when the module already
has `import openai`. A 1.x class built with 0.x arguments (`raise RateLimitError("...")`) is renamed and reported:
1.x constructors need the HTTP response or request.
"""

from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.helpers import get_full_name_for_node
from libcst.metadata import PositionProvider, QualifiedNameProvider, ScopeProvider

from offramp.migrate.rewrite import renames
from offramp.migrate.rewrite.strategies.base import Strategy, build_chain
from offramp.migrate.rewrite.strategies.imports import drop_repeated_imports, drop_unused, request_dedupe

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
    (  # 0.x re-exported InvalidRequestError at the root; 1.x has no such name
        "import openai\nfrom openai import APIError, InvalidRequestError\ntry:\n    f()\nexcept (APIError, InvalidRequestError):\n"
        "    pass\nexcept openai.InvalidRequestError:\n    pass\n",
        "import openai\nfrom openai import APIError, BadRequestError\ntry:\n    f()\nexcept (APIError, BadRequestError):\n"
        "    pass\nexcept openai.BadRequestError:\n    pass\n",
    ),
    (  # no 1.x class: left and reported
        "import openai\ntry:\n    f()\nexcept openai.error.TryAgain:\n    pass\n",
        "import openai\ntry:\n    f()\nexcept openai.error.TryAgain:\n    pass\n",
    ),
    (  # one import, both kinds: the classes that move are imported from openai, TryAgain stays (reported)
        "from openai.error import Timeout, TryAgain  # retried\n"
        "try:\n    f()\nexcept (Timeout, TryAgain):\n    pass\n",
        "from openai.error import TryAgain  # retried\nfrom openai import APITimeoutError\n\n"
        "try:\n    f()\nexcept (APITimeoutError, TryAgain):\n    pass\n",
    ),
    (  # `import openai` is there already: `import openai.error` is not turned into a second one
        "import openai\nimport openai.error\ntry:\n    f()\nexcept openai.error.RateLimitError:\n    pass\n",
        "import openai\ntry:\n    f()\nexcept openai.RateLimitError:\n    pass\n",
    ),
]


def _table(stmt: cst.ImportFrom) -> dict[str, str | None] | None:
    """The 0.x names an import statement may bind: every class of `openai.error`, or the ones 0.x re-exported at
    the root that 1.x does not have (`from openai import InvalidRequestError`)."""
    if stmt.relative:
        return None
    module = get_full_name_for_node(stmt.module) if stmt.module else ""
    return {"openai.error": renames.EXCEPTIONS, "openai": renames.V0_ROOT_EXCEPTIONS}.get(module)


class ErrorClasses(Strategy):
    STRATEGY = "v0-exception"
    CATEGORY = "errors"
    DESCRIPTION = "openai.error.X (0.x) -> the matching 1.x exception class on openai"
    METADATA_DEPENDENCIES = (QualifiedNameProvider, PositionProvider, ScopeProvider)

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context)
        self.renames: dict[int, str] = {}  # id(Name node) -> new name
        self.uses: dict[int, tuple[str, str | None]] = {}  # id(Name) using an openai.error import -> (old, new)
        self.aliased: dict[str, str] = {}  # bound old name -> new class kept under the old name
        self.touched: set[str] = set()
        self.handlers: list[str | None] = []
        self.plain_openai = False  # the module scope has `import openai` (no alias)

    def visit_Module(self, node: cst.Module) -> None:
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None:
            return
        bound = {a.name for a in scope.assignments}
        self.plain_openai = any(
            isinstance(getattr(a, "node", None), cst.Import) and a.name == "openai"
            and any(get_full_name_for_node(x.name) == "openai" and x.asname is None for x in a.node.names)
            for a in scope.assignments)
        for imp in [s for s in scope.assignments if isinstance(getattr(s, "node", None), cst.ImportFrom)]:
            stmt = imp.node
            table = _table(stmt)
            if table is None or isinstance(stmt.names, cst.ImportStar):
                continue
            for alias in stmt.names:
                old = get_full_name_for_node(alias.name) or ""
                if (alias.evaluated_alias or old) != imp.name or old not in table:
                    continue
                new = renames.EXCEPTIONS[old]
                uses = [a.node for a in imp.references if isinstance(a.node, cst.Name)]
                for use in uses:  # every use is accounted for: moved with its import, or left with the reason
                    self.uses[id(use)] = (old, new)
                if alias.asname or not new or new == old:
                    continue
                if new in bound:
                    self.aliased[old] = new
                    continue
                for use in uses:
                    self.renames[id(use)] = new

    def transform_module(self, tree: cst.Module) -> cst.Module:
        """Run alone (tests, libcst's tool): the end-of-file import passes the engine runs after every step."""
        return drop_repeated_imports(super().transform_module(tree), self.context)

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        drop_unused(self.context, original_node, self.touched)
        return updated_node

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        use = self.uses.get(id(original_node))
        if use and use[1]:
            self.moved(original_node, f"openai.error.{use[0]}")
        elif use:
            self.left(original_node, f"openai.error.{use[0]}",
                      renames.EXCEPTION_NOTES.get(use[0], f"openai.error.{use[0]} has no 1.x class"))
        new = self.renames.get(id(original_node))
        return updated_node.with_changes(value=new) if new else updated_node

    def leave_ImportFrom(self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom) -> cst.ImportFrom:
        table = _table(original_node)
        if table is None:
            return updated_node
        if table is renames.V0_ROOT_EXCEPTIONS:  # `from openai import InvalidRequestError`: only those names change
            if isinstance(updated_node.names, cst.ImportStar):
                return updated_node
            names = []
            for alias in updated_node.names:
                old = get_full_name_for_node(alias.name) or ""
                if old in table:
                    asname = alias.asname or (cst.AsName(name=cst.Name(old)) if old in self.aliased else None)
                    alias = alias.with_changes(name=cst.Name(table[old]), asname=asname)
                    self.moved(original_node, f"openai.{old}")
                names.append(alias)
            return updated_node.with_changes(names=names)
        if isinstance(updated_node.names, cst.ImportStar):
            self.left(original_node, "openai.error.*", "star import from openai.error; import the 1.x classes by name")
            return updated_node
        names, kept = [], []
        for alias in updated_node.names:
            old = get_full_name_for_node(alias.name) or ""
            new = renames.EXCEPTIONS.get(old)
            if not new:
                self.left(original_node, f"openai.error.{old}",
                          renames.EXCEPTION_NOTES.get(old, f"openai.error.{old} has no 1.x class"))
                kept.append(alias)
                continue
            asname = alias.asname
            if old in self.aliased and not asname:
                asname = cst.AsName(name=cst.Name(old))
            names.append(alias.with_changes(name=cst.Name(new), asname=asname))
        if not names:
            return updated_node
        self.moved(original_node, "openai.error")
        if kept:  # the classes that move are added to `from openai import` (no line inserted here: later steps
            # record original line numbers); the names with no 1.x class stay where they were, reported
            for a in names:
                AddImportsVisitor.add_needed_import(self.context, "openai", a.name.value,
                                                    a.asname.name.value if a.asname else None)
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            return updated_node.with_changes(names=kept)
        return updated_node.with_changes(module=cst.Name("openai"), names=names)

    def leave_Import(self, original_node: cst.Import, updated_node: cst.Import
                     ) -> cst.Import | cst.RemovalSentinel:
        out = []
        changed = False
        for alias in updated_node.names:
            if get_full_name_for_node(alias.name) == "openai.error":
                changed = True
                if alias.asname is None:  # in place (no line goes while the pipeline runs); a repeat of an
                    out.append(alias.with_changes(name=cst.Name("openai")))  # `import openai` goes at the end
                    if self.plain_openai:
                        request_dedupe(self.context, "openai")
                    self.plain_openai = True
                else:  # every `alias.X` becomes `openai.Y`; AddImportsVisitor adds `import openai` only if missing
                    AddImportsVisitor.add_needed_import(self.context, "openai")
                continue
            out.append(alias)
        if not changed:
            return updated_node
        if not out:
            return cst.RemoveFromParent()  # `import openai.error as e` alone: AddImportsVisitor adds `import openai`
        out[-1] = out[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(names=out)

    # A 1.x status error needs response= (APITimeoutError request=): 0.x code built them from a message alone.
    def visit_Call(self, node: cst.Call) -> None:
        q = self.qname(node.func, "openai.error.")
        new = renames.EXCEPTIONS.get(q.rsplit(".", 1)[1]) if q and q.count(".") == 2 else None
        if new in renames.EXCEPTION_CONSTRUCTORS and not any(
                a.keyword and a.keyword.value in ("response", "request") for a in node.args):
            self.left(node, f"openai.{new}", renames.EXCEPTION_CONSTRUCTORS[new])

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
        if q and q.count(".") == 1 and q.split(".")[1] in renames.V0_ROOT_EXCEPTIONS:  # openai.InvalidRequestError
            q = f"openai.error.{q.split('.')[1]}"
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
