"""`--annotate`: a `# migrate: <reason>` comment above each statement holding a site that was left."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

_TARGETS = (cst.SimpleStatementLine, cst.BaseCompoundStatement, cst.ExceptHandler, cst.ExceptStarHandler)


def annotate(tree: cst.Module, reasons: dict[int, list[str]]) -> cst.Module:
    """`reasons`: line (in `tree`) -> reasons. Comments already present are not added again."""
    if not reasons:
        return tree
    wrapper = MetadataWrapper(tree, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    best: dict[int, cst.CSTNode] = {}
    for node, pos in positions.items():
        if not isinstance(node, _TARGETS):
            continue
        for line in reasons:
            if pos.start.line <= line <= pos.end.line:
                cur = best.get(line)
                if cur is None or _span(positions[cur]) > _span(pos):
                    best[line] = node
    todo: dict[int, list[str]] = {}
    for line, node in best.items():
        todo.setdefault(id(node), [])
        for r in reasons[line]:
            if r not in todo[id(node)]:
                todo[id(node)].append(r)

    class _Add(cst.CSTTransformer):
        def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> cst.CSTNode:
            new = todo.get(id(original_node))
            if not new or not hasattr(updated_node, "leading_lines"):
                return updated_node
            existing = {ln.comment.value for ln in updated_node.leading_lines if ln.comment}
            if any(c.startswith("# migrate:") for c in existing):
                return updated_node  # annotated by an earlier run (whose wording may differ): keep it idempotent
            lines = list(updated_node.leading_lines)
            for r in new:
                text = "# migrate: " + " ".join(r.split())
                if text not in existing:
                    lines.append(cst.EmptyLine(indent=True, comment=cst.Comment(text)))
            return updated_node.with_changes(leading_lines=lines)

    return wrapper.module.visit(_Add())


def _span(pos: object) -> int:
    return (pos.end.line - pos.start.line) * 10_000 + (pos.end.column - pos.start.column)  # type: ignore[attr-defined]
