"""Per-call features (`rules/features.toml` detectors) read from a call's keyword arguments and message literals.

Features decided outside the call count too: a `**params` dict built in the function (`params["tools"] =
TOOLS`, `params.update(...)`, `dict(...)`) or a module constant, a module-level `TOOLS` list, a helper that
returns image parts, `response_format` held in a variable."""

from __future__ import annotations

import ast
import re
from typing import Any

from offramp.migrate.ruleset import Feature
from offramp.migrate.scan.resolve import NOT_LITERAL, Const, QName, Resolver, Scope

# `model` is spelled differently by 0.x Azure calls and some wrappers.
KWARG_ALIASES = {"model": ("model", "engine", "deployment_id", "model_name", "azure_deployment")}
# Where message content lives: chat `messages`, Responses `input`, 0.x `prompt`.
MESSAGE_KWARGS = ("messages", "input", "prompt")
_SENTINELS = {"NOT_GIVEN", "NotGiven", "omit", "Omit"}


def kwargs_of(call: ast.Call, r: Resolver, scope: Scope) -> dict[str, tuple[ast.expr, Scope]]:
    """Keyword arguments of a call, including the keys of `**dict` arguments the resolver can see."""
    out: dict[str, tuple[ast.expr, Scope]] = {}
    for k in call.keywords:
        if k.arg is not None:
            out[k.arg] = (k.value, scope)
            continue
        for e, s in r.follow(k.value, scope):
            if isinstance(e, ast.Dict):
                for key, val in zip(e.keys, e.values, strict=False):
                    if key is None:  # {**base, ...}
                        for e2, s2 in r.follow(val, s):
                            if isinstance(e2, ast.Dict):
                                for k2, v2 in zip(e2.keys, e2.values, strict=False):
                                    lk = r.literal(k2, s2) if k2 is not None else None
                                    if isinstance(lk, str):
                                        out.setdefault(lk, (v2, s2))
                        continue
                    lk = r.literal(key, s)
                    if isinstance(lk, str):
                        out.setdefault(lk, (val, s))
    return out


def _dict_value(d: ast.Dict, key: str, r: Resolver, scope: Scope) -> Any:
    for k, v in zip(d.keys, d.values, strict=False):
        if k is not None and r.literal(k, scope) == key:
            return v
    return None


def _resolve_dict(expr: ast.expr, r: Resolver, scope: Scope) -> tuple[ast.Dict, Scope] | None:
    for e, s in r.follow(expr, scope):
        if isinstance(e, ast.Dict):
            return e, s
    return None


def _is_name(expr: ast.expr, r: Resolver, scope: Scope) -> bool:
    if not isinstance(expr, ast.Name | ast.Attribute):
        return False
    if r.literal(expr, scope) is not NOT_LITERAL or _resolve_dict(expr, r, scope) is not None:
        return False
    v = r.eval(expr, scope)
    return not (isinstance(v, QName) and v.name.split(".")[-1] in _SENTINELS) and not isinstance(v, Const)


def _walk_literals(expr: ast.expr, r: Resolver, scope: Scope, budget: list[int]):
    """Every dict and string reachable from a messages literal, following local names (bounded)."""
    if isinstance(expr, ast.Call):  # a message built in place: HumanMessage(content=[...])
        for k in expr.keywords:
            if k.arg is not None:
                yield from _walk_literals(k.value, r, scope, budget)
    for e, s in r.follow(expr, scope):
        budget[0] -= 1
        if budget[0] < 0:
            return
        if isinstance(e, ast.Dict):
            yield e, s
            for v in e.values:
                if v is not None:
                    yield from _walk_literals(v, r, s, budget)
        elif isinstance(e, ast.List | ast.Tuple | ast.Set):
            for el in e.elts:
                yield from _walk_literals(el, r, s, budget)
        elif isinstance(e, ast.ListComp | ast.GeneratorExp):
            yield from _walk_literals(e.elt, r, s, budget)
        elif isinstance(e, ast.Constant | ast.JoinedStr):
            yield e, s
        elif isinstance(e, ast.BinOp):
            yield from _walk_literals(e.left, r, s, budget)
            yield from _walk_literals(e.right, r, s, budget)


def _string_prefix(e: ast.expr) -> str:
    if isinstance(e, ast.Constant) and isinstance(e.value, str):
        return e.value
    if isinstance(e, ast.JoinedStr):
        first = e.values[0] if e.values else None
        return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""
    return ""


