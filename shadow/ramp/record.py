"""The record of one candidate-served (or fallen-back) request of the ramp: for a shadow-sampled one the primary
is asked afterwards and compared with what was served; then the pair is redacted, priced and written.

Runs in a mirror worker process (shadow/worker.py: the proxy hands it a `record` frame, shadow/mirror.py
`hand_record`), like the mirror's own comparisons; in the proxy process only when no worker can take it (none
alive, or the hand-off full), so a record the ramp's gates count is never dropped. `host` is whichever runs
it: it has `cfg`, `translator`, `redactor`, `comparators`, `session` and `writer`.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from offramp.shadow.store import schema

CHAT = "/v1/chat/completions"


@dataclass
class ServedRecord:
    """What the proxy knows of a ramp-routed request once the app has its answer (pickled to the worker)."""

    raw: bytes  # the app's request, as sent (parsed again where it is recorded)
    creq: object  # shadow.translation.CandidateRequest sent to the candidate, or None (untranslatable)
    res: object  # shadow.upstream.CallResult of the candidate call, or None
    error: str | None
    share: float
    created: float
    stream: bool
    shadow: bool  # ask the primary now and compare
    authorization: str | None  # the app's key: key id, and the shadow primary call; never stored
    primary_status: int | None = None
    served_by: str = "primary"
    pair_id: str = ""

    def __post_init__(self) -> None:
        if not self.pair_id:
            self.pair_id = uuid.uuid4().hex

    def nbytes(self) -> int:
        return len(self.raw) + len(getattr(self.res, "raw", None) or b"")


async def record_served(host, rec: ServedRecord) -> None:
    """Write `rec`'s pair (and, when shadowed, the primary's answer and the comparators' verdicts) with
    `host.writer`."""
    from offramp.shadow.comparators import CompareContext, run_all
    from offramp.shadow.family import request_family
    from offramp.shadow.privacy import key_id
    from offramp.shadow.translation import cost_usd
    from offramp.shadow.upstream import CallResult, call
    from offramp.shadow.worker import pair_side

    cfg = host.cfg
    red = host.redactor.apply
    body = json.loads(rec.raw)
    creq, error, stream = rec.creq, rec.error, rec.stream
    res = rec.res or CallResult(error=error)
    if error and res.error is None:
        res.error = error
    primary = None
    if rec.shadow:
        headers = {"content-type": "application/json"}
        if rec.authorization:
            headers["authorization"] = rec.authorization  # the app's own key, to its own provider; never stored
        primary = await call(host.session, cfg.primary.base_url + "/chat/completions", body, headers,
                             stream=stream, timeout_s=cfg.server.primary_timeout_s)
    cand_model = creq.body.get("model") if creq else None
    cand_parsed = res.body
    if res.error is None and res.body is not None and creq is not None:
        try:
            res.body = host.translator.normalize(res.body, cand_model)
        except Exception:  # noqa: BLE001
            pass
    # Priced at the request's arrival, as the mirror prices its pairs: DeepSeek bills by time window.
    priced_at = datetime.fromtimestamp(rec.created, timezone.utc)
    pprov = cfg.primary.price_provider or cfg.primary.kind
    cprov = cfg.candidate.price_provider or cfg.candidate.kind
    pair_id = rec.pair_id
    family = request_family(body)
    cmp_rows = []
    if rec.shadow and primary is not None and primary.error is None and res.error is None and primary.body \
            and res.body:
        verdicts = await run_all(host.comparators, primary.body, res.body,
                                 CompareContext(request=body, session=host.session))
        for name, v in verdicts.items():
            cmp_rows.append({"pair_id": pair_id, "created_at": time.time(), "family": family,
                             "side": "candidate", "comparator": name, "agree": v.agree, "score": v.score,
                             "detail": json.dumps(v.detail, default=str) if v.detail else None})

    pair = {
        "id": pair_id, "created_at": rec.created, "endpoint": CHAT, "family": family,
        "key_id": key_id(rec.authorization) if rec.authorization else None, "stream": stream,
        "served_by": rec.served_by, "ramp_share": rec.share,
        "privacy": host.redactor.mode, "primary_model": body.get("model"), "candidate_model": cand_model,
        "request_body": red(rec.raw.decode("utf-8", "replace")),
        "candidate_request": red(json.dumps(creq.body)) if creq else None,
        "translation_changes": json.dumps(creq.changes, default=str) if creq else error,
        **pair_side("candidate", res, cost_usd(cprov, cand_model, res.usage, priced_at), red, cand_parsed),
        **(pair_side("primary", primary, cost_usd(pprov, body.get("model"), primary.usage, priced_at), red)
           if primary is not None else {}),
    }
    if primary is None and rec.primary_status is not None:
        pair["primary_status"] = rec.primary_status
    # Every column present: the writer inserts batches with executemany, which needs uniform rows.
    full = {c.name: None for c in schema.pairs.columns}
    full.update(pair)
    host.writer.submit(full, cmp_rows)
