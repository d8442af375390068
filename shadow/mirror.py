"""The mirror, proxy side: decides per request whether it is mirrored, hands the job to a mirror worker process
(shadow/worker.py) without waiting, and accounts for it until the worker reports its pair in the store.

On the request path: a few comparisons, one random number and two frames written to a local socket (the
request bytes at arrival, the primary's answer when it is done) — never a JSON parse, a comparison, a redaction,
a price lookup or a store write (one exception: a `/v1/responses` request is parsed, and the primary's answer to
it, for the conversation log its follow-up turns are mirrored from — shadow/endpoints.py). Never back-pressures the primary: with `mirror.queue_size` (+ the workers'
concurrency) jobs in flight, or `mirror.queue_bytes` of request and answer bytes held by them, or the candidate's
circuit breaker open, the mirror is skipped and counted (`queue_full`, `breaker_open`).

Accounting: every request offered to the mirror ends in exactly one counted outcome — `compared` (a pair with
verdicts), a candidate error by kind (a pair recording it), or a skip by reason (before sending: sampled_out,
queue_full, body_too_large, endpoint_not_mirrored, spend_cap, stateful_request, breaker_open; after: not_json,
primary_error,
store_full/refused/lost, worker_lost, shutdown) — and until then it is in flight. The counters and the in-flight
figure go to the store in one transaction (shadow/store/writer.py), so they add up there at every moment.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import random
import shutil
import socket
import tempfile
import time
import zlib

from offramp.shadow.breaker import FAILURE_KINDS, HALF_OPEN, OPEN, STATES, Breaker, BreakerEvent
from offramp.shadow.config import ShadowConfig
from offramp.shadow.endpoints import mirrored
from offramp.shadow.logs import event
from offramp.shadow.metrics import Metrics
from offramp.shadow.routing import RequestInfo
from offramp.shadow.spend import SpendMeter
from offramp.shadow.store.writer import StoreWriter
from offramp.shadow.worker import FrameWriter, PrimaryOutcome, frames

__all__ = ["Mirror", "MirrorJob", "PrimaryOutcome", "SpendMeter", "SKIP_REASONS"]

SKIP_REASONS = (
    "sampled_out", "queue_full", "body_too_large", "endpoint_not_mirrored", "spend_cap", "stateful_request",
    "breaker_open",
    "not_json", "primary_error", "store_full", "store_refused", "store_lost", "worker_lost", "shutdown",
    "internal_error",
)
# Bytes of frames waiting in the socket to a worker beyond which new jobs are skipped (queue_full).
MAX_BACKLOG_BYTES = 32 * 1_048_576


class MirrorJob:
    """The proxy's handle on a job handed off: the primary path completes it with the primary's outcome."""

    __slots__ = ("id", "link", "stream", "leg", "memo", "_done", "_mirror")

    def __init__(self, jid: int, link: WorkerLink, mirror: Mirror, leg=None, memo=None) -> None:
        self.id, self.link, self._mirror = jid, link, mirror
        self.stream = None  # the worker parses the request; the proxy never does
        self.leg, self.memo = leg, memo  # the endpoint's request-path state to update with the primary's answer
        self._done = False

    def set_primary(self, outcome: PrimaryOutcome) -> None:
        if not self._done:
            self._done = True
            self._mirror._primary_done(self, outcome)


class _Depth:
    """`mirror.queue`: jobs handed off and not settled yet (kept for callers that watch the backlog)."""

    def __init__(self, mirror: Mirror) -> None:
        self._m = mirror

    def qsize(self) -> int:
        return len(self._m.inflight)

    @property
    def maxsize(self) -> int:
        return self._m.limit

    def full(self) -> bool:
        return len(self._m.inflight) >= self._m.limit


class WorkerLink:
    """One mirror worker process and the socket to it."""

    def __init__(self, mirror: Mirror, index: int) -> None:
        self.mirror = mirror
        self.index = index
        self.proc: multiprocessing.Process | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reader_task: asyncio.Task | None = None
        self.ready = False
        self.stopping = False
        self.starting = False
        self.restarts = 0
        self._early: list[tuple] = []
        self._task: asyncio.Task | None = None

    @property
    def alive(self) -> bool:
        return self.starting or (self.writer is not None and not self.writer.closing)

    def start(self) -> None:
        """Launch the worker in the background: the proxy serves at once; jobs offered before the worker has
        connected wait in memory (bounded like any hand-off) and go to it as soon as it does."""
        self.ready = False
        self.starting = True
        self.writer = None
        self._task = asyncio.get_running_loop().create_task(self._start(), name=f"mirror-start-{self.index}")

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        d = tempfile.mkdtemp(prefix="offramp-mirror-")  # 0700: no other user can reach the socket
        path = os.path.join(d, "s")
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            lsock.bind(path)
            lsock.listen(1)
            lsock.setblocking(False)
            self.proc = _context().Process(target=_worker_main, args=(path,), name=f"offramp-mirror-{self.index}")
            await asyncio.to_thread(self.proc.start)  # the first start launches the fork server (seconds)
            conn, _ = await asyncio.wait_for(loop.sock_accept(lsock), 120)
        except Exception as exc:  # noqa: BLE001 - no worker: its jobs are counted lost, the primary is untouched
            event("mirror worker did not start", 40, worker=self.index, error=f"{type(exc).__name__}: {exc}"[:200])
            self.starting = False
            self._early.clear()
            self.mirror._link_lost(self)
            return
        finally:
            lsock.close()
            shutil.rmtree(d, ignore_errors=True)
        reader, writer = await asyncio.open_unix_connection(sock=conn, limit=1 << 24)
        self.writer = FrameWriter(writer)
        m = self.mirror
        # The keys the config names, as this process read them: the fork server's environment is a snapshot
        # from its first start (a key set later would be missing there). Over the private socket, never stored.
        env = {n: os.environ[n] for n in (m.cfg.candidate.api_key_env, m.cfg.comparators.judge.api_key_env)
               if n and n in os.environ}
        self.writer.send(("config", m.cfg.model_dump_json(), m.replica, m.log_level, env))
        for msg in self._early:
            self.writer.send(msg)
        self._early.clear()
        self.starting = False
        self.reader_task = loop.create_task(self._read(reader), name=f"mirror-link-{self.index}")

    def send(self, msg: tuple) -> bool:
        if self.starting:
            self._early.append(msg)
            return True
        return self.writer is not None and self.writer.send(msg)

    def backlogged(self) -> bool:
        if self.starting:
            return False  # bounded by the mirror's in-flight limit
        w = self.writer
        return w is None or w.closing or w.buffered() > MAX_BACKLOG_BYTES

    async def _read(self, reader: asyncio.StreamReader) -> None:
        on_frame = self.mirror._on_frame
        async for msg in frames(reader):
            try:
                on_frame(self, msg)
            except Exception as exc:  # noqa: BLE001 - a bad frame must not stop the link
                event("mirror frame not handled", 40, error=f"{type(exc).__name__}: {exc}"[:200])
        if self.writer is not None:
            self.writer.writer.close()
        self.mirror._link_lost(self)

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Close our side: the worker finishes its jobs, writes them, reports them and exits."""
        self.stopping = True
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
            except asyncio.TimeoutError:
                self._task.cancel()
        if self.writer is not None and not self.writer.closing:
            self.writer.flush()
            try:
                self.writer.writer.write_eof()
            except (OSError, RuntimeError):
                self.writer.writer.close()
        if self.reader_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.reader_task), timeout_s)
            except asyncio.TimeoutError:
                self.reader_task.cancel()
        if self.proc is not None:
            await asyncio.to_thread(self.proc.join, 5)
            if self.proc.exitcode is None:
                self.proc.kill()
                await asyncio.to_thread(self.proc.join, 5)


