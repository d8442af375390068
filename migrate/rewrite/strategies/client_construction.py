"""`client-constructor`: `OpenAI(...)`, `AsyncOpenAI`, `AzureOpenAI`, `AsyncAzureOpenAI` (also `openai.Client`,
aliases and `openai.OpenAI`) become the adapter's drop-in classes with the same arguments; call sites on the
client keep their shape. `from openai import OpenAI` becomes `from offramp.adapters import OpenAI` when every
construction through that name moves. A client also used for platform APIs that stay on OpenAI (assistants,
batches, realtime, vector stores, ...) keeps its openai constructor and is reported.
"""

from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.helpers import get_full_name_for_node

from offramp.migrate.rewrite import renames
from offramp.migrate.rewrite.strategies.base import FINDINGS, Strategy, build_chain, dotted
from offramp.migrate.rewrite.strategies.imports import drop_unused
from offramp.migrate.rewrite.strategies.module_client_calls import REPORTING

EXAMPLES: list[tuple[str, str]] = [
    (
        "from openai import OpenAI, RateLimitError\nclient = OpenAI(api_key=k, timeout=20)\n",
        "from openai import RateLimitError\nfrom offramp.adapters import OpenAI\n\nclient = OpenAI(api_key=k, timeout=20)\n",
    ),
    (
        "import openai\nclient = openai.AsyncOpenAI(base_url=u)\n",
        "from offramp import adapters\n\nclient = adapters.AsyncOpenAI(base_url=u)\n",
    ),
    (
        "import openai as oa\nclient = oa.Client()\naz = oa.AzureOpenAI(azure_endpoint=e, api_version=v)\n",
        "from offramp import adapters\n\nclient = adapters.OpenAI()\naz = adapters.AzureOpenAI(azure_endpoint=e, api_version=v)\n",
    ),
    (
        "from openai import AsyncAzureOpenAI as Az\nc = Az(azure_deployment='d')\n",
        "from offramp.adapters import AsyncAzureOpenAI as Az\nc = Az(azure_deployment='d')\n",
    ),
    (  # used for the Assistants API: stays on OpenAI, reported
        "from openai import OpenAI\nc = OpenAI()\nc.beta.assistants.create(model='gpt-4o')\n",
        "from openai import OpenAI\nc = OpenAI()\nc.beta.assistants.create(model='gpt-4o')\n",
    ),
]

_CLASSES = {f"openai.{k}": v for k, v in renames.CLIENT_CLASSES.items()}


def _binding(parent: cst.CSTNode | None) -> str | None:
    """The name (`client`, `self.client`) a constructed client is stored under."""
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
        return dotted(parent.targets[0].target)
    if isinstance(parent, (cst.AnnAssign, cst.WithItem)):
        target = parent.target if isinstance(parent, cst.AnnAssign) else (
            parent.asname.name if parent.asname else None)
        return dotted(target) if target is not None else None
    return None


