"""The mirrored endpoints: for each path the mirror copies, how the candidate's request is made, how a stream
is rebuilt, what the comparators see and what is stored. The mirror worker (shadow/worker.py) looks the request's
path up here; adding an endpoint is a row in `ENDPOINTS`, not a branch in the mirror. The proxy process calls only
`admit` (request-path state, e.g. the Responses conversation log) and `primary_done`; what `admit` returns as
the context travels to the worker in the job frame.

- `/v1/chat/completions`: translated by the adapter for the candidate's profile; the text comparators.
- `/v1/responses`: sent as is (model mapped, `store` off) to a candidate whose profile serves the Responses API,
  else translated to a chat request (shadow.comparators.responses_shape) and sent to its chat completions. Both
  answers are brought to the chat shape, so the same comparators judge them. A request continuing a
  conversation (`previous_response_id`) is sent with the earlier turns — the primary's answers included — in its
  `input`, from the proxy process's log of the turns it mirrored (read on the request path, so it stays in the
  proxy; the turns go to the worker with the job); one whose earlier turns it did not see, or naming a
  `conversation` object, is not mirrored (`stateful_request`).
- `/v1/embeddings`: model mapped (`dimensions` dropped: the candidate embeds at its own size); judged by
  nearest-neighbour agreement (shadow.comparators.embeddings_knn); the vectors' dimensions are stored, the
  vectors are not. Its comparator keeps rolling windows (state), so with several mirror worker processes every
  embeddings job goes to the same one (`one_worker`).
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass

from offramp.shadow.comparators.embeddings_knn import dims_of, summary
from offramp.shadow.comparators.responses_shape import (
    assemble_responses,
    request_to_chat,
    to_chat,
)
from offramp.shadow.sse import assemble_chat
from offramp.shadow.translation import CandidateRequest
from offramp.shadow.upstream import decode_body


@dataclass
class CandidateLeg:
    request: CandidateRequest
    path: str  # on the candidate's base URL, e.g. /chat/completions
    assemble: object  # rebuilds the final body of the candidate's stream


class Endpoint:
    """One mirrored path. `capability` is the backend-profile capability the candidate needs to be sent it;
    `comparators` says which comparators judge it: the configured text ones, or the embeddings' own."""

    path = ""
    capability = ""
    comparators = "text"  # text | knn
    one_worker = False  # its comparators keep state across requests: all its jobs go to one mirror worker
    assemble = staticmethod(assemble_chat)  # the primary's stream (the app's endpoint)

    def admit(self, raw: bytes) -> tuple[str | None, object, object]:
        """In the proxy process, on the request path, for a job about to be handed off: (skip reason or None,
        the context sent to the worker with the job, a memo kept for `primary_done`). Default: no parse."""
        return None, None, None

    def primary_done(self, memo, outcome) -> None:
        """In the proxy process, as soon as the primary answered a job `admit` kept a memo for."""

    def candidate(self, translator, body: dict, context=None) -> CandidateLeg:
        raise NotImplementedError

    def comparable(self, body: dict) -> dict:
        """The body as the comparators read it (chat-completion shape, or the embeddings list)."""
        return body

    def compare_request(self, body: dict, context=None) -> dict:
        """The app's request as the comparators read it (chat request shape: messages, response_format)."""
        return body

    def pair_columns(self, primary, candidate, noise) -> dict:
        return {}

    def for_store(self, result) -> bool:
        """Shrink a side's result to what is stored, once compared (in place); True when it did."""
        return False


class ChatEndpoint(Endpoint):
    path = "/v1/chat/completions"
    capability = "chat"

    def candidate(self, translator, body: dict, context=None) -> CandidateLeg:
        return CandidateLeg(translator.chat(body), "/chat/completions", assemble_chat)