def detect(call: ast.Call, scope: Scope, r: Resolver, features: tuple[Feature, ...]) -> list[str]:
    """Ids of the features whose `when` detector holds for this call."""
    kwargs = kwargs_of(call, r, scope)
    found: list[str] = []
    content: list[tuple[ast.expr, Scope]] | None = None
    for f in features:
        w = f.when
        if w is None:
            continue
        if w.kwarg is not None:
            got = next((kwargs[k] for k in KWARG_ALIASES.get(w.kwarg, (w.kwarg,)) if k in kwargs), None)
            if got is None:
                continue
            if _holds(w, got[0], r, got[1]):
                found.append(f.id)
        else:
            if w.within is not None:  # tool dicts in tools= / positional args, not message parts
                if _has_part(w, _content(call, kwargs, scope, r, w.within), r):
                    found.append(f.id)
                continue
            if content is None:
                content = _content(call, kwargs, scope, r, None)
            if w.content_part and _has_part(w, content, r):
                found.append(f.id)
            elif w.data_url and any(
                _string_prefix(e).startswith(f"data:{w.data_url}/") for e, _ in content
                if not isinstance(e, ast.Dict)
            ):
                found.append(f.id)
    return found


def _content(call: ast.Call, kwargs, scope: Scope, r: Resolver, within: tuple[str, ...] | None):
    """Dicts and strings of the message literals (`messages`/`input`/`prompt` and positional arguments), or of
    the arguments named by a detector's `within` (`*`: the positional ones)."""
    names = MESSAGE_KWARGS if within is None else tuple(k for k in within if k != "*")
    out: list[tuple[ast.expr, Scope]] = []
    for k in names:
        if k in kwargs:
            out.extend(_walk_literals(kwargs[k][0], r, kwargs[k][1], [400]))
    if within is None or "*" in within:
        for a in call.args:  # 0.x / wrappers may take messages positionally
            out.extend(_walk_literals(a, r, scope, [200]))
    return out


def _has_part(w, content, r: Resolver) -> bool:
    types = w.content_types
    return any(isinstance(e, ast.Dict) and (t := _dict_value(e, "type", r, s)) is not None
               and r.literal(t, s) in types for e, s in content)


def call_matches(w, call: ast.Call, scope: Scope, r: Resolver) -> bool:
    """Does a rule's `match.when` hold for this call (a kwarg or a content-part detector)?"""
    kwargs = kwargs_of(call, r, scope)
    if w.kwarg is None:
        return bool(w.content_part) and _has_part(w, _content(call, kwargs, scope, r, w.within), r)
    got = next((kwargs[k] for k in KWARG_ALIASES.get(w.kwarg, (w.kwarg,)) if k in kwargs), None)
    return got is not None and _holds(w, got[0], r, got[1])


def _holds(w, expr: ast.expr, r: Resolver, scope: Scope) -> bool:
    if w.key is not None:
        d = _resolve_dict(expr, r, scope)
        if d is None:
            return False
        *path, last = w.key.split(".")  # a dotted key walks nested dicts: text -> format.type
        for part in path:
            inner = _dict_value(d[0], part, r, d[1])
            d = None if inner is None else _resolve_dict(inner, r, d[1])
            if d is None:
                return False
        inner = _dict_value(d[0], last, r, d[1])
        if inner is None:
            return False
        expr, scope = inner, d[1]
    if w.is_name:
        if not _is_name(expr, r, scope):
            return False
    value = r.literal(expr, scope)
    if value is None:
        return False
    if isinstance(expr, ast.Name | ast.Attribute) and value is NOT_LITERAL:
        v = r.eval(expr, scope)
        if isinstance(v, QName) and v.name.split(".")[-1] in _SENTINELS:
            return False
    if w.equals is not None and value != w.equals:
        return False
    if w.not_in is not None:
        if value is NOT_LITERAL:
            if _resolve_dict(expr, r, scope) is None:
                return False
        elif value in w.not_in:
            return False
    if w.gt is not None and not (isinstance(value, int | float) and not isinstance(value, bool) and value > w.gt):
        return False
    if w.matches is not None and not (isinstance(value, str) and re.search(w.matches, value)):
        return False
    return True
