"""Per-call features (`rules/features.toml` detectors) read from a call's keyword arguments and message literals."""

from __future__ import annotations

import re
from typing import Any

import libcst as cst

from offramp.migrate.ruleset import Feature
from offramp.migrate.scan.resolve import NOT_LITERAL, Const, QName, Resolver, Scope

# `model` is spelled differently by 0.x Azure calls and some wrappers.
KWARG_ALIASES = {"model": ("model", "engine", "deployment_id", "model_name", "azure_deployment")}
# Where message content lives: chat `messages`, Responses `input`, 0.x `prompt`.
MESSAGE_KWARGS = ("messages", "input", "prompt")
_SENTINELS = {"NOT_GIVEN", "NotGiven", "omit", "Omit"}


def _kwargs(call: cst.Call) -> dict[str, cst.BaseExpression]:
    return {a.keyword.value: a.value for a in call.args if a.keyword is not None}


def _dict_value(d: cst.Dict, key: str, r: Resolver, scope: Scope) -> Any:
    for el in d.elements:
        if isinstance(el, cst.DictElement) and r.literal(el.key, scope) == key:
            return el.value
    return None


def _resolve_dict(expr: cst.BaseExpression, r: Resolver, scope: Scope) -> tuple[cst.Dict, Scope] | None:
    for e, s in r.follow(expr, scope):
        if isinstance(e, cst.Dict):
            return e, s
    return None


def _is_name(expr: cst.BaseExpression, r: Resolver, scope: Scope) -> bool:
    if not isinstance(expr, cst.Name | cst.Attribute):
        return False
    if r.literal(expr, scope) is not NOT_LITERAL or _resolve_dict(expr, r, scope) is not None:
        return False
    v = r.eval(expr, scope)
    return not (isinstance(v, QName) and v.name.split(".")[-1] in _SENTINELS) and not isinstance(v, Const)


def _walk_literals(expr: cst.BaseExpression, r: Resolver, scope: Scope, budget: list[int]):
    """Every dict and string reachable from a messages literal, following local names (bounded)."""
    for e, s in r.follow(expr, scope):
        budget[0] -= 1
        if budget[0] < 0:
            return
        if isinstance(e, cst.Dict):
            yield e, s
            for el in e.elements:
                if isinstance(el, cst.DictElement):
                    yield from _walk_literals(el.value, r, s, budget)
        elif isinstance(e, cst.List | cst.Tuple | cst.Set):
            for el in e.elements:
                yield from _walk_literals(el.value, r, s, budget)
        elif isinstance(e, cst.ListComp | cst.GeneratorExp):
            yield from _walk_literals(e.elt, r, s, budget)
        elif isinstance(e, cst.SimpleString | cst.ConcatenatedString | cst.FormattedString):
            yield e, s
        elif isinstance(e, cst.BinaryOperation):
            yield from _walk_literals(e.left, r, s, budget)
            yield from _walk_literals(e.right, r, s, budget)


def _string_prefix(e: cst.BaseExpression) -> str:
    if isinstance(e, cst.SimpleString | cst.ConcatenatedString):
        v = e.evaluated_value
        return v if isinstance(v, str) else ""
    if isinstance(e, cst.FormattedString):
        first = e.parts[0] if e.parts else None
        return first.value if isinstance(first, cst.FormattedStringText) else ""
    return ""


def detect(call: cst.Call, scope: Scope, r: Resolver, features: tuple[Feature, ...]) -> list[str]:
    """Ids of the features whose `when` detector holds for this call."""
    kwargs = _kwargs(call)
    found: list[str] = []
    content: list[tuple[cst.BaseExpression, Scope]] | None = None
    for f in features:
        w = f.when
        if w is None:
            continue
        if w.kwarg is not None:
            expr = next((kwargs[k] for k in KWARG_ALIASES.get(w.kwarg, (w.kwarg,)) if k in kwargs), None)
            if expr is None:
                continue
            if _holds(w, expr, r, scope):
                found.append(f.id)
        else:
            if content is None:
                content = []
                for k in MESSAGE_KWARGS:
                    if k in kwargs:
                        content.extend(_walk_literals(kwargs[k], r, scope, [400]))
                for a in call.args:  # 0.x / wrappers may take messages positionally
                    if a.keyword is None:
                        content.extend(_walk_literals(a.value, r, scope, [200]))
            if w.content_part and any(
                isinstance(e, cst.Dict) and (t := _dict_value(e, "type", r, s)) is not None
                and r.literal(t, s) == w.content_part for e, s in content
            ):
                found.append(f.id)
            elif w.data_url and any(
                _string_prefix(e).startswith(f"data:{w.data_url}/") for e, _ in content
                if not isinstance(e, cst.Dict)
            ):
                found.append(f.id)
    return found


def call_matches(w, call: cst.Call, scope: Scope, r: Resolver) -> bool:
    """Does a rule's `match.when` hold for this call (a kwarg detector)?"""
    if w.kwarg is None:
        return False
    kwargs = _kwargs(call)
    expr = next((kwargs[k] for k in KWARG_ALIASES.get(w.kwarg, (w.kwarg,)) if k in kwargs), None)
    return expr is not None and _holds(w, expr, r, scope)


def _holds(w, expr: cst.BaseExpression, r: Resolver, scope: Scope) -> bool:
    if w.key is not None:
        d = _resolve_dict(expr, r, scope)
        if d is None:
            return False
        inner = _dict_value(d[0], w.key, r, d[1])
        if inner is None:
            return False
        expr, scope = inner, d[1]
    if w.is_name:
        if not _is_name(expr, r, scope):
            return False
    value = r.literal(expr, scope)
    if value is None:
        return False
    if isinstance(expr, cst.Name | cst.Attribute) and value is NOT_LITERAL:
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
