"""`offramp-import`: code rewritten by Offramp before 0.2 imports the adapter as a top-level `adapters` module;
it is now `offramp.adapters`, so `import adapters` becomes `from offramp import adapters` and `from adapters
import OpenAI` becomes `from offramp.adapters import OpenAI`.

Only imports that are Offramp's are upgraded: `from adapters import X` where every X is a name Offramp exports,
and `import adapters` where the module is used only through those names. An application with its own
`adapters` package (the engine passes `own_adapters`) keeps its imports untouched, reported.
"""

from __future__ import annotations

import pkgutil
import re

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.helpers import get_full_name_for_node
from libcst.metadata import PositionProvider

from offramp import adapters as _adapters
from offramp.migrate.rewrite.strategies.base import Strategy

# What the adapter exports, and its submodules (`from adapters.cost import ...`): the same names as before 0.2.
OFFRAMP_NAMES = frozenset(_adapters.__all__)
OFFRAMP_SUBMODULES = frozenset(m.name for m in pkgutil.iter_modules(_adapters.__path__))
OLD_IMPORT = re.compile(r"^[ \t]*(?:import[ \t]+adapters\b|from[ \t]+adapters(?:\.\w+)*[ \t]+import\b)", re.M)
OWN_ADAPTERS = "offramp.own_adapters"  # context key: the project has its own `adapters` package

EXAMPLES: list[tuple[str, str]] = [
    (
        "import adapters\n\nr = adapters.client().chat.completions.create(model='m', messages=[])\n",
        "from offramp import adapters\n\nr = adapters.client().chat.completions.create(model='m', messages=[])\n",
    ),
    (
        "from adapters import AsyncOpenAI, OpenAI\nfrom adapters.cost import cost_of\n\nc = OpenAI()\n",
        "from offramp.adapters import AsyncOpenAI, OpenAI\nfrom offramp.adapters.cost import cost_of\n\nc = OpenAI()\n",
    ),
    (  # not Offramp's: an app's own adapters module with its own names
        "import adapters\nfrom adapters import PostgresAdapter\n\nadapters.register(PostgresAdapter)\n",
        "import adapters\nfrom adapters import PostgresAdapter\n\nadapters.register(PostgresAdapter)\n",
    ),
]


class _Uses(cst.CSTVisitor):
    """Attributes read off the bare name `adapters` (`adapters.client()` -> "client")."""

    def __init__(self) -> None:
        self.attrs: set[str] = set()
        self.bare = False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if isinstance(node.value, cst.Name) and node.value.value == "adapters":
            self.attrs.add(node.attr.value)
            return False
        return True

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "adapters":
            self.bare = True


class OfframpImports(Strategy):
    STRATEGY = "offramp-import"
    CATEGORY = "client"
    DESCRIPTION = "Offramp's pre-0.2 `adapters` imports -> `offramp.adapters`"
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context)
        self.own = bool(context.scratch.get(OWN_ADAPTERS))
        self.module_is_offramp = False

    def visit_Module(self, node: cst.Module) -> None:
        uses = _Uses()
        for stmt in node.body:  # the import statements themselves mention `adapters` only as a Name in ImportAlias
            if not (isinstance(stmt, cst.SimpleStatementLine)
                    and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body)):
                stmt.visit(uses)
        self.foreign = sorted(uses.attrs - OFFRAMP_NAMES - OFFRAMP_SUBMODULES)
        self.module_is_offramp = bool(uses.attrs) and not self.foreign

    def _refuse(self, node: cst.CSTNode, why: str) -> None:
        self.left(node, "adapters", f"import of `adapters` left as it is: {why}")

    def leave_Import(self, original_node: cst.Import, updated_node: cst.Import) -> cst.BaseSmallStatement:
        names = [get_full_name_for_node(a.name) or "" for a in updated_node.names]
        if "adapters" not in names or any(a.asname for a in updated_node.names if
                                          get_full_name_for_node(a.name) == "adapters"):
            return updated_node
        if self.own:
            self._refuse(original_node, "this project has its own `adapters` package")
            return updated_node
        if not self.module_is_offramp:
            if self.foreign:
                self._refuse(original_node, f"not Offramp's (it uses adapters.{self.foreign[0]})")
            return updated_node
        if len(names) != 1:
            self._refuse(original_node, "it shares the statement with other imports; write "
                                        "`from offramp import adapters`")
            return updated_node
        self.moved(original_node, "adapters")
        return cst.ImportFrom(module=cst.Name("offramp"), names=[cst.ImportAlias(name=cst.Name("adapters"))])

    def leave_ImportFrom(self, original_node: cst.ImportFrom,
                         updated_node: cst.ImportFrom) -> cst.BaseSmallStatement:
        if updated_node.relative or updated_node.module is None:
            return updated_node
        mod = get_full_name_for_node(updated_node.module) or ""
        if mod != "adapters" and not mod.startswith("adapters."):
            return updated_node
        sub = mod.split(".")[1] if "." in mod else None
        if isinstance(updated_node.names, cst.ImportStar):
            ours = sub in OFFRAMP_SUBMODULES if sub else False
        else:
            imported = {get_full_name_for_node(a.name) or "" for a in updated_node.names}
            ours = (sub in OFFRAMP_SUBMODULES) if sub else imported <= OFFRAMP_NAMES | OFFRAMP_SUBMODULES
        if not ours:
            self._refuse(original_node, f"not Offramp's (`from {mod} import ...` names what Offramp does not export)")
            return updated_node
        if self.own:
            self._refuse(original_node, "this project has its own `adapters` package")
            return updated_node
        self.moved(original_node, mod)
        return updated_node.with_changes(module=cst.parse_expression(f"offramp.{mod}"))