class ResponsesEndpoint(Endpoint):
    path = "/v1/responses"
    capability = "chat"  # a chat-only candidate answers through its chat completions
    assemble = staticmethod(assemble_responses)

    def __init__(self) -> None:
        self.history = ConversationLog()  # used in the proxy process only (admit, primary_done)

    def admit(self, raw: bytes) -> tuple[str | None, object, object]:
        """The earlier turns of a `previous_response_id` conversation, from this process's log (the context sent
        with the job); the request as the memo, to remember with the primary's answer."""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return None, None, None  # the worker records it (not_json)
        if body.get("conversation"):
            return "stateful_request", None, None  # a Conversations-API object: its items live at the primary only
        prev = body.get("previous_response_id")
        earlier = self.history.items(prev) if isinstance(prev, str) and prev else None
        if prev and earlier is None:
            return "stateful_request", None, None  # an earlier turn this proxy did not see (sampled out, expired)
        return None, earlier, body

    def primary_done(self, memo, outcome) -> None:
        """Remember the primary's answer as soon as it is known, before the app can send the next turn."""
        self.history.remember(memo, outcome)

    @staticmethod
    def expand(body: dict, earlier: list | None) -> tuple[dict, int]:
        """`body` with `previous_response_id` replaced by the conversation so far in `input` (the earlier turns
        with the primary's answers): the candidate never saw them. Returns (body, items added)."""
        if not earlier or not body.get("previous_response_id"):
            return body, 0
        b = {k: v for k, v in body.items() if k != "previous_response_id"}
        b["input"] = earlier + input_items(body.get("input"))
        return b, len(earlier)

    def candidate(self, translator, body: dict, context=None) -> CandidateLeg:
        body, added = self.expand(body, context)
        leg = self._candidate(translator, body)
        if added:
            leg.request.changes.insert(0, {"action": "expanded", "field": "previous_response_id",
                                           "detail": f"{added} earlier items of the conversation, with the "
                                                     "primary's answers, sent in input"})
        return leg

    def _candidate(self, translator, body: dict) -> CandidateLeg:
        model = translator.candidate.model_for(body.get("model"))
        if translator.profile(model).supports("responses"):
            b = dict(body)
            changes: list = []
            if model and model != body.get("model"):
                b["model"] = model
                changes.append({"action": "mapped", "field": "model", "detail": f"{body.get('model')} → {model}"})
            if b.get("store", True):
                b["store"] = False  # a mirrored request leaves nothing behind at the candidate
                changes.append({"action": "set", "field": "store", "detail": "false on the mirror leg"})
            return CandidateLeg(CandidateRequest(body=b, changes=changes), "/responses", assemble_responses)
        cr = translator.chat(request_to_chat(body))
        cr.changes.insert(0, {"action": "translated", "field": "endpoint",
                              "detail": "/v1/responses → /v1/chat/completions (the candidate's profile has no "
                                        "Responses API)"})
        return CandidateLeg(cr, "/chat/completions", assemble_chat)

    def comparable(self, body: dict) -> dict:
        return to_chat(body)

    def compare_request(self, body: dict, context=None) -> dict:
        return request_to_chat(self.expand(body, context)[0], strict=False)


def input_items(value) -> list:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return [i for i in value or [] if isinstance(i, dict)]


def output_as_input(output) -> list:
    """The primary's output items as input items another backend accepts: messages and function calls, without
    the primary's item ids; reasoning (often encrypted) and built-in tool calls are the primary's own."""
    items = []
    for o in output or []:
        if not isinstance(o, dict):
            continue
        if o.get("type") == "message":
            parts = [{"type": "output_text", "text": p.get("text", "")} for p in o.get("content") or []
                     if isinstance(p, dict) and p.get("type") == "output_text"]
            items.append({"type": "message", "role": "assistant", "content": parts})
        elif o.get("type") == "function_call":
            items.append({k: o.get(k) for k in ("type", "call_id", "name", "arguments")})
    return items


