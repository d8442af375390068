"""Response access of the 0.x dict style (`resp["choices"][0]["message"]["content"]`, `resp.get("usage")`,
`chunk["choices"][0]["delta"].get("content")`, `resp.to_dict_recursive()`) becomes attribute access — only where
the data flow inside the function proves the value is a response of a call moved onto the adapter (a name bound
once, from that call, from a part of such a response, or as the loop variable over a stream). A response that
leaves the function, or dict-style access on a value it cannot prove, is left and reported.
"""

from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.metadata import ParentNodeProvider, PositionProvider, QualifiedNameProvider, Scope, ScopeProvider

from offramp.migrate.rewrite import renames
from offramp.migrate.rewrite.strategies.base import Strategy, dotted

EXAMPLES: list[tuple[str, str]] = [
    (
        "from offramp import adapters\ndef ask(m):\n    resp = adapters.client().chat.completions.create(model='x', messages=m)\n"
        "    text = resp['choices'][0]['message']['content']\n    used = resp.get('usage')\n"
        "    return text, used['total_tokens']\n",
        "from offramp import adapters\ndef ask(m):\n    resp = adapters.client().chat.completions.create(model='x', messages=m)\n"
        "    text = resp.choices[0].message.content\n    used = resp.usage\n"
        "    return text, used.total_tokens\n",
    ),
    (
        "from offramp import adapters\nasync def stream(m):\n"
        "    s = await adapters.async_client().chat.completions.create(model='x', messages=m, stream=True)\n"
        "    async for chunk in s:\n        yield chunk['choices'][0]['delta'].get('content', '')\n",
        "from offramp import adapters\nasync def stream(m):\n"
        "    s = await adapters.async_client().chat.completions.create(model='x', messages=m, stream=True)\n"
        "    async for chunk in s:\n        yield (chunk.choices[0].delta.content "
        "if chunk.choices[0].delta.content is not None else '')\n",
    ),
    (
        "from offramp import adapters\ndef vec(t):\n    r = adapters.client().embeddings.create(model='e', input=[t])\n"
        "    return [d['embedding'] for d in r['data']], r.to_dict_recursive()\n",
        "from offramp import adapters\ndef vec(t):\n    r = adapters.client().embeddings.create(model='e', input=[t])\n"
        "    return [d.embedding for d in r.data], r.model_dump()\n",
    ),
    (  # the response leaves the function: its dict-style use elsewhere is not proven, so it is reported
        "from offramp import adapters\ndef raw(m):\n    r = adapters.client().chat.completions.create(model='x', messages=m)\n"
        "    return r\n",
        "from offramp import adapters\ndef raw(m):\n    r = adapters.client().chat.completions.create(model='x', messages=m)\n"
        "    return r\n",
    ),
]

_RESPONSE_KEYS = frozenset({"choices", "usage", "delta", "embedding"})
_CLIENT_ROOTS = frozenset({"adapters.client", "adapters.async_client"})
Key = tuple[int, str]  # (id(scope), name)


def _is_adapter_call(expr: cst.BaseExpression) -> bool:
    """`adapters.client().<...>(...)`: a call moved onto the adapter (possibly awaited)."""
    if isinstance(expr, cst.Await):
        expr = expr.expression
    if not isinstance(expr, cst.Call):
        return False
    node = expr.func
    while isinstance(node, cst.Attribute):
        node = node.value
        if isinstance(node, cst.Call) and dotted(node.func) in _CLIENT_ROOTS:
            return True
    return False


def _is_stream(expr: cst.BaseExpression) -> bool:
    if isinstance(expr, cst.Await):
        expr = expr.expression
    return isinstance(expr, cst.Call) and any(
        a.keyword and a.keyword.value == "stream" and isinstance(a.value, cst.Name) and a.value.value == "True"
        for a in expr.args)


def _root(expr: cst.BaseExpression) -> cst.Name | None:
    """The name at the root of a subscript/attribute/.get() chain."""
    while True:
        if isinstance(expr, cst.Subscript | cst.Attribute):
            expr = expr.value
        elif isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) and \
                expr.func.attr.value in ("get", *renames.RESPONSE_METHODS):
            expr = expr.func.value
        else:
            break
    return expr if isinstance(expr, cst.Name) else None


