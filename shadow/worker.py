"""The mirror worker process: everything the mirror does besides deciding, so the proxy's event loop only
forwards the primary and hands jobs off.

The proxy (shadow/mirror.py) starts it from a fork server (multiprocessing "forkserver", modules preloaded), it
connects back over a Unix socket in a private directory, and the proxy sends it length-prefixed pickled frames: the config, then per mirrored request a `job` (the request bytes, as the
app sent them, and what the endpoint's request-path state adds: a Responses conversation's earlier turns) at
arrival and a `primary` (the primary's answer) when the primary has finished. Here, by the endpoint table
(shadow/endpoints.py: the candidate's request and path, how streams are rebuilt, which comparators judge), the
candidate (and noise) calls are made, the answers normalised, priced, compared (structural, text, embeddings,
judge; embeddings' neighbour agreement with its rolling windows per family), redacted and written to the store
in batches. Back go a `health` frame per candidate call (feeds the
circuit breaker) and `settled` frames once the pairs are in the store (or why not), which the proxy counts.

When the proxy goes away (clean stop or `kill -9`: end of file on the socket) the worker finishes the jobs it
holds (up to 5 s), writes everything pending and exits; so a killed proxy process loses only its own counters
of the last flush interval, not the pairs it already handed off.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import random
import signal
import socket
import struct
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timezone

_HDR = struct.Struct("!I")
_bits = random.getrandbits


def encode(msg: tuple) -> bytes:
    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    return _HDR.pack(len(data)) + data


class FrameWriter:
    """Frames written together: those sent within `delay_s` (0: the same loop iteration) go out in one
    `send()`, so a busy proxy pays one syscall and the other side one wake-up per batch, not per frame."""

    def __init__(self, writer: asyncio.StreamWriter, delay_s: float = 0.0) -> None:
        self.writer = writer
        self.delay_s = delay_s
        self._buf: list[bytes] = []
        self._loop = asyncio.get_running_loop()
        self._scheduled = False

    @property
    def closing(self) -> bool:
        return self.writer.is_closing()

    def send(self, msg: tuple) -> bool:
        if self.writer.is_closing():
            return False
        self._buf.append(encode(msg))
        if not self._scheduled:
            self._scheduled = True
            if self.delay_s:
                self._loop.call_later(self.delay_s, self.flush)
            else:
                self._loop.call_soon(self.flush)
        return True

    def flush(self) -> None:
        self._scheduled = False
        if self._buf and not self.writer.is_closing():
            self.writer.write(b"".join(self._buf))
        self._buf.clear()

    def buffered(self) -> int:
        return self.writer.transport.get_write_buffer_size()


async def frames(reader: asyncio.StreamReader):
    """Every frame from `reader` until end of file, parsed from whatever each read brought (many at once)."""
    buf = b""
    hdr = _HDR.size
    unpack = _HDR.unpack_from
    loads = pickle.loads
    while True:
        try:
            chunk = await reader.read(1 << 20)
        except ConnectionError:
            return
        if not chunk:
            return
        buf = buf + chunk if buf else chunk
        pos, end = 0, len(buf)
        out = []
        while end - pos >= hdr:
            n = unpack(buf, pos)[0]
            if end - pos - hdr < n:
                break
            out.append(loads(buf[pos + hdr:pos + hdr + n]))
            pos += hdr + n
        buf = buf[pos:]
        for msg in out:
            yield msg


async def read_frame(reader: asyncio.StreamReader) -> tuple | None:
    """The next frame, or None at end of file."""
    try:
        hdr = await reader.readexactly(_HDR.size)
        return pickle.loads(await reader.readexactly(_HDR.unpack(hdr)[0]))
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


@dataclass
class PrimaryOutcome:
    status: int | None
    raw: bytes | None
    content_encoding: str | None
    stream: bool | None
    ttft_ms: float | None
    total_ms: float | None
    error: str | None = None


@dataclass
class Job:
    id: int
    endpoint: str
    raw_request: bytes
    authorization: str | None  # held in memory for the second-primary call only; never stored
    noise: bool
    served_by: str
    ramp_share: float | None
    created_at: float
    context: object = None  # from the endpoint's `admit` in the proxy (a Responses conversation's earlier turns)
    primary: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    submitted: bool = False  # its pair went to the writer (which settles it)


class MirrorWorker:
    def __init__(self, cfg, replica: str, send) -> None:
        from yarl import URL

        from offramp.shadow import comparators as comparators_mod
        from offramp.shadow.privacy import Redactor
        from offramp.shadow.store.db import open_engine
        from offramp.shadow.store.writer import StoreWriter
        from offramp.shadow.translation import Translator

        self.cfg = cfg
        self.send = send
        self.translator = Translator(cfg.candidate)
        self.redactor = Redactor(cfg.store.privacy, cfg.store.redact_patterns)
        from offramp.shadow.endpoints import mirrored

        self.comparators, self.notes = comparators_mod.build(cfg.comparators)
        # The endpoint table, as the proxy built it (its notes are logged there); the embeddings' comparator keeps
        # its windows here, so the proxy sends every embeddings job to one worker.
        self.legs, _ = mirrored(cfg.mirror.endpoints, self.translator)
        self.knn = [comparators_mod.build_knn(cfg.comparators)]
        self.engine = open_engine(cfg.store.url)
        self.writer = StoreWriter(self.engine, replica=replica, batch_size=cfg.store.batch_size,
                                  flush_interval_s=cfg.store.flush_interval_s, max_pending=cfg.store.max_pending)
        self.writer.on_settled = self._settled
        self.sem = asyncio.Semaphore(cfg.mirror.concurrency)
        self.jobs: dict[int, Job] = {}
        self.tasks: set[asyncio.Task] = set()
        self.labels: dict[str, tuple[int, str, dict]] = {}  # pair id -> (job id, outcome, metrics info)
        self.record_ids: dict[str, int] = {}  # pair id -> the proxy's id of a ramp record (shadow/ramp/record.py)
        self.session = None
        self.calls: dict[int, float] = {}  # candidate calls on the wire: job id -> monotonic start
        self.last_answer = time.monotonic()
        self._ticker: asyncio.Task | None = None
        self._url_type = URL
        self._urls: dict[str, URL] = {}  # parsed once per path: a str URL is parsed again on every call
        self._candidate_key = cfg.candidate.api_key()

    async def start(self) -> None:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True)
        self.session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
        self.writer.start()
        self._warm()
        self._ticker = asyncio.get_running_loop().create_task(self._tick())
        for c in self.comparators:
            warm = getattr(c, "warm", None)
            if warm is not None:
                warm()

    async def _tick(self) -> None:
        """Twice a second: the candidate calls on the wire, the oldest one's age and the time since any answered.
        Measured here, where the calls are made, so a worker starved of CPU (or still starting) is never taken
        for a hanging candidate: no tick, no stall verdict."""
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            oldest = now - min(self.calls.values()) if self.calls else 0.0
            self.send(("tick", len(self.calls), oldest, now - self.last_answer if self.calls else 0.0))

    def _warm(self) -> None:
        """Load what the first job would load lazily (backend profile, price tables, SSE parser), so the first
        mirrored request is timed like the others."""
        from offramp.shadow.family import request_family
        from offramp.shadow.translation import cost_usd
        from offramp.shadow.upstream import parse_response

        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        try:
            creq = self.translator.chat(body)
            now = datetime.now(timezone.utc)
            usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
            cost_usd(self.cfg.candidate.price_provider or self.cfg.candidate.kind, creq.body.get("model"), usage, now)
            cost_usd(self.cfg.primary.price_provider or self.cfg.primary.kind, body["model"], usage, now)
            request_family(body)
            parse_response(b"data: [DONE]\n\n", stream=True, status=200)
        except Exception:  # noqa: BLE001 - warming is best effort; the job reports its own error
            pass

    async def stop(self, grace_s: float = 5.0) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self.tasks:
            _, pending = await asyncio.wait(list(self.tasks), timeout=grace_s)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2.0)
        for c in self.comparators:
            close = getattr(c, "close", None)
            if close is not None:
                await asyncio.to_thread(close)
        await self.writer.close()
        if self.session is not None:
            await self.session.close()
        self.engine.dispose()

    # ---- frames from the proxy ----
    def handle(self, msg: tuple) -> None:
        kind = msg[0]
        if kind == "job":
            _, jid, endpoint, raw, auth, noise, served_by, ramp_share, created, context = msg
            job = Job(jid, endpoint, raw, auth, noise, served_by, ramp_share, created, context)
            self.jobs[jid] = job
            t = asyncio.get_running_loop().create_task(self._run(job))
            self.tasks.add(t)
            t.add_done_callback(self.tasks.discard)
        elif kind == "primary":
            job = self.jobs.pop(msg[1], None)
            if job is not None and not job.primary.done():
                job.primary.set_result(PrimaryOutcome(*msg[2:]))
        elif kind == "record":  # a ramp-served request to shadow-compare and record (shadow/ramp/record.py)
            t = asyncio.get_running_loop().create_task(self._record(msg[1], msg[2]))
            self.tasks.add(t)
            t.add_done_callback(self.tasks.discard)
        elif kind == "sample":  # the admin API changed sampling: nothing to do here (decided in the proxy)
            pass

    def primary_gone(self, why: str) -> None:
        """The proxy went away: jobs still waiting for the primary's answer are recorded without it."""
        for job in list(self.jobs.values()):
            if not job.primary.done():
                job.primary.set_result(PrimaryOutcome(None, None, None, None, None, None, why))
        self.jobs.clear()

    async def _run(self, job: Job) -> None:
        from offramp.shadow.logs import event

        try:
            async with self.sem:
                await self.run_job(job)
        except asyncio.CancelledError:
            if not job.submitted:
                self.send(("settled", [(job.id, "skip:shutdown", None)]))
            raise
        except Exception as exc:  # noqa: BLE001 - a mirror bug must never stop the worker
            event("mirror job failed", 40, error=f"{type(exc).__name__}: {exc}"[:200])
            self.send(("health", job.id, None, None))
            self.send(("settled", [(job.id, "skip:internal_error", None)]))
        finally:
            self.jobs.pop(job.id, None)

    async def _record(self, rid: int, rec) -> None:
        from offramp.shadow.logs import event
        from offramp.shadow.ramp.record import record_served

        self.record_ids[rec.pair_id] = rid  # the writer reports it back by pair id (`_settled`)
        try:
            async with self.sem:
                await record_served(self, rec)
        except asyncio.CancelledError:
            if self.record_ids.pop(rec.pair_id, None) is not None:
                self.send(("recorded", [(rid, "shutdown")]))
            raise
        except Exception as exc:  # noqa: BLE001 - a recording bug must never stop the worker
            event("ramp record failed", 40, error=f"{type(exc).__name__}: {exc}"[:200])
            if self.record_ids.pop(rec.pair_id, None) is not None:
                self.send(("recorded", [(rid, "internal_error")]))

    def _settled(self, fates: list[tuple[str, str | None]]) -> None:
        out = []
        recs = []
        for pair_id, why in fates:
            rid = self.record_ids.pop(pair_id, None)
            if rid is not None:
                recs.append((rid, why))
                continue
            entry = self.labels.pop(pair_id, None)
            if entry is None:
                continue
            jid, label, info = entry
            out.append((jid, label if why is None else f"skip:{why}", info))
        if out:
            self.send(("settled", out))
        if recs:
            self.send(("recorded", recs))

    def _url(self, base: str, path: str):
        u = self._urls.get(base + path)
        if u is None:
            u = self._urls[base + path] = self._url_type(base + path)
        return u

    # ---- one mirrored request ----
    async def run_job(self, job: Job) -> None:
        from offramp.shadow.comparators import CompareContext, run_all
        from offramp.shadow.family import request_family
        from offramp.shadow.privacy import key_id
        from offramp.shadow.translation import cost_usd
        from offramp.shadow.upstream import CallResult, call

        cfg = self.cfg
        leg = self.legs.get(job.endpoint)
        try:
            body = json.loads(job.raw_request) if job.raw_request else None
        except ValueError:
            body = None
        if leg is None or not isinstance(body, dict):
            self.send(("health", job.id, None, None))
            self.send(("settled", [(job.id, "skip:not_json" if leg else "skip:endpoint_not_mirrored", None)]))
            return
        stream = bool(body.get("stream"))
        kid = key_id(job.authorization)
        timeout = cfg.mirror.timeout_s
        translated_error = None
        try:
            cleg = leg.candidate(self.translator, body, job.context)
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
        if cand_text is not None:
            calls["candidate"] = call(self.session, self._url(cfg.candidate.base_url, cleg.path), cand_text.encode(),
                                      cand_headers, stream=stream, timeout_s=timeout, assemble=cleg.assemble)
        if job.noise:
            noise_headers = {"content-type": "application/json"}
            if job.authorization:
                noise_headers["authorization"] = job.authorization
            # The app's own request bytes, as the primary first received them, at the app's endpoint.
            calls["noise"] = call(self.session, self._url(cfg.primary.base_url, job.endpoint[len("/v1"):]),
                                  job.raw_request, noise_headers, stream=stream, timeout_s=timeout,
                                  assemble=leg.assemble)
        job.authorization = None  # drop the app's key as soon as the second-primary call holds it
        loop = asyncio.get_running_loop()
        primary_deadline = loop.time() + cfg.server.primary_timeout_s + 5
        results: dict[str, CallResult] = {}

        async def candidate_leg(name: str, coro):
            if name != "candidate":
                return await coro
            self.calls[job.id] = time.monotonic()
            try:
                r = await coro
            finally:
                self.calls.pop(job.id, None)
                self.last_answer = time.monotonic()
            self.send(("health", job.id, r.error, r.status))  # the breaker hears it at once
            return r

        if len(calls) == 1:  # the usual case: awaited here, no task of its own
            name, coro = next(iter(calls.items()))
            results[name] = await candidate_leg(name, coro)
        elif calls:
            for name, r in zip(calls, await asyncio.gather(*(candidate_leg(n, c) for n, c in calls.items())),
                               strict=True):
                results[name] = r
        if "candidate" not in results:
            self.send(("health", job.id, translated_error or "not_sent", None))
        if job.primary.done():
            outcome: PrimaryOutcome = job.primary.result()
        else:
            try:
                outcome = await asyncio.wait_for(asyncio.shield(job.primary),
                                                 max(0.0, primary_deadline - loop.time()))
            except asyncio.TimeoutError:
                outcome = PrimaryOutcome(None, None, None, stream, None, None, "primary_timeout")
        cand = results.get("candidate") or CallResult(error=translated_error or "not_sent")
        noise = results.get("noise")

        primary = _primary_result(outcome, stream, leg.assemble)
        cand_model = creq.body.get("model") if creq else None
        cand_parsed = cand.body
        if cand.ok and creq is not None:
            try:
                cand.body = self.translator.normalize(cand.body, cand_model)
            except Exception:  # noqa: BLE001 - compare the raw body if normalisation fails
                pass

        prim_model = body.get("model")
        # Priced at the request's arrival (UTC), not when the mirror finished: DeepSeek bills by time window.
        now = datetime.fromtimestamp(job.created_at, timezone.utc)
        pprov = cfg.primary.price_provider or cfg.primary.kind
        cprov = cfg.candidate.price_provider or cfg.candidate.kind
        p_cost = cost_usd(pprov, prim_model, primary.usage, now)
        c_cost = cost_usd(cprov, cand_model, cand.usage, now)
        n_cost = cost_usd(pprov, prim_model, noise.usage, now) if noise else None

        pair_id = f"{_bits(128):032x}"
        family = request_family(body)
        ctx = CompareContext(request=leg.compare_request(body, job.context), session=self.session, family=family)
        comps = self.knn if leg.comparators == "knn" else self.comparators
        prim_cmp = leg.comparable(primary.body) if primary.ok else None
        cmp_rows: list[dict] = []
        verdict_info: list[tuple[str, str, bool]] = []
        created = time.time()
        cancelled = False
        compared = False
        for side, other in (("candidate", cand), ("noise", noise)):
            if other is None or not (primary.ok and other.ok) or cancelled:
                continue
            compared = compared or side == "candidate"
            verdicts: dict = {}
            ctx.side = side
            try:
                await run_all(comps, prim_cmp, leg.comparable(other.body), ctx, out=verdicts)
            except asyncio.CancelledError:
                cancelled = True  # shutdown grace ran out mid-comparison: keep the pair and the verdicts reached
            # A `multi` comparator (embeddings' neighbours) gives a list of verdicts per name: one per input.
            for name, v in ((n, one) for n, vs in verdicts.items() for one in (vs if isinstance(vs, list) else [vs])):
                if v.agree is not None:
                    verdict_info.append((name, side, bool(v.agree)))
                cmp_rows.append({"pair_id": pair_id, "created_at": created, "family": family, "side": side,
                                 "comparator": name, "agree": v.agree, "score": v.score,
                                 "detail": json.dumps(v.detail, default=str) if v.detail else None})

        extra = leg.pair_columns(primary, cand, noise)
        if [leg.for_store(r) for r in (primary, cand, noise)].count(True):
            cand_parsed = cand.body  # e.g. embeddings: the vectors' size is stored, not the vectors
        red = self.redactor.apply
        pair = {
            "id": pair_id, "created_at": job.created_at, "endpoint": job.endpoint, "family": family,
            "key_id": kid, "stream": stream, "served_by": job.served_by, "ramp_share": job.ramp_share,
            "privacy": self.redactor.mode, "primary_model": prim_model, "candidate_model": cand_model,
            "request_body": red(job.raw_request.decode("utf-8", "replace"), body),
            "candidate_request": red(cand_text, creq.body) if cand_text is not None else None,
            "translation_changes": json.dumps(creq.changes, default=str) if creq else translated_error,
            "candidate_endpoint": "/v1" + cleg.path if cleg is not None else None,
            **extra,
            **pair_side("primary", primary, p_cost, red),
            **pair_side("candidate", cand, c_cost, red, cand_parsed),
            **(pair_side("noise", noise, n_cost, red) if noise else {}),
        }
        # The one outcome this offered request ends in (counted by the proxy once the pair is in the store).
        if cand.error:
            label = f"error:{cand.error.split(':')[0]}"
        elif not primary.ok:
            label = "skip:primary_error"
        else:
            label = "compared" if compared else "skip:primary_error"
        info = {
            "candidate": (cand.error or "ok", cand.ttft_ms, cand.total_ms),
            "noise": (noise.error or "ok", noise.ttft_ms, noise.total_ms) if noise is not None else None,
            "cost": (c_cost or 0.0) + (n_cost or 0.0),
            "verdicts": verdict_info,
        }
        self.labels[pair_id] = (job.id, label, info)
        job.submitted = True
        self.writer.submit(pair, cmp_rows)
        if cancelled:
            raise asyncio.CancelledError


