"""What a proxy process runs for the ramp: it follows the shared state row, routes each request from a cached
copy of it (no database read on the request path), and — when it holds leadership — runs the controller.

Wiring in the proxy (`shadow/server.py` or equivalent):

    ramp = RampRuntime(engine, plan)           # plan = shadow.ramp.plan.load_plan(config_path)
    router = ramp.router                       # a shadow.routing.Router: pass it to the proxy
    await ramp.start()                         # on startup (follow + controller loops)
    await ramp.stop()                          # on shutdown
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid

from sqlalchemy.engine import Engine

from offramp.shadow.ramp.assign import Assigner
from offramp.shadow.ramp.controller import RampController
from offramp.shadow.ramp.evidence import StoreEvidence
from offramp.shadow.ramp.plan import RampPlan
from offramp.shadow.ramp.store import Leadership, RampState, RampStore
from offramp.shadow.routing import RequestInfo, Route, Router

log = logging.getLogger("offramp.shadow.ramp")  # under the proxy's JSON log handler


class RampRouter(Router):
    """Sticky share of requests to the candidate, from the last state the follower read."""

    def __init__(self, plan: RampPlan) -> None:
        self.plan = plan
        self.assigner = Assigner(plan.assign)
        self.state = RampState()
        self.decided = {"primary": 0, "candidate": 0, "shadowed": 0}

    def decide(self, info: RequestInfo) -> Route:
        from offramp.shadow.ramp.serve import FALLBACK

        st = self.state
        if FALLBACK.get():
            return Route(serve="primary", ramp_share=st.share, mirror=False)
        if not st.serving or info.endpoint != "/v1/chat/completions":
            return Route(serve="primary", ramp_share=st.share if st.serving else None, mirror=True)
        a = self.assigner.assign(info.body, info.headers, st.share, self.plan.shadow_candidate_served,
                                 request_id=uuid.uuid4().hex)
        if not a.candidate:
            self.decided["primary"] += 1
            return Route(serve="primary", ramp_share=st.share, mirror=True)
        self.decided["candidate"] += 1
        self.decided["shadowed"] += a.shadow_primary
        # Candidate-served: `mirror` now means "also ask the primary, to keep measuring agreement".
        return Route(serve="candidate", ramp_share=st.share, mirror=a.shadow_primary)


class RampRuntime:
    def __init__(self, engine: Engine, plan: RampPlan, follow_seconds: float = 1.0,
                 holder: str | None = None, price_providers: dict[str, str | None] | None = None) -> None:
        self.engine = engine
        self.plan = plan
        self.store = RampStore(engine)
        self.router = RampRouter(plan)
        self.leadership = Leadership(engine, holder=holder, lease_seconds=max(15.0, 3 * plan.evaluate_every_seconds))
        self.controller = RampController(plan, self.store, StoreEvidence(engine, price_providers=price_providers),
                                         actor=f"controller:{self.leadership.holder}")
        self.follow_seconds = follow_seconds
        self.is_leader = False
        self.last_tick_error: str | None = None
        self._tasks: list[asyncio.Task] = []
        # A cancelled task does not stop its thread: a step still running at stop() could take the leader lock
        # after release() and keep it for the life of the process. Steps and release are serialised instead.
        self._step_lock = threading.Lock()
        self._stopped = False

    def refresh(self) -> RampState:
        st = self.store.load()
        self.router.state = st
        return st

    def controller_step(self) -> None:
        """One controller iteration (blocking; run in a thread)."""
        with self._step_lock:
            if self._stopped:
                return
            self._step()

    def _step(self) -> None:
        self.is_leader = self.leadership.check()
        if not self.is_leader:
            return
        d = self.controller.tick()
        if d is not None:
            log.info("ramp decision %s %g%% -> %g%%: %s", d.action, d.from_share, d.to_share, d.reason)
            self.refresh()

    async def start(self) -> None:
        await asyncio.to_thread(self.store.ensure)
        await asyncio.to_thread(self.refresh)
        self._tasks = [asyncio.create_task(self._follow()), asyncio.create_task(self._control())]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []
        await asyncio.to_thread(self._release)

    def _release(self) -> None:
        with self._step_lock:  # waits for a step still running in its thread
            self._stopped = True
            self.leadership.release()

    async def _follow(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.refresh)
            except Exception as exc:  # store briefly down: keep the last known state
                log.warning("ramp state refresh failed: %s", type(exc).__name__)
            await asyncio.sleep(self.follow_seconds)

    async def _control(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await asyncio.to_thread(self.controller_step)
                self.last_tick_error = None
            except Exception as exc:  # an error is not a quality failure (Argo's Error vs Failed)
                self.last_tick_error = f"{type(exc).__name__}: {exc}"[:200]
                self.is_leader = False
                log.warning("ramp controller tick failed: %s", self.last_tick_error)
            await asyncio.sleep(max(0.05, self.plan.evaluate_every_seconds - (time.monotonic() - started)))