_ELEMENT_CALLS = frozenset({"sorted", "reversed", "list", "tuple", "iter", "min", "max"})


def _elements_of(expr: cst.BaseExpression) -> cst.BaseExpression:
    """`sorted(x, key=...)`, `list(x)`, ... iterate the elements of `x`."""
    while isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value in _ELEMENT_CALLS \
            and expr.args and not expr.args[0].keyword and not expr.args[0].star:
        expr = expr.args[0].value
    return expr


def _str_key(sub: cst.Subscript) -> str | None:
    if len(sub.slice) != 1 or not isinstance(sub.slice[0].slice, cst.Index):
        return None
    v = sub.slice[0].slice.value
    if isinstance(v, cst.SimpleString):
        s = v.evaluated_value
        return s if isinstance(s, str) and s.isidentifier() else None
    return None


class DictResponseAccess(Strategy):
    STRATEGY = "response-access"
    CATEGORY = "response"
    DESCRIPTION = "0.x dict-style response access -> attribute access where the response is proven"
    METADATA_DEPENDENCIES = (QualifiedNameProvider, PositionProvider, ScopeProvider, ParentNodeProvider)

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context)
        self.proven: dict[Key, str] = {}  # key -> "response" | "stream" | "part"

    def _key(self, name: cst.Name) -> Key | None:
        scope = self.get_metadata(ScopeProvider, name, None)
        if not isinstance(scope, Scope):
            return None
        return (id(scope), name.value)

    def _single(self, name: cst.Name) -> bool:
        scope = self.get_metadata(ScopeProvider, name, None)
        return isinstance(scope, Scope) and len(scope.assignments[name.value]) == 1

    def _kind_of(self, expr: cst.BaseExpression) -> str | None:
        if _is_adapter_call(expr):
            return "stream" if _is_stream(expr) else "response"
        root = _root(expr)
        if root is not None and expr is not root:
            key = self._key(root)
            if key and self.proven.get(key) in ("response", "part"):
                return "part"
        return None

    def visit_Module(self, node: cst.Module) -> None:
        bindings: list[tuple[cst.Name, cst.BaseExpression, bool]] = []  # (target, value, is_loop)

        class _Find(cst.CSTVisitor):
            def visit_Assign(self, n: cst.Assign) -> None:
                if len(n.targets) == 1 and isinstance(n.targets[0].target, cst.Name):
                    bindings.append((n.targets[0].target, n.value, False))

            def visit_For(self, n: cst.For) -> None:
                if isinstance(n.target, cst.Name):
                    bindings.append((n.target, n.iter, True))

            def visit_CompFor(self, n: cst.CompFor) -> None:
                if isinstance(n.target, cst.Name):
                    bindings.append((n.target, n.iter, True))

            def visit_Call(self, n: cst.Call) -> None:  # sorted(parts, key=lambda d: d["index"])
                if not (isinstance(n.func, cst.Name) and n.func.value in _ELEMENT_CALLS and n.args):
                    return
                for a in n.args:
                    if a.keyword and a.keyword.value == "key" and isinstance(a.value, cst.Lambda) \
                            and a.value.params.params:
                        bindings.append((a.value.params.params[0].name, n.args[0].value, True))

        node.visit(_Find())
        groups: dict[Key, list[tuple[cst.Name, cst.BaseExpression, bool]]] = {}
        for b in bindings:
            key = self._key(b[0])
            if key is not None:
                groups.setdefault(key, []).append(b)
        changed = True
        while changed:  # parts of parts: iterate to a fixpoint
            changed = False
            for key, group in groups.items():
                if key in self.proven or not self._all_bindings(group):
                    continue
                kinds = {self._binding_kind(value, loop) for _, value, loop in group}
                if len(kinds) == 1 and None not in kinds:
                    self.proven[key] = kinds.pop()  # type: ignore[assignment]
                    changed = True

    def _all_bindings(self, group: list[tuple[cst.Name, cst.BaseExpression, bool]]) -> bool:
        """Every binding of the name in its scope is one we can judge (no parameter, import, augmented...)."""
        scope = self.get_metadata(ScopeProvider, group[0][0], None)
        return isinstance(scope, Scope) and len(scope.assignments[group[0][0].value]) == len(group)

    def _binding_kind(self, value: cst.BaseExpression, loop: bool) -> str | None:
        if not loop:
            return self._kind_of(value)
        value = _elements_of(value)
        kind = self._kind_of(value)
        if kind in ("stream", "part"):
            return "part"
        if isinstance(value, cst.Name) and self.proven.get(self._key(value) or (0, "")) == "stream":
            return "part"
        return None

    def _proven_root(self, expr: cst.BaseExpression) -> bool:
        root = _root(expr)
        if root is None:
            return False
        key = self._key(root)
        return bool(key and self.proven.get(key) in ("response", "part"))

    def leave_Subscript(self, original_node: cst.Subscript, updated_node: cst.Subscript) -> cst.BaseExpression:
        key = _str_key(original_node)
        if key is None:
            return updated_node
        if not self._proven_root(original_node.value):
            if key in _RESPONSE_KEYS:
                root = _root(original_node)
                self.left(original_node, f"[{key!r}]",
                          f"dict-style access on {root.value if root else 'a value'} not proven to be a response "
                          "moved by this rewrite; check it by hand")
            return updated_node
        parent = self.get_metadata(ParentNodeProvider, original_node, None)
        if isinstance(parent, cst.AssignTarget | cst.Del) or (
                isinstance(parent, cst.AugAssign) and parent.target is original_node):
            self.left(original_node, f"[{key!r}]", "assignment into a response; 1.x responses are models")
            return updated_node
        self.moved(original_node, f"[{key!r}]")
        return cst.Attribute(value=updated_node.value, attr=cst.Name(key),
                             lpar=updated_node.lpar, rpar=updated_node.rpar)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        func = original_node.func
        if not isinstance(func, cst.Attribute) or not self._proven_root(func.value):
            return updated_node
        assert isinstance(updated_node.func, cst.Attribute)
        base = updated_node.func.value
        name = func.attr.value
        if name in renames.RESPONSE_METHODS and not original_node.args:
            self.moved(original_node, f".{name}()")
            return updated_node.with_changes(func=updated_node.func.with_changes(
                attr=cst.Name(renames.RESPONSE_METHODS[name])))
        if name != "get" or not original_node.args or len(original_node.args) > 2:
            return updated_node
        k = original_node.args[0].value
        key = k.evaluated_value if isinstance(k, cst.SimpleString) else None
        if not isinstance(key, str) or not key.isidentifier() or original_node.args[0].keyword:
            return updated_node
        attr = cst.Attribute(value=base, attr=cst.Name(key))
        self.moved(original_node, f".get({key!r})")
        if len(original_node.args) == 1 or (isinstance(original_node.args[1].value, cst.Name)
                                            and original_node.args[1].value.value == "None"):
            return attr.with_changes(lpar=updated_node.lpar, rpar=updated_node.rpar)
        default = updated_node.args[1].value
        if isinstance(default, cst.Dict | cst.List) and not default.elements:
            return attr.with_changes(lpar=updated_node.lpar, rpar=updated_node.rpar)  # a chaining default
        return cst.IfExp(
            test=cst.Comparison(left=attr, comparisons=[cst.ComparisonTarget(
                operator=cst.IsNot(), comparator=cst.Name("None"))]),
            body=attr, orelse=default,
            lpar=[cst.LeftParen()], rpar=[cst.RightParen()],
        )

    def visit_Name(self, node: cst.Name) -> None:
        key = self._key(node)
        if not key or self.proven.get(key) not in ("response", "stream"):
            return
        parent = self.get_metadata(ParentNodeProvider, node, None)
        if isinstance(parent, cst.Return | cst.Arg | cst.Yield) or (
                isinstance(parent, cst.ComparisonTarget)):
            self.left(node, node.value, f"response {node.value} leaves the function; dict-style access to it "
                      "elsewhere is not proven — check its users", strategy="response-access")