class ConversationLog:
    """The turns of mirrored Responses conversations, by the primary's response id: each entry is one turn's
    input and the primary's output, linked to its parent, so a conversation of n turns costs n entries. Bounded
    by count and age (the least recently stored go first); in memory, per proxy process."""

    def __init__(self, max_entries: int = 10_000, ttl_s: float = 3600.0) -> None:
        self.max_entries, self.ttl_s = max_entries, ttl_s
        self._turns: OrderedDict[str, tuple[float, str | None, list]] = OrderedDict()

    def remember(self, request: dict, outcome) -> None:
        """Log one turn: the request and the primary's outcome (shadow.worker.PrimaryOutcome)."""
        try:
            if outcome.error or outcome.status != 200 or outcome.raw is None:
                return
            raw = decode_body(outcome.raw, outcome.content_encoding)
            resp = assemble_responses(raw) if outcome.stream else json.loads(raw)
        except Exception:  # noqa: BLE001 - a turn not remembered only means its follow-up is not mirrored
            return
        rid = resp.get("id") if isinstance(resp, dict) else None
        if not isinstance(rid, str):
            return
        parent = request.get("previous_response_id")
        turn = input_items(request.get("input")) + output_as_input(resp.get("output"))
        self._turns[rid] = (time.monotonic() + self.ttl_s, parent if isinstance(parent, str) else None, turn)
        self._turns.move_to_end(rid)
        while len(self._turns) > self.max_entries:
            self._turns.popitem(last=False)

    def items(self, rid: str) -> list | None:
        """The whole conversation up to and including response `rid`, oldest first; None when any turn of it
        is unknown or expired (a partial history would be another conversation)."""
        chain: list[list] = []
        now = time.monotonic()
        seen = set()
        while rid is not None:
            entry = self._turns.get(rid)
            if entry is None or entry[0] < now or rid in seen:
                return None
            seen.add(rid)
            chain.append(entry[2])
            rid = entry[1]
        return [item for turn in reversed(chain) for item in turn]


class EmbeddingsEndpoint(Endpoint):
    path = "/v1/embeddings"
    capability = "embeddings"
    comparators = "knn"
    one_worker = True  # the neighbour windows per family live in one worker

    def candidate(self, translator, body: dict, context=None) -> CandidateLeg:
        b = dict(body)
        changes: list = []
        model = translator.candidate.model_for(body.get("model"))
        if model and model != body.get("model"):
            b["model"] = model
            changes.append({"action": "mapped", "field": "model", "detail": f"{body.get('model')} → {model}"})
        if b.pop("dimensions", None) is not None:
            changes.append({"action": "dropped", "field": "dimensions",
                            "detail": "the candidate embeds at its own size (vectors are re-indexed anyway)"})
        return CandidateLeg(CandidateRequest(body=b, changes=changes), "/embeddings", assemble_chat)

    def pair_columns(self, primary, candidate, noise) -> dict:
        cols = {}
        for side, r in (("primary", primary), ("candidate", candidate), ("noise", noise)):
            if r is not None and r.ok:
                cols[f"{side}_dims"] = dims_of(r.body)
        return cols

    def for_store(self, result) -> bool:
        if result is None or not result.ok:
            return False
        result.body = summary(result.body, dims_of(result.body))
        result.raw = json.dumps(result.body, separators=(",", ":")).encode()
        result.streamed = False
        return True


# Path -> endpoint class; the proxy and each worker make their own instances (the proxy's Responses one keeps
# conversations).
ENDPOINTS: dict[str, type[Endpoint]] = {e.path: e for e in (ChatEndpoint, ResponsesEndpoint, EmbeddingsEndpoint)}


def mirrored(paths: list[str], translator) -> tuple[dict[str, Endpoint], list[str]]:
    """The configured endpoints the candidate can be sent, and a note for each left out. A candidate whose
    profile cannot be loaded is sent them all (each pair then records what the translation said)."""
    out, notes = {}, []
    try:
        profile = translator.profile(translator.candidate.model_for(None))
    except Exception as exc:  # noqa: BLE001 - reported once here; the pairs carry the per-request error
        profile = None
        notes.append(f"candidate backend profile not loaded ({type(exc).__name__}: {exc}): every configured "
                     "endpoint is mirrored"[:300])
    for path in paths:
        ep = ENDPOINTS[path]()
        if profile is not None and not profile.supports(ep.capability):
            notes.append(f"{path}: not mirrored (the candidate's backend profile '{translator.candidate.kind}' "
                         f"does not serve {ep.capability}; rules/backends/{translator.candidate.kind}.toml)")
            continue
        out[path] = ep
    return out, notes
