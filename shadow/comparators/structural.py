"""Diffy-style structural diff of the parts of a completion that are stable enough to compare exactly:
finish_reason, refusal, tool-call names and parsed arguments, and the JSON body under a JSON response_format.

Two gate metrics are derived from a structural disagreement's diff rather than stored (`derived_metrics`):
`tool_calls` (any tool-call field differs) and `tool_calls_dropped` (the second side made fewer tool calls than
the first: a candidate answering in prose where the primary called a tool). The second is directional: the
primary's own noise drops a call as often as it adds one, so its floor is about half of `tool_calls`' and a
candidate that stops calling tools stands out from it with fewer requests."""

from __future__ import annotations

import json
import re

from deepdiff import DeepDiff

from offramp.shadow.comparators.base import Comparator, CompareContext, Verdict, choice_messages

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")
_CALL_REMOVED = re.compile(r"\['tool_calls'\]\[\d+\]$")  # a whole call missing on the second side
DERIVED_METRICS = ("tool_calls", "tool_calls_dropped")


def _parse_json(text: str | None):
    if not isinstance(text, str):
        return {"$invalid_json": None}
    try:
        return json.loads(_FENCE.sub("", text.strip()))
    except ValueError:
        return {"$invalid_json": True}


def _json_mode(request: dict) -> bool:
    rf = request.get("response_format")
    return isinstance(rf, dict) and rf.get("type") in ("json_object", "json_schema")


def project(resp: dict, request: dict) -> dict:
    """The comparable projection of a completion."""
    json_mode = _json_mode(request)
    out = []
    for ch in choice_messages(resp):
        msg = ch["message"]
        calls = []
        for tc in msg.get("tool_calls") or []:
            fn = (tc or {}).get("function") or {}
            calls.append({"name": fn.get("name"), "arguments": _parse_json(fn.get("arguments"))})
        item = {
            "finish_reason": ch["finish_reason"],
            "refusal": bool(msg.get("refusal")),
            "tool_calls": calls,
        }
        if json_mode:
            item["json"] = _parse_json(msg.get("content"))
        out.append(item)
    return {"choices": out}


class Structural(Comparator):
    name = "structural"

    def compare(self, a: dict, b: dict, ctx: CompareContext) -> Verdict:
        pa, pb = project(a, ctx.request), project(b, ctx.request)
        if pa == pb:
            return Verdict(True, 1.0, {})
        diff = DeepDiff(pa, pb, ignore_order=False)
        paths: dict[str, list[str]] = {}
        for kind, items in diff.items():
            keys = items.keys() if isinstance(items, dict) else items
            for path in list(keys)[:20]:
                paths.setdefault(kind, []).append(str(path))
        fields = sorted({_field_of(p) for ps in paths.values() for p in ps})
        return Verdict(False, 0.0, {"fields": fields, "diff": paths})


def _field_of(path: str) -> str:
    """root['choices'][0]['tool_calls'][1]['name'] -> choices.tool_calls.name (Diffy's flattened field path)."""
    parts = re.findall(r"\['([^']*)'\]", path)
    return ".".join(parts) or path


def derived_metrics(detail: str | dict | None) -> set[str]:
    """The derived metrics (DERIVED_METRICS) a structural disagreement counts against, from its stored detail."""
    if isinstance(detail, str):
        try:
            detail = json.loads(detail or "{}")
        except ValueError:
            return set()
    if not isinstance(detail, dict):
        return set()
    out: set[str] = set()
    if any("tool_calls" in f for f in detail.get("fields") or []):
        out.add("tool_calls")
    removed = (detail.get("diff") or {}).get("iterable_item_removed") or []
    if any(_CALL_REMOVED.search(p) for p in removed):
        out.add("tool_calls_dropped")
    return out
