"""`v0-config`: module configuration (`openai.api_key = ...`, `api_base`, `api_type`, `api_version`,
`organization`) becomes `adapters.configure(...)` at the same place — never hoisted above where the value is
known; the adapter builds its client lazily on first use. When something in the project still uses the openai
module client (platform APIs left on OpenAI, or code reading `openai.api_key`), the assignment stays and the
adapter is configured from it right after. In a project on the 0.x API, the key's configure() also sets
`max_retries=0`: 0.x never retried API errors, 1.x does by default. Settings with no 1.x meaning are left and reported.
"""

from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.metadata import PositionProvider

from migrate.rewrite import renames
from migrate.rewrite.strategies.base import Strategy, build_chain, dotted
from migrate.rewrite.strategies.imports import drop_unused

EXAMPLES: list[tuple[str, str]] = [
    (
        "import os\nimport openai\n\ndef setup():\n    openai.api_key = os.environ['KEY']  # secret\n"
        "    openai.api_base = 'http://x/v1'\n",
        "import os\nimport adapters\n\ndef setup():\n    adapters.configure(api_key=os.environ['KEY'])  # secret\n"
        "    adapters.configure(base_url='http://x/v1')\n",
    ),
    (
        "import openai as oa\noa.api_type = 'azure'\noa.api_version = '2024-06-01'\n",
        "import adapters\n\nadapters.configure(api_type='azure')\nadapters.configure(api_version='2024-06-01')\n",
    ),
    (  # no 1.x meaning: left and reported
        "import openai\nopenai.proxy = 'http://proxy'\n",
        "import openai\nopenai.proxy = 'http://proxy'\n",
    ),
]

V0_RETRIES = "offramp.v0_retries"  # scratch key: the project calls the 0.x API, which never retried API errors
KEEP = "offramp.keep_openai_config"  # scratch key: config attributes other code still reads from openai
INSERTED = "offramp.inserted_lines"  # scratch key: original lines after which a line was inserted


class ModuleConfigToConfigure(Strategy):
    STRATEGY = "v0-config"
    CATEGORY = "config"
    DESCRIPTION = "openai.<setting> = value -> adapters.configure(<setting>=value) at the same place"

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context)
        self.touched: set[str] = set()
        self.mirrored: set[str] = set()
        self.context.scratch.setdefault(INSERTED, [])

    def visit_Module(self, node: cst.Module) -> None:
        """Settings already mirrored into the adapter (`adapters.configure(api_key=openai.api_key)`): a second
        run must not mirror them again."""
        mirrored = self.mirrored

        class _Find(cst.CSTVisitor):
            def visit_Call(self, n: cst.Call) -> None:
                if dotted(n.func) == "adapters.configure":
                    for a in n.args:
                        if a.keyword and isinstance(a.value, cst.Attribute):
                            mirrored.add(a.value.attr.value)

        node.visit(_Find())

    def _config_target(self, stmt: cst.BaseSmallStatement) -> tuple[str, cst.Assign] | None:
        if not isinstance(stmt, cst.Assign) or len(stmt.targets) != 1:
            return None
        target = stmt.targets[0].target
        if not isinstance(target, cst.Attribute) or not isinstance(target.value, cst.Name):
            return None
        q = self.qname(target)
        if not q or q.count(".") != 1:
            return None
        return q.split(".")[1], stmt

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.BaseStatement | cst.FlattenSentinel[cst.BaseStatement]:
        keep: bool = bool(self.context.scratch.get(KEEP))
        body = list(updated_node.body)
        extra: list[cst.BaseSmallStatement] = []
        changed = False
        for i, (orig, stmt) in enumerate(zip(original_node.body, updated_node.body, strict=True)):
            found = self._config_target(orig)
            if not found:
                continue
            attr, _ = found
            if attr in renames.CONFIG_UNSUPPORTED:
                self.left(orig, f"openai.{attr}", renames.CONFIG_UNSUPPORTED[attr], strategy="report-only")
                continue
            if attr not in renames.CONFIG:
                continue
            assert isinstance(stmt, cst.Assign)
            if keep and attr in self.mirrored:
                self.moved(orig, f"openai.{attr}")  # done by an earlier run
                continue
            target = stmt.targets[0].target
            value = target if keep else stmt.value
            settings: list[tuple[str, cst.BaseExpression]] = [(renames.CONFIG[attr], value)]
            if attr == "api_key" and self.context.scratch.get(V0_RETRIES):
                # 0.x never retried API errors (429/5xx); 1.x clients retry twice unless told otherwise, which
                # would multiply an app's own retry loop.
                settings.append(("max_retries", cst.Integer("0")))
            call = cst.Expr(cst.Call(func=build_chain("adapters.configure"), args=[
                cst.Arg(keyword=cst.Name(k), value=v, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                        if i < len(settings) - 1 else cst.MaybeSentinel.DEFAULT,
                        equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                              whitespace_after=cst.SimpleWhitespace("")))
                for i, (k, v) in enumerate(settings)]))
            self.moved(orig, f"openai.{attr}")
            self.need_adapters()
            changed = True
            if keep:
                extra.append(call)
            else:
                assert isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)
                self.touched.add(target.value.value)
                body[i] = call
        if not changed:
            return updated_node
        new = updated_node.with_changes(body=body)
        if not extra:
            return new
        line = self.get_metadata(PositionProvider, original_node).end.line
        self.context.scratch[INSERTED].append(line)
        return cst.FlattenSentinel([new, cst.SimpleStatementLine(body=extra)])

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        drop_unused(self.context, original_node, self.touched)
        return updated_node
