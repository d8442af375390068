"""The mirrored endpoints: for each path the mirror copies, how the candidate's request is made, how a stream
is rebuilt, what the comparators see and what is stored. The mirror looks the request's path up here; adding an
endpoint is a row in `ENDPOINTS`, not a branch in the mirror.

- `/v1/chat/completions`: translated by the adapter for the candidate's profile; the text comparators.
- `/v1/responses`: sent as is (model mapped, `store` off) to a candidate whose profile serves the Responses API,
  else translated to a chat request (shadow.comparators.responses_shape) and sent to its chat completions. Both
  answers are brought to the chat shape, so the same comparators judge them. A request continuing a
  conversation the primary keeps (`previous_response_id`, `conversation`) is not mirrored (`stateful_request`):
  the candidate never saw the earlier turns.
- `/v1/embeddings`: model mapped (`dimensions` dropped: the candidate embeds at its own size); judged by
  nearest-neighbour agreement (shadow.comparators.embeddings_knn); the vectors' dimensions are stored, the
  vectors are not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from offramp.shadow.comparators.embeddings_knn import dims_of, summary
from offramp.shadow.comparators.responses_shape import (
    STATEFUL_KEYS,
    assemble_responses,
    request_to_chat,
    to_chat,
)
from offramp.shadow.sse import assemble_chat
from offramp.shadow.translation import CandidateRequest


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
    assemble = staticmethod(assemble_chat)  # the primary's stream (the app's endpoint)

    def skip_reason(self, body: dict) -> str | None:
        return None

    def candidate(self, translator, body: dict) -> CandidateLeg:
        raise NotImplementedError

    def comparable(self, body: dict) -> dict:
        """The body as the comparators read it (chat-completion shape, or the embeddings list)."""
        return body

    def compare_request(self, body: dict) -> dict:
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

    def candidate(self, translator, body: dict) -> CandidateLeg:
        return CandidateLeg(translator.chat(body), "/chat/completions", assemble_chat)


class ResponsesEndpoint(Endpoint):
    path = "/v1/responses"
    capability = "chat"  # a chat-only candidate answers through its chat completions
    assemble = staticmethod(assemble_responses)

    def skip_reason(self, body: dict) -> str | None:
        return "stateful_request" if any(body.get(k) for k in STATEFUL_KEYS) else None

    def candidate(self, translator, body: dict) -> CandidateLeg:
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

    def compare_request(self, body: dict) -> dict:
        return request_to_chat(body, strict=False)


class EmbeddingsEndpoint(Endpoint):
    path = "/v1/embeddings"
    capability = "embeddings"
    comparators = "knn"

    def candidate(self, translator, body: dict) -> CandidateLeg:
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


ENDPOINTS: dict[str, Endpoint] = {e.path: e for e in (ChatEndpoint(), ResponsesEndpoint(), EmbeddingsEndpoint())}


def mirrored(paths: list[str], translator) -> tuple[dict[str, Endpoint], list[str]]:
    """The configured endpoints the candidate can be sent, and a note for each left out."""
    out, notes = {}, []
    for path in paths:
        ep = ENDPOINTS[path]
        try:
            profile = translator.profile(translator.candidate.model_for(None))
        except Exception as exc:  # noqa: BLE001 - an unknown kind is the adapter's error, reported once here
            notes.append(f"{path}: not mirrored (candidate profile: {type(exc).__name__}: {exc})"[:200])
            continue
        if not profile.supports(ep.capability):
            notes.append(f"{path}: not mirrored (the candidate's backend profile '{translator.candidate.kind}' "
                         f"does not serve {ep.capability}; rules/backends/{translator.candidate.kind}.toml)")
            continue
        out[path] = ep
    return out, notes
