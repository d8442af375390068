"""The mirror: decides per request whether a candidate (and sometimes a second primary) call is made, runs
those calls on a bounded pool fed by a bounded queue, compares, and hands the pair to the store writer.

Never back-pressures the primary: when the queue is full the mirror is dropped and counted (`queue_full`).
The job starts when the request arrives, so primary, second primary and candidate run at the same moment.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timezone

import aiohttp
from yarl import URL

from offramp.shadow.comparators import CompareContext, build_knn, run_all
from offramp.shadow.config import ShadowConfig
from offramp.shadow.endpoints import mirrored
from offramp.shadow.family import request_family
from offramp.shadow.logs import event
from offramp.shadow.metrics import Metrics
from offramp.shadow.privacy import Redactor, key_id
from offramp.shadow.routing import RequestInfo
from offramp.shadow.spend import SpendMeter
from offramp.shadow.store.writer import StoreWriter
from offramp.shadow.translation import Translator, cost_usd
from offramp.shadow.upstream import CallResult, call, decode_body, parse_response

__all__ = ["Mirror", "MirrorJob", "PrimaryOutcome", "SpendMeter", "SKIP_REASONS"]

_bits = random.getrandbits

SKIP_REASONS = (
    "sampled_out", "queue_full", "body_too_large", "endpoint_not_mirrored", "spend_cap", "stateful_request",
)


@dataclass
class PrimaryOutcome:
    status: int | None
    raw: bytes | None
    content_encoding: str | None
    stream: bool
    ttft_ms: float | None
    total_ms: float | None
    error: str | None = None


@dataclass
class MirrorJob:
    endpoint: str
    body: dict
    raw_request: bytes
    stream: bool
    authorization: str | None  # held in memory for the second-primary call only; never stored
    key_id: str | None
    noise: bool
    served_by: str = "primary"
    ramp_share: float | None = None
    created_at: float = field(default_factory=time.time)
    primary: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def set_primary(self, outcome: PrimaryOutcome) -> None:
        if not self.primary.done():
            self.primary.set_result(outcome)


class Mirror:
    def __init__(
        self,
        cfg: ShadowConfig,
        *,
        session_factory,
        comparators: list,
        writer: StoreWriter,
        metrics: Metrics,
        translator: Translator,
        redactor: Redactor,
    ) -> None:
        self.cfg = cfg
        self.mcfg = cfg.mirror
        self.share = cfg.mirror.sample
        self.noise_share = cfg.mirror.noise_sample
        self._session_factory = session_factory
        self.comparators = comparators
        self.writer = writer
        self.metrics = metrics
        self.translator = translator
        self.redactor = redactor
        self.spend = SpendMeter(cfg.mirror.daily_spend_cap_usd)
        writer.track_spend(self.spend)  # the day's spend is shared through the store (restarts, replicas)
        self.queue: asyncio.Queue[MirrorJob] = asyncio.Queue(maxsize=cfg.mirror.queue_size)
        # The endpoint table (shadow.endpoints): which paths are mirrored, how, and which comparators judge them.
        self.legs, self.notes = mirrored(cfg.mirror.endpoints, translator)
        self.endpoints = set(self.legs)
        self.knn = [build_knn(cfg.comparators)]
        self.skips = dict.fromkeys(SKIP_REASONS, 0)
        self.outcomes: dict[str, int] = {}
        self._workers: list[asyncio.Task] = []
        # Parsed once per path: a str URL is parsed again by the client on every call.
        self._urls: dict[str, URL] = {}
        self._candidate_key = cfg.candidate.api_key()
        self.metrics.sample.set(self.share)
        self._rand = random.random
        self._skip_children = {r: metrics.skips.labels(r) for r in SKIP_REASONS}
        self._children: dict = {}

    def _child(self, metric, *labels: str):
        """Cached `metric.labels(...)`: the lookup costs more than the increment."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # ---- request path (must stay cheap) ----
    def _skip(self, reason: str) -> None:
        self.skips[reason] += 1
        self._skip_children[reason].inc()
        self.writer.count("mirror_skip", reason)

    def offer(
        self,
        info: RequestInfo,
        authorization: str | None,
        *,
        served_by: str = "primary",
        ramp_share: float | None = None,
    ) -> MirrorJob | None:
        """A job to complete with the primary's outcome, or None (and the reason counted). Cheapest checks
        first: a sampled-out request costs no JSON parse."""
        if info.endpoint not in self.endpoints:
            self._skip("endpoint_not_mirrored")
            return None
        if self.share <= 0.0 or (self.share < 1.0 and self._rand() >= self.share):
            self._skip("sampled_out")
            return None
        raw = info.raw
        if len(raw) > self.mcfg.max_body_bytes:
            self._skip("body_too_large")
            return None
        if self.spend.exhausted():
            self._skip("spend_cap")
            return None
        if self.queue.full():
            self._skip("queue_full")
            return None
        body = info.body
        if body is None:
            self._skip("endpoint_not_mirrored")  # not a JSON object: nothing to translate
            return None
        why = self.legs[info.endpoint].skip_reason(body)
        if why is not None:
            self._skip(why)
            return None
        job = MirrorJob(
            endpoint=info.endpoint,
            body=body,
            raw_request=raw,
            stream=bool(body.get("stream")),
            authorization=authorization,
            key_id=key_id(authorization),
            noise=self.noise_share > 0 and self._rand() < self.noise_share,
            served_by=served_by,
            ramp_share=ramp_share,
        )
        self.legs[info.endpoint].watch(job)
        self.queue.put_nowait(job)
        return job

    # ---- workers ----
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for i in range(self.mcfg.concurrency):
            self._workers.append(loop.create_task(self._worker(), name=f"shadow-mirror-{i}"))

    async def stop(self, grace_s: float = 5.0) -> None:
        """Let queued and running jobs finish for up to `grace_s`, then cancel the rest."""
        deadline = time.monotonic() + grace_s
        while (self.queue.qsize() or self._busy) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for t in self._workers:
            t.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()

    _busy = 0

    async def _worker(self) -> None:
        while True:
            job = await self.queue.get()
            self._busy += 1
            try:
                await self.run_job(job)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a mirror bug must never surface to the app
                self._outcome("internal_error")
                event("mirror job failed", 40, error=f"{type(exc).__name__}: {exc}"[:200])
            finally:
                self._busy -= 1
                self.queue.task_done()

    def _outcome(self, outcome: str, target: str = "candidate") -> None:
        self.outcomes[f"{target}:{outcome}"] = self.outcomes.get(f"{target}:{outcome}", 0) + 1
        self._child(self.metrics.mirrors, target, outcome).inc()
        self.writer.count(f"mirror_{target}", outcome)

    def _url(self, base: str, path: str) -> URL:
        u = self._urls.get(base + path)
        if u is None:
            u = self._urls[base + path] = URL(base + path)
        return u

    async def run_job(self, job: MirrorJob) -> None:
        session: aiohttp.ClientSession = self._session_factory()
        timeout = self.mcfg.timeout_s
        translated_error = None
        leg = self.legs[job.endpoint]
        try:
            cleg = leg.candidate(self.translator, job.body)
            creq = cleg.request
        except Exception as exc:  # noqa: BLE001 - untranslatable request: recorded, not sent
            why = f": {exc}" if getattr(exc, "public", False) else ""  # only messages known to hold no content
            cleg, creq, translated_error = None, None, f"translation_error: {type(exc).__name__}{why}"[:200]
        cand_headers = {"content-type": "application/json"}
        if self._candidate_key:
            cand_headers["authorization"] = f"Bearer {self._candidate_key}"
        calls: dict[str, Coroutine] = {}
        # Serialised once, compact: the bytes sent are the bytes stored as the translated request.
        cand_text = json.dumps(creq.body, separators=(",", ":")) if creq is not None else None
        cand_bytes = cand_text.encode() if cand_text is not None else None
        if cand_bytes is not None:
            calls["candidate"] = call(
                session, self._url(self.cfg.candidate.base_url, cleg.path), cand_bytes, cand_headers,
                stream=job.stream, timeout_s=timeout, assemble=cleg.assemble,
            )
        if job.noise:
            noise_headers = {"content-type": "application/json"}
            if job.authorization:
                noise_headers["authorization"] = job.authorization
            # The app's own request bytes, as the primary first received them.
            calls["noise"] = call(
                session, self._url(self.cfg.primary.base_url, job.endpoint[len("/v1"):]), job.raw_request,
                noise_headers, stream=job.stream, timeout_s=timeout, assemble=leg.assemble,
            )
        job.authorization = None  # drop the app's key as soon as the second-primary call holds it
        loop = asyncio.get_running_loop()
        primary_deadline = loop.time() + self.cfg.server.primary_timeout_s + 5  # from now, as the legs start
        results: dict[str, CallResult] = {}
        # The primary runs in its own request handler meanwhile, so one leg is simply awaited here (no task);
        # two legs run side by side.
        if len(calls) == 1:
            (name, coro), = calls.items()
            results[name] = await coro
        elif calls:
            for name, r in zip(calls, await asyncio.gather(*calls.values()), strict=True):
                results[name] = r
        if job.primary.done():
            outcome: PrimaryOutcome = job.primary.result()
        else:
            try:
                outcome = await asyncio.wait_for(
                    asyncio.shield(job.primary), max(0.0, primary_deadline - loop.time())
                )
            except asyncio.TimeoutError:
                outcome = PrimaryOutcome(None, None, None, job.stream, None, None, "primary_timeout")
        cand = results.get("candidate") or CallResult(error=translated_error or "not_sent")
        noise = results.get("noise")
        self._outcome(cand.error or "ok")
        if noise is not None:
            self._outcome(noise.error or "ok", "noise")

        primary = self._primary_result(outcome, leg.assemble)
        cand_model = creq.body.get("model") if creq else None
        cand_parsed = cand.body  # the body as received: what the stored text is, for redaction without a re-parse
        if cand.ok and creq is not None:
            try:
                cand.body = self.translator.normalize(cand.body, cand_model)
            except Exception:  # noqa: BLE001 - compare the raw body if normalisation fails
                pass

        prim_model = job.body.get("model")
        # Priced at the request's arrival (UTC), not when the mirror finished: DeepSeek bills by time window.
        now = datetime.fromtimestamp(job.created_at, timezone.utc)
        pprov = self.cfg.primary.price_provider or self.cfg.primary.kind
        cprov = self.cfg.candidate.price_provider or self.cfg.candidate.kind
        p_cost = cost_usd(pprov, prim_model, primary.usage, now)
        c_cost = cost_usd(cprov, cand_model, cand.usage, now)
        n_cost = cost_usd(pprov, prim_model, noise.usage, now) if noise else None
        self.spend.add(c_cost)
        self.spend.add(n_cost)
        for side, r in (("primary", primary), ("candidate", cand), ("noise", noise)):
            if r is not None and r.error is None:
                if r.ttft_ms is not None:
                    self._child(self.metrics.latency, side, "ttft").observe(r.ttft_ms / 1000)
                if r.total_ms is not None:
                    self._child(self.metrics.latency, side, "total").observe(r.total_ms / 1000)

        pair_id = f"{_bits(128):032x}"  # unique, not secret: no urandom syscall per pair
        family = request_family(job.body)
        ctx = CompareContext(request=leg.compare_request(job.body), session=session, family=family)
        comparators = self.knn if leg.comparators == "knn" else self.comparators
        prim_cmp = leg.comparable(primary.body) if primary.ok else None
        cmp_rows: list[dict] = []
        created = time.time()
        cancelled = False
        for side, other in (("candidate", cand), ("noise", noise)):
            if other is None or not (primary.ok and other.ok) or cancelled:
                continue
            verdicts: dict = {}
            ctx.side = side
            try:
                await run_all(comparators, prim_cmp, leg.comparable(other.body), ctx, out=verdicts)
            except asyncio.CancelledError:
                # Shutdown grace ran out mid-comparison (a slow model): keep the pair and the verdicts reached.
                cancelled = True
            for name, v in ((n, one) for n, vs in verdicts.items() for one in (vs if isinstance(vs, list) else [vs])):
                if v.agree is not None:
                    self._child(self.metrics.agreement, name, side, "agree" if v.agree else "disagree").inc()
                cmp_rows.append(
                    {
                        "pair_id": pair_id,
                        "created_at": created,
                        "family": family,
                        "side": side,
                        "comparator": name,
                        "agree": v.agree,
                        "score": v.score,
                        "detail": json.dumps(v.detail, default=str) if v.detail else None,
                    }
                )

        extra = leg.pair_columns(primary, cand, noise)
        if [leg.for_store(r) for r in (primary, cand, noise)].count(True):
            cand_parsed = cand.body  # e.g. embeddings: the vectors' size is stored, not the vectors
        red = self.redactor.apply
        pair = {
            "id": pair_id,
            "created_at": job.created_at,
            "endpoint": job.endpoint,
            "family": family,
            "key_id": job.key_id,
            "stream": job.stream,
            "served_by": job.served_by,
            "ramp_share": job.ramp_share,
            "privacy": self.redactor.mode,
            "primary_model": prim_model,
            "candidate_model": cand_model,
            "request_body": red(job.raw_request.decode("utf-8", "replace"), job.body),
            "candidate_request": red(cand_text, creq.body) if cand_text is not None else None,
            "translation_changes": json.dumps(creq.changes, default=str) if creq else translated_error,
            "candidate_endpoint": "/v1" + cleg.path if cleg is not None else None,
            **extra,
            **_side("primary", primary, p_cost, red),
            **_side("candidate", cand, c_cost, red, cand_parsed),
            **(_side("noise", noise, n_cost, red) if noise else {}),
        }
        self.writer.submit(pair, cmp_rows)
        if cancelled:
            raise asyncio.CancelledError

    @staticmethod
    def _primary_result(o: PrimaryOutcome, assemble=None) -> CallResult:
        if o.error or o.raw is None or o.status is None:
            return CallResult(status=o.status, error=o.error or "no_response", total_ms=o.total_ms)
        try:
            raw = decode_body(o.raw, o.content_encoding)
        except Exception:  # noqa: BLE001
            return CallResult(status=o.status, error="undecodable_body", total_ms=o.total_ms)
        r = parse_response(raw, stream=o.stream, status=o.status, **({"assemble": assemble} if assemble else {}))
        r.ttft_ms, r.total_ms = o.ttft_ms, o.total_ms
        return r


def _side(side: str, r: CallResult, cost: float | None, red, parsed=...) -> dict:
    """The pair's columns for one side. `parsed`: the JSON of `r.raw` when `r.body` is no longer it (the
    candidate's body is normalised after parsing); the redactor walks it instead of parsing the text again."""
    doc = ...
    if r.body is not None and r.raw is not None and not r.streamed:
        body_text = r.raw.decode("utf-8", "replace")  # what the upstream sent, no re-serialisation
        doc = r.body if parsed is ... else parsed
    elif r.body is not None:
        body_text = json.dumps(r.body)  # a stream, stored as the completion rebuilt from it
        doc = r.body
    elif r.raw is not None:
        body_text = r.raw[:4096].decode("utf-8", "replace")
    else:
        body_text = None
    return {
        f"{side}_status": r.status,
        f"{side}_body": red(body_text, doc),
        f"{side}_ttft_ms": r.ttft_ms,
        f"{side}_total_ms": r.total_ms,
        f"{side}_usage": json.dumps(r.usage) if r.usage else None,
        f"{side}_cost_usd": cost,
        f"{side}_error": (r.error + (f": {r.detail}" if r.detail else ""))[:200] if r.error else None,
    }
