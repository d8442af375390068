"""`v0-config`: module configuration (`openai.api_key = ...`, `api_base`, `api_type`, `api_version`,
`organization`) becomes `adapters.configure(...)` at the same place — never hoisted above where the value is
known; the adapter builds its client lazily on first use. When something in the project still uses the openai
module client (platform APIs left on OpenAI, or code reading `openai.api_key`), the assignment stays and the
adapter is configured from it right after. In a project on the 0.x API, the key's configure() also sets
`max_retries=0`: 0.x never retried API errors, 1.x does by default. Settings with no 1.x meaning are left and reported.

Consecutive settings in one block become ONE `adapters.configure(...)` call (configure() is cumulative, so this is
the same behaviour in a reviewable shape). A comment or blank line between them, a trailing comment on any of
them, a statement spanning several lines, or a setting named twice keeps them apart: comments stay where the user
put them, and a repeated keyword would be a SyntaxError.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.metadata import PositionProvider

from offramp.migrate.rewrite import renames
from offramp.migrate.rewrite.strategies.base import Strategy, build_chain, dotted
from offramp.migrate.rewrite.strategies.imports import drop_unused

EXAMPLES: list[tuple[str, str]] = [
    (
        "import os\nimport openai\n\ndef setup():\n    openai.api_key = os.environ['KEY']  # secret\n"
        "    openai.api_base = 'http://x/v1'\n",
        "import os\nfrom offramp import adapters\n\ndef setup():\n    adapters.configure(api_key=os.environ['KEY'])  # secret\n"
        "    adapters.configure(base_url='http://x/v1')\n",
    ),
    (
        "import openai as oa\noa.api_type = 'azure'\noa.api_version = '2024-06-01'\n",
        "from offramp import adapters\n\nadapters.configure(api_type='azure', api_version='2024-06-01')\n",
    ),
    (  # a run of settings in a block: one call, in source order
        "import openai\n\ndef setup(settings):\n    openai.api_type = 'azure'\n"
        "    openai.api_base = settings.azure_endpoint\n    openai.api_version = AZURE_API_VERSION\n    return 1\n",
        "from offramp import adapters\n\ndef setup(settings):\n"
        "    adapters.configure(api_type='azure', base_url=settings.azure_endpoint, api_version=AZURE_API_VERSION)\n"
        "    return 1\n",
    ),
    (  # a comment line splits the run (and stays above its setting); a repeated setting is never merged
        "import openai\nopenai.api_type = 'azure'\n# the gateway, not Azure itself\nopenai.api_base = GATEWAY\n"
        "openai.api_version = '2024-06-01'\nopenai.base_url = OTHER\n",
        "from offramp import adapters\n\nadapters.configure(api_type='azure')\n# the gateway, not Azure itself\n"
        "adapters.configure(base_url=GATEWAY, api_version='2024-06-01')\nadapters.configure(base_url=OTHER)\n",
    ),
    (  # no 1.x meaning: left and reported
        "import openai\nopenai.proxy = 'http://proxy'\n",
        "import openai\nopenai.proxy = 'http://proxy'\n",
    ),
]

V0_RETRIES = "offramp.v0_retries"  # scratch key: the project calls the 0.x API, which never retried API errors
KEEP = "offramp.keep_openai_config"  # scratch key: config attributes other code still reads from openai
INSERTED = "offramp.inserted_lines"  # scratch key: original lines after which a line was inserted
MERGED = "offramp.merged_lines"  # scratch key: original lines joined into the line above (they no longer exist)


@dataclass
class _Produced:
    """A configure() line this strategy made; `kept` is the assignment line it follows in "keep" mode."""

    line: int  # original line of the setting (its last line in "keep" mode: where the call was inserted)
    single_line: bool
    commented: bool  # the setting's line had a trailing comment
    kept: cst.SimpleStatementLine | None = None


class ModuleConfigToConfigure(Strategy):
    STRATEGY = "v0-config"
    CATEGORY = "config"
    DESCRIPTION = "openai.<setting> = value -> adapters.configure(<setting>=value) at the same place"

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context)
        self.touched: set[str] = set()
        self.mirrored: set[str] = set()
        self.context.scratch.setdefault(INSERTED, [])
        self.context.scratch.setdefault(MERGED, [])
        self.produced: dict[int, tuple[cst.SimpleStatementLine, _Produced]] = {}

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
        pos = self.get_metadata(PositionProvider, original_node)
        info = _Produced(line=pos.start.line, single_line=pos.start.line == pos.end.line,
                         commented=updated_node.trailing_whitespace.comment is not None)
        if not extra:
            self.produced[id(new)] = (new, info)
            return new
        self.context.scratch[INSERTED].append(pos.end.line)
        added = cst.SimpleStatementLine(body=extra)
        info.line, info.kept = pos.end.line, new
        self.produced[id(added)] = (added, info)
        return cst.FlattenSentinel([new, added])

    # -- one configure() per run of settings --------------------------------------------------------------
    def leave_IndentedBlock(self, original_node: cst.IndentedBlock,
                            updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        body = self._merge_runs(list(updated_node.body))
        return updated_node if body is None else updated_node.with_changes(body=body)

    def _mine(self, stmt: cst.BaseStatement) -> tuple[_Produced, list[cst.Arg]] | None:
        """The produced line's info and call arguments, if it is one call of keyword args only."""
        entry = self.produced.get(id(stmt))
        if entry is None or entry[0] is not stmt:
            return None
        assert isinstance(stmt, cst.SimpleStatementLine)
        if len(stmt.body) != 1 or not isinstance(stmt.body[0], cst.Expr):
            return None
        call = stmt.body[0].value
        if not isinstance(call, cst.Call) or not all(a.keyword is not None and not a.star for a in call.args):
            return None
        return entry[1], list(call.args)

    def _merge_runs(self, body: list[cst.BaseStatement]) -> list[cst.BaseStatement] | None:
        """Runs of produced lines (in "keep" mode: assignment + inserted call pairs) joined into one call.
        None when nothing merged."""
        out: list[cst.BaseStatement] = []
        run: list[tuple[_Produced, list[cst.Arg], cst.SimpleStatementLine]] = []
        merged_any = False

        def flush() -> None:
            nonlocal merged_any
            if len(run) < 2:
                for info, _, line in run:
                    out.extend([info.kept, line] if info.kept is not None else [line])
                run.clear()
                return
            merged_any = True
            args = [a for _, call_args, _ in run for a in call_args]
            comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            args = [a.with_changes(comma=comma if i < len(args) - 1 else cst.MaybeSentinel.DEFAULT)
                    for i, a in enumerate(args)]
            first = run[0][2]
            expr = first.body[0]
            assert isinstance(expr, cst.Expr) and isinstance(expr.value, cst.Call)
            call_line = first.with_changes(body=[expr.with_changes(value=expr.value.with_changes(args=args))])
            if run[0][0].kept is not None:  # keep mode: the assignments stay, one call after the last of them
                out.extend(info.kept for info, _, _ in run if info.kept is not None)
                out.append(call_line.with_changes(leading_lines=[]))
                for info, _, _ in run[:-1]:
                    self.context.scratch[INSERTED].remove(info.line)
            else:
                out.append(call_line)
                self.context.scratch[MERGED].extend(info.line for info, _, _ in run[1:])
            run.clear()

        i = 0
        while i < len(body):
            stmt, kept = body[i], None
            if i + 1 < len(body):  # "keep" mode: the produced call right after its kept assignment line
                entry = self.produced.get(id(body[i + 1]))
                if entry and entry[0] is body[i + 1] and entry[1].kept is stmt:
                    stmt, kept = body[i + 1], stmt
            unit = [kept, stmt] if kept is not None else [stmt]
            i += len(unit)
            mine = self._mine(stmt)
            if mine is None or mine[0].kept is not kept or mine[0].commented or not mine[0].single_line:
                flush()  # not ours, or never merged: comments stay on their line
                out.extend(unit)
                continue
            info, args = mine
            repeats = {_kw(a) for a in args} & {_kw(a) for _, r, _ in run for a in r}
            if run and (unit[0].leading_lines or repeats):
                flush()
            run.append((info, args, stmt))
        flush()
        return out if merged_any else None

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        drop_unused(self.context, original_node, self.touched)
        body = self._merge_runs(list(updated_node.body))
        return updated_node if body is None else updated_node.with_changes(body=body)


def _kw(arg: cst.Arg) -> str:
    assert arg.keyword is not None
    return arg.keyword.value
