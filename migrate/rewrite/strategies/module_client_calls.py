"""The 1.x module-level client (`openai.api_key = k` then `openai.chat.completions.create(...)`) moves onto
the adapter's process-wide client: `adapters.client().chat.completions.create(...)`. Platform APIs on the module
client (`openai.beta.assistants`, `openai.batches`, ...) stay on OpenAI and are reported (`keep-on-openai`), and
so are uses the rewrite cannot follow: removed helpers (`openai.embeddings_utils`) and dynamic attribute access
(`getattr(openai, name)`).
"""

from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext

from offramp.migrate.rewrite import renames
from offramp.migrate.rewrite.strategies.base import FINDINGS, Strategy, adapter_client_call, dotted
from offramp.migrate.rewrite.strategies.imports import drop_unused

REPORTING = frozenset({"keep-on-openai", "report-only"})

EXAMPLES: list[tuple[str, str]] = [
    (
        "import openai\nr = openai.chat.completions.create(model='gpt-4o', messages=m)\n",
        "from offramp import adapters\n\nr = adapters.client().chat.completions.create(model='gpt-4o', messages=m)\n",
    ),
    (
        "import openai as oa\nv = oa.embeddings.create(model='e', input=['x'])\nms = oa.models.list()\n",
        "from offramp import adapters\n\nv = adapters.client().embeddings.create(model='e', input=['x'])\n"
        "ms = adapters.client().models.list()\n",
    ),
    (  # platform API: stays on OpenAI, reported
        "import openai\na = openai.beta.assistants.create(model='gpt-4o')\n",
        "import openai\na = openai.beta.assistants.create(model='gpt-4o')\n",
    ),
]

_REMOVED_MODULES = {
    "openai.embeddings_utils": "openai.embeddings_utils was removed in 1.x; call embeddings.create and compute "
                               "similarity yourself",
    "openai.openai_object": "openai.openai_object was removed in 1.x; responses are pydantic models",
    "openai.util": "openai.util was removed in 1.x",
    "openai.api_requestor": "openai.api_requestor was removed in 1.x",
}


class ModuleClientCalls(Strategy):
    STRATEGY = "keep-call"
    CATEGORY = "module-client"
    DESCRIPTION = "openai.<resource>... (1.x module-level client) -> adapters.client().<resource>..."

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context)
        self.touched: set[str] = set()
        self.allowed: set[int] = set()  # id(openai.<resource> node) the scan agrees to move
        self.scanned = self.context.scratch.get(FINDINGS) is not None

    def visit_Call(self, node: cst.Call) -> None:
        if not self.scanned:
            return
        expr = node.func
        while isinstance(expr, cst.Attribute | cst.Call):
            if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):
                strategy, _ = self.scan_strategy(node, dotted(node.func) or "")
                if strategy is not None and strategy not in REPORTING:
                    self.allowed.add(id(expr))
                return
            expr = expr.value if isinstance(expr, cst.Attribute) else expr.func

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> cst.BaseExpression:
        if not isinstance(original_node.value, cst.Name):
            return updated_node
        q = self.qname(original_node)
        if not q or q.count(".") != 1:
            return updated_node
        for mod, why in _REMOVED_MODULES.items():
            if q == mod:
                self.left(original_node, q, why, strategy="report-only")
                return updated_node
        attr = q.split(".")[1]
        if attr in renames.PLATFORM_RESOURCES:
            self.left(original_node, q, renames.PLATFORM_RESOURCES[attr], strategy="keep-on-openai")
            return updated_node
        if attr not in renames.ADAPTER_RESOURCES or (self.scanned and id(original_node) not in self.allowed):
            return updated_node
        self.touched.add(original_node.value.value)
        self.need_adapters()
        self.moved(original_node, q)
        return cst.Attribute(value=adapter_client_call(False), attr=updated_node.attr,
                             dot=updated_node.dot, lpar=updated_node.lpar, rpar=updated_node.rpar)

    def leave_ImportFrom(self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom) -> cst.ImportFrom:
        q = self.qname(original_node.module) if original_node.module else None
        mod = cst.helpers.get_full_name_for_node(original_node.module) if original_node.module else ""
        if mod in _REMOVED_MODULES or q in _REMOVED_MODULES:
            self.left(original_node, mod or "", _REMOVED_MODULES[mod or q or ""], strategy="report-only")
        return updated_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        if isinstance(original_node.func, cst.Name) and original_node.func.value in ("getattr", "setattr") \
                and original_node.args and self.qname(original_node.args[0].value) == "openai":
            self.left(original_node, "openai", "dynamic attribute access on openai cannot be followed",
                      strategy="report-only")
        return updated_node

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        drop_unused(self.context, original_node, self.touched)
        return updated_node