class ClientConstruction(Strategy):
    STRATEGY = "client-constructor"
    CATEGORY = "client"
    DESCRIPTION = "openai client classes -> the adapter's drop-in classes"

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context)
        self.bindings: dict[int, str | None] = {}  # id(constructor Call) -> binding
        self.platform: dict[str, str] = {}  # binding -> platform resource it is used for
        self.kept_names: set[str] = set()  # from-imported class names with a construction that stays
        self.moved_names: set[str] = set()
        self.touched: set[str] = set()

    # A first pass finds each constructor's binding and the platform uses of every binding.
    def visit_Module(self, node: cst.Module) -> None:
        outer = self

        class _Find(cst.CSTVisitor):
            def __init__(self) -> None:
                self.stack: list[cst.CSTNode] = []

            def on_visit(self, n: cst.CSTNode) -> bool:
                if isinstance(n, cst.Call) and outer._class_of(n):
                    parent = self.stack[-1] if self.stack else None
                    outer.bindings[id(n)] = _binding(parent)
                elif isinstance(n, cst.Call):
                    d = dotted(n.func)
                    if d and "." in d:
                        calls.append((d, n))
                if isinstance(n, cst.Attribute):
                    d = dotted(n)
                    if d:
                        parts = d.split(".")
                        for i in range(1, len(parts)):
                            if parts[i] in renames.PLATFORM_RESOURCES:
                                outer.platform.setdefault(".".join(parts[:i]), parts[i])
                self.stack.append(n)
                return True

            def on_leave(self, original_node: cst.CSTNode) -> None:
                self.stack.pop()

        calls: list[tuple[str, cst.Call]] = []
        node.visit(_Find())
        self._scan_platform(calls)
        self._staying = {cid for cid, b in self.bindings.items() if b is not None and b in self.platform}

    def _scan_platform(self, calls: list[tuple[str, cst.Call]]) -> None:
        """A client whose every scanned call stays on OpenAI (files, fine-tuning, ...) keeps its constructor."""
        if self.context.scratch.get(FINDINGS) is None:
            return
        verdicts: dict[str, set[bool]] = {}
        for binding in {b for b in self.bindings.values() if b}:
            for d, call in calls:
                if d.startswith(binding + "."):
                    strategy, finding = self.scan_strategy(call, d[len(binding) + 1:])
                    if strategy:
                        verdicts.setdefault(binding, set()).add(strategy in REPORTING)
                        if strategy in REPORTING:
                            self.platform.setdefault(binding, d[len(binding) + 1:].split(".")[0])
        for binding, kinds in verdicts.items():
            if False in kinds:  # it also makes calls that move: the adapter client passes the others through
                self.platform.pop(binding, None)
        # A client handed straight to a function (`train(OpenAI())`): judged by every client call in the file.
        file_kinds: set[bool] = set()
        first = ""
        for d, call in calls:
            strategy, finding = self.scan_strategy(call, d.split(".", 1)[1])
            if finding and strategy and not finding["api"].startswith("openai.") \
                    and finding["api"] not in renames.CLIENT_CLASSES:
                file_kinds.add(strategy in REPORTING)
                first = first or finding["api"].split(".")[0]
        if file_kinds == {True}:
            for cid, b in self.bindings.items():
                if b is None or b not in verdicts:
                    key = b or f"<call {cid}>"
                    self.bindings[cid] = key
                    self.platform[key] = first

    def _class_of(self, call: cst.Call) -> str | None:
        for q in self.qnames(call.func):
            if q in _CLASSES:
                return _CLASSES[q]
        return None

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        cls = self._class_of(original_node)
        if not cls:
            return updated_node
        func = original_node.func
        strategy, finding = self.scan_strategy(original_node, cls)
        if strategy is None or (strategy and strategy != self.STRATEGY):
            if strategy:
                self.left(original_node, f"openai.{cls}", (finding or {}).get("reason", "") or
                          f"the scan's rule {(finding or {}).get('rule')} does not move it", strategy=strategy)
            if isinstance(func, cst.Name):
                self.kept_names.add(func.value)
            return updated_node
        if id(original_node) in self._staying:
            binding = self.bindings[id(original_node)]
            resource = self.platform[binding or ""]
            why = renames.PLATFORM_RESOURCES.get(resource, f"{resource} stays on OpenAI")
            binding = binding if binding and not binding.startswith("<call") else "here"
            self.left(original_node, f"openai.{cls}", f"client {binding} is used only for APIs that stay on "
                      f"OpenAI ({resource}): {why}", strategy="keep-on-openai")
            if isinstance(func, cst.Name):
                self.kept_names.add(func.value)
            return updated_node
        self.moved(original_node, f"openai.{cls}")
        if isinstance(func, cst.Name):
            self.moved_names.add(func.value)
            return updated_node  # the import moves to adapters (leave_Module)
        root = get_full_name_for_node(func) or ""
        self.touched.add(root.split(".")[0])
        self.need_adapters()
        return updated_node.with_changes(func=build_chain(f"adapters.{cls}"))

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        swap = self.moved_names - self.kept_names
        if swap:
            updated_node = updated_node.visit(_SwapImports(self, swap))
        for name in self.moved_names & self.kept_names:  # mixed: the moving ones need an explicit path
            self.left(original_node, name, "the same imported class builds a client that stays on OpenAI; "
                      "construct the moving ones with adapters." + name, strategy="keep-on-openai")
        drop_unused(self.context, original_node, self.touched)
        return updated_node


class _SwapImports(cst.CSTTransformer):
    """`from openai import OpenAI[ as X]` -> `from offramp.adapters import OpenAI[ as X]` for the swapped names."""

    def __init__(self, owner: ClientConstruction, names: set[str]) -> None:
        self.owner = owner
        self.names = names

    def leave_ImportFrom(self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom) -> cst.BaseSmallStatement:
        mod = get_full_name_for_node(updated_node.module) if updated_node.module else ""
        if mod != "openai" or isinstance(updated_node.names, cst.ImportStar):
            return updated_node
        keep, moved = [], []
        for a in updated_node.names:
            obj = get_full_name_for_node(a.name) or ""
            bound = get_full_name_for_node(a.asname.name) if a.asname else obj
            (moved if bound in self.names and obj in renames.CLIENT_CLASSES else keep).append((a, obj, bound))
        if not moved:
            return updated_node
        if not keep:  # rewritten in place, so that no line moves
            aliases = []
            for a, obj, bound in moved:
                target = renames.CLIENT_CLASSES[obj]
                asname = a.asname if bound != target else None
                if asname is None and bound != target:
                    asname = cst.AsName(name=cst.Name(bound))
                aliases.append(a.with_changes(name=cst.Name(target), asname=asname))
            return updated_node.with_changes(module=cst.parse_expression("offramp.adapters"), names=aliases)
        for _, obj, bound in moved:
            target = renames.CLIENT_CLASSES[obj]
            AddImportsVisitor.add_needed_import(
                self.owner.context, "offramp.adapters", target, bound if bound != target else None)
        aliases = [a for a, _, _ in keep]
        aliases[-1] = aliases[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated_node.with_changes(names=aliases, rpar=None, lpar=None) if len(aliases) == 1 else \
            updated_node.with_changes(names=aliases)