_CTX = None


def _context():
    """Mirror workers fork from a fork server that has imported the worker's modules once: a clean,
    single-threaded parent (never this process with its event loop and threads), and a worker started in
    milliseconds after the first."""
    global _CTX
    if _CTX is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["offramp.shadow.worker_preload"])
        _CTX = ctx
    return _CTX


def _worker_main(path: str) -> None:
    from offramp.shadow.worker import run_connected

    run_connected(path)


class Mirror:
    def __init__(self, cfg: ShadowConfig, *, writer: StoreWriter, metrics: Metrics, replica: str,
                 log_level: str = "info", translator=None) -> None:
        self.cfg = cfg
        self.mcfg = cfg.mirror
        self.share = cfg.mirror.sample
        self.noise_share = cfg.mirror.noise_sample
        self.writer = writer
        self.metrics = metrics
        self.replica = replica
        self.log_level = log_level
        self.spend = SpendMeter(cfg.mirror.daily_spend_cap_usd)
        writer.track_spend(self.spend)  # the day's spend is shared through the store (restarts, replicas)
        writer.heartbeat = self._heartbeat
        if translator is None:
            from offramp.shadow.translation import Translator

            translator = Translator(cfg.candidate)
        # The endpoint table (shadow.endpoints): which paths the candidate can be sent (the worker builds the same
        # table and does the rest); here only each endpoint's request-path part (`admit`, `primary_done`).
        self.legs, self.notes = mirrored(cfg.mirror.endpoints, translator)
        self.endpoints = set(self.legs)
        self.limit = cfg.mirror.queue_size + cfg.mirror.concurrency * cfg.mirror.processes
        # Bytes of request and primary answer the jobs in flight hold (in the workers' memory, and on the socket
        # until read); the hand-off is full when either bound is reached.
        self.byte_limit = cfg.mirror.queue_bytes
        self.held_bytes = 0
        self._held: dict[int, int] = {}  # job id -> its bytes counted in `held_bytes`
        # The ramp's records handed to a worker (shadow/ramp/record.py): id -> (worker index, bytes, future
        # resolved with None once written, else why not, the record). Not mirror jobs: outside the mirror's
        # accounting. Those a worker that died still held go to `records_orphaned` (the ramp records them here).
        self.records: dict[int, tuple[int, int, asyncio.Future, object]] = {}
        self.records_orphaned = None
        self.queue = _Depth(self)
        self._busy = 0  # kept for callers that waited on it: the backlog is `queue.qsize()`
        self.inflight: dict[int, int] = {}  # job id -> worker index, oldest first
        self.awaiting: dict[int, float] = {}  # job id -> monotonic time handed off, until the candidate answered
        self.links: list[WorkerLink] = []
        self._ids = itertools.count(1)
        # Accounting (this process, since start): offered = compared + errors + skips + in flight.
        self.offered = 0
        self.compared = 0
        self.errors: dict[str, int] = {}
        self.skips = dict.fromkeys(SKIP_REASONS, 0)
        self.outcomes: dict[str, int] = {}  # candidate/noise call outcomes (`candidate:ok`, `candidate:timeout`)
        self.recorded = 0  # pairs the workers wrote
        self.breaker = Breaker(cfg.mirror.breaker, cfg.candidate.name, on_change=self._breaker_changed)
        self._probe: int | None = None
        self._opened_mono = float("-inf")
        self.metrics.sample.set(self.share)
        self._rand = random.random
        self.arrival_clock = time.time  # each job's arrival stamp (its pair's created_at; prices by it)
        self._skip_children = {r: metrics.skips.labels(r) for r in SKIP_REASONS}
        self._offered_child = metrics.offered
        self._children: dict = {}
        self._set_breaker_gauge()

    def _child(self, metric, *labels: str):
        """Cached `metric.labels(...)`: the lookup costs more than the increment."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # ---- request path (must stay cheap) ----
    def _skip(self, reason: str) -> None:
        self.skips[reason] = self.skips.get(reason, 0) + 1
        c = self._skip_children.get(reason)
        if c is None:
            c = self._skip_children[reason] = self.metrics.skips.labels(reason)
        c.inc()
        self.writer.count("mirror_skip", reason)

    def _offer_counted(self) -> None:
        self.offered += 1
        self._offered_child.inc()
        self.writer.count("mirror_offered", "all")

    def skip_offered(self, reason: str) -> None:
        """A request offered to the mirror and not sent, for a reason decided outside `offer`."""
        self._offer_counted()
        self._skip(reason)

    def offer(self, info: RequestInfo, authorization: str | None, *, served_by: str = "primary",
              ramp_share: float | None = None) -> MirrorJob | None:
        """A job to complete with the primary's outcome, or None (and the reason counted). Cheapest checks
        first; the request body is never parsed here."""
        self._offer_counted()
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
        leg = self.legs[info.endpoint]
        why, context, memo = leg.admit(raw)
        if why is not None:
            self._skip(why)
            return None
        jid = next(self._ids)
        n = len(self.links)
        # An endpoint whose comparators keep state (embeddings' neighbour windows) always goes to the same worker.
        link = (self.links[zlib.crc32(info.endpoint.encode()) % n if leg.one_worker else jid % n]) if n else None
        if (link is None or self.held() >= self.limit or self.held_bytes + len(raw) > self.byte_limit
                or link.backlogged()):
            self._skip("queue_full" if link is not None and link.alive else "worker_lost")
            return None
        if not self.breaker.allow(time.time()):
            self._skip("breaker_open")
            return None
        if self.breaker.state == HALF_OPEN:
            self._probe = jid
        link.send(("job", jid, info.endpoint, raw, authorization,
                   self.noise_share > 0 and self._rand() < self.noise_share, served_by, ramp_share,
                   self.arrival_clock(), context))
        self.inflight[jid] = link.index
        self._held[jid] = len(raw)
        self.held_bytes += len(raw)
        self.awaiting[jid] = time.monotonic()
        return MirrorJob(jid, link, self, leg, memo)

    def held(self) -> int:
        """Jobs the workers hold, mirror jobs and ramp records alike: one bound (`queue_size`) covers both."""
        return len(self.inflight) + len(self.records)

    def hand_record(self, rec) -> asyncio.Future | None:
        """Hand a ramp record (shadow.ramp.record.ServedRecord) to a mirror worker, which makes its shadow
        primary call, compares, redacts and writes it; the future says when it is written (None) or why not.
        None when no worker can take it now (none alive, or the hand-off full): the caller records it itself."""
        n = len(self.links)
        if not n:
            return None
        rid = next(self._ids)
        link = self.links[rid % n]
        size = rec.nbytes()
        if (not link.alive or link.backlogged() or self.held() >= self.limit
                or self.held_bytes + size > self.byte_limit):
            return None
        if not link.send(("record", rid, rec)):
            return None
        fut = asyncio.get_running_loop().create_future()
        self.records[rid] = (link.index, size, fut, rec)
        self.held_bytes += size
        return fut

    def _record_done(self, rid: int, why: str | None) -> None:
        entry = self.records.pop(rid, None)
        if entry is None:
            return
        _, size, fut, rec = entry
        self.held_bytes -= size
        if why == "worker_lost" and self.records_orphaned is not None:
            try:
                self.records_orphaned(rec)  # recorded in this process instead
                why = None
            except Exception as exc:  # noqa: BLE001
                event("ramp record not re-queued", 40, error=f"{type(exc).__name__}: {exc}"[:200])
        if why is not None:
            event("ramp record not written", 40, reason=why)
        if not fut.done():
            fut.set_result(why)

    def _release(self, jid: int) -> bool:
        """Job `jid` leaves the hand-off (settled, lost, shut down): False when it was not in flight."""
        if self.inflight.pop(jid, None) is None:
            return False
        self.held_bytes -= self._held.pop(jid, 0)
        return True

    def _primary_done(self, job: MirrorJob, o: PrimaryOutcome) -> None:
        if o.raw and job.id in self._held:  # the answer travels with the job: counted until it settles
            self._held[job.id] += len(o.raw)
            self.held_bytes += len(o.raw)
        job.link.send(("primary", job.id, o.status, o.raw, o.content_encoding, o.stream, o.ttft_ms, o.total_ms,
                       o.error))
        if job.memo is not None:
            try:
                job.leg.primary_done(job.memo, o)
            except Exception as exc:  # noqa: BLE001 - request-path state must never touch the primary's answer
                event("mirror endpoint state not updated", 40, error=f"{type(exc).__name__}: {exc}"[:200])
            job.memo = None
        if o.error is None and o.status is not None and o.status < 400:
            if o.ttft_ms is not None:
                self._child(self.metrics.latency, "primary", "ttft").observe(o.ttft_ms / 1000)
            if o.total_ms is not None:
                self._child(self.metrics.latency, "primary", "total").observe(o.total_ms / 1000)

    # ---- frames from the workers ----
    def _on_frame(self, link: WorkerLink, msg: tuple) -> None:
        kind = msg[0]
        if kind == "health":
            _, jid, err, status = msg
            sent = self.awaiting.pop(jid, None)
            if status is not None or err in FAILURE_KINDS:
                # A call sent before the breaker last opened says nothing about the candidate now: only the
                # probe (and calls after it closed) count.
                if jid == self._probe or (sent is not None and sent >= self._opened_mono):
                    self.breaker.record(err, status)
            elif jid == self._probe:
                self.breaker.probe_lost()
            if jid == self._probe:
                self._probe = None
        elif kind == "settled":
            for jid, label, info in msg[1]:
                if not self._release(jid):
                    continue
                self.awaiting.pop(jid, None)
                self._account(label)
                if info is not None:
                    self._observe(info)
        elif kind == "recorded":  # ramp records (hand_record) in the store, or why not
            for rid, why in msg[1]:
                self._record_done(rid, why)
        elif kind == "tick":  # the worker's view of its candidate calls (see worker._tick)
            _, n, oldest_s, quiet_s = msg
            if n:
                self.breaker.stalled(n, oldest_s, quiet_s)
        elif kind == "ready":
            link.ready = True
            if msg[1]:
                event("mirror worker notes", notes=msg[1])

    def _account(self, label: str) -> None:
        if label == "compared":
            self.compared += 1
            self.recorded += 1
            self._child(self.metrics.results, "compared", "pair").inc()
            self.writer.count("mirror_compared", "pair")
        elif label.startswith("error:"):
            k = label[6:]
            self.errors[k] = self.errors.get(k, 0) + 1
            self.recorded += 1
            self._child(self.metrics.results, "candidate_error", k).inc()
            self.writer.count("mirror_error", k)
        else:
            reason = label[5:] if label.startswith("skip:") else label
            if reason == "primary_error":
                self.recorded += 1  # the pair is stored (with the primary's error), just not compared
            self._child(self.metrics.results, "skipped", reason).inc()
            self._skip(reason)

    def _observe(self, info: dict) -> None:
        for target in ("candidate", "noise"):
            r = info.get(target)
            if r is None:
                continue
            outcome, ttft, total = r
            key = f"{target}:{outcome}"
            self.outcomes[key] = self.outcomes.get(key, 0) + 1
            self._child(self.metrics.mirrors, target, outcome).inc()
            self.writer.count(f"mirror_{target}", outcome)
            if outcome == "ok":
                if ttft is not None:
                    self._child(self.metrics.latency, target, "ttft").observe(ttft / 1000)
                if total is not None:
                    self._child(self.metrics.latency, target, "total").observe(total / 1000)
        self.spend.add(info.get("cost"))
        for name, side, agree in info.get("verdicts") or ():
            self._child(self.metrics.agreement, name, side, "agree" if agree else "disagree").inc()

    def _link_lost(self, link: WorkerLink) -> None:
        why = "shutdown" if link.stopping else "worker_lost"
        lost = [jid for jid, idx in self.inflight.items() if idx == link.index]
        for jid in lost:
            self._release(jid)
            self.awaiting.pop(jid, None)
            if jid == self._probe:
                self._probe = None
                self.breaker.probe_lost()
            self._skip(why)
        for rid in [r for r, (idx, *_) in self.records.items() if idx == link.index]:
            self._record_done(rid, why)
        if link.stopping:
            return
        code = link.proc.exitcode if link.proc is not None else None
        event("mirror worker exited; restarting it", 40, worker=link.index, exit_code=code, jobs_lost=len(lost))
        link.restarts += 1
        delay = min(30.0, 0.5 * 2 ** min(link.restarts, 6))

        async def restart() -> None:
            await asyncio.sleep(delay)
            if not link.stopping:
                link.start()

        asyncio.get_running_loop().create_task(restart())

    # ---- breaker ----
    def _breaker_changed(self, ev: BreakerEvent) -> None:
        self.writer.add_event({"at": ev.at, "replica": self.replica, "candidate": ev.candidate,
                               "from_state": ev.from_state, "to_state": ev.to_state, "reason": ev.reason[:300]})
        if ev.to_state == OPEN:
            self._opened_mono = time.monotonic()
            self._child(self.metrics.breaker_opened, ev.candidate).inc()
        self._set_breaker_gauge()
        event("candidate breaker " + ev.to_state.replace("_", "-"), 30 if ev.to_state == OPEN else 20,
              candidate=ev.candidate, was=ev.from_state, reason=ev.reason)

    def _set_breaker_gauge(self) -> None:
        for s in STATES:
            self._child(self.metrics.breaker_state, self.breaker.candidate, s).set(1 if self.breaker.state == s else 0)

    def _heartbeat(self) -> dict:
        b = self.breaker
        return {"candidate": b.candidate, "in_flight": len(self.inflight), "breaker_state": b.state,
                "breaker_reason": b.reason[:300] or None, "breaker_since": b.since, "breaker_retry_at": b.retry_at}

    def accounting(self) -> dict:
        skipped = sum(self.skips.values())
        return {"offered": self.offered, "compared": self.compared, "candidate_errors": dict(self.errors),
                "errors": sum(self.errors.values()), "skipped": skipped,
                "skips": {k: v for k, v in self.skips.items() if v}, "in_flight": len(self.inflight)}

    # ---- lifecycle ----
    async def start(self) -> None:
        for i in range(self.mcfg.processes):
            link = WorkerLink(self, i)
            self.links.append(link)
            link.start()

    async def stop(self, grace_s: float = 5.0) -> None:
        """Let jobs in flight settle for up to `grace_s`, then let each worker finish, write and exit."""
        deadline = time.monotonic() + grace_s
        while self.inflight and time.monotonic() < deadline and any(ln.alive for ln in self.links):
            await asyncio.sleep(0.02)
        await asyncio.gather(*(ln.stop() for ln in self.links), return_exceptions=True)
        for jid in list(self.inflight):
            self._release(jid)
            self._skip("shutdown")
        for rid in list(self.records):
            self._record_done(rid, "shutdown")
        self.awaiting.clear()