def _primary_result(o: PrimaryOutcome, stream: bool, assemble=None):
    from offramp.shadow.upstream import CallResult, decode_body, parse_response

    if o.error or o.raw is None or o.status is None:
        return CallResult(status=o.status, error=o.error or "no_response", total_ms=o.total_ms)
    try:
        raw = decode_body(o.raw, o.content_encoding)
    except Exception:  # noqa: BLE001
        return CallResult(status=o.status, error="undecodable_body", total_ms=o.total_ms)
    r = parse_response(raw, stream=stream if o.stream is None else o.stream, status=o.status,
                       **({"assemble": assemble} if assemble else {}))
    r.ttft_ms, r.total_ms = o.ttft_ms, o.total_ms
    return r


def pair_side(side: str, r, cost: float | None, red, parsed=...) -> dict:
    """The pair's columns for one side, for the mirror's pairs and the ramp's records alike: the body as the
    upstream sent it (for a candidate-served request, the bytes the app got). `parsed`: the JSON of `r.raw` when
    `r.body` is no longer it (the candidate's body is normalised after parsing); the redactor walks it instead of
    parsing the text again."""
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


async def _serve(sock: socket.socket) -> None:
    from offramp.shadow.config import ShadowConfig
    from offramp.shadow.logs import event, setup_logging

    reader, writer = await asyncio.open_unix_connection(sock=sock, limit=1 << 24)
    # Health and settled frames go back in batches of up to 5 ms: the proxy wakes once per batch.
    out = FrameWriter(writer, delay_s=0.005)
    first = await read_frame(reader)
    if first is None or first[0] != "config":
        return
    _, cfg_json, replica, log_level, env = first
    os.environ.update(env)  # the candidate's (and judge's) keys as the proxy read them
    setup_logging(log_level)
    cfg = ShadowConfig.model_validate_json(cfg_json)
    if cfg.mirror.worker_nice:
        try:
            os.nice(cfg.mirror.worker_nice)
        except OSError:  # not permitted here: run at the proxy's priority
            pass
    worker = MirrorWorker(cfg, replica, out.send)
    await worker.start()
    out.send(("ready", worker.notes))

    async def pump() -> None:
        async for msg in frames(reader):
            worker.handle(msg)

    # Ctrl-C reaches the whole process group: the proxy closes the socket and this worker then drains; a
    # SIGTERM sent to the worker itself stops reading and drains the same way.
    loop = asyncio.get_running_loop()
    task = loop.create_task(pump())
    loop.add_signal_handler(signal.SIGINT, lambda: None)
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
    # End of file: the proxy stopped (or was killed). Finish what is held, write it all, then exit.
    worker.primary_gone("proxy_stopped")
    await worker.stop()
    event("mirror worker stopped", written=worker.writer.written, dropped=worker.writer.dropped,
          failed=worker.writer.failed)
    try:
        out.flush()
        await writer.drain()
        writer.close()
    except (ConnectionError, RuntimeError):
        pass


def run_connected(path: str) -> None:
    """The worker's entry point (a child of the fork server): connect to the proxy's socket and serve it."""
    import gc

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the proxy closes the socket, then we drain
    gc.set_threshold(20_000, 20, 20)
    prof_dir = os.environ.get("OFFRAMP_WORKER_PROFILE")
    if not prof_dir:
        asyncio.run(_serve(sock))
        return
    # Profiling (bench/proxy --profile-workers DIR): cProfile over the worker's whole life, written on exit as
    # DIR/worker-<pid>.prof (read with `python -m pstats`). Off unless the variable is set.
    import cProfile

    prof = cProfile.Profile(time.process_time)  # CPU, not wall time: a shared host preempts the worker
    prof.enable()
    try:
        asyncio.run(_serve(sock))
    finally:
        prof.disable()
        prof.dump_stats(os.path.join(prof_dir, f"worker-{os.getpid()}.prof"))
