"""`FakeUpstream`: the fake server on a background thread, for sync and async tests alike.

    with FakeUpstream("deepseek") as fake:
        client = openai.OpenAI(base_url=fake.base_url, api_key="sk-test")
        ...
        assert fake.requests[-1].json["model"] == "deepseek-v4-flash"

The server has its own event loop, so a test's loop (pytest-asyncio) never blocks it, and vice versa.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from offramp.migrate.fake_upstream.faults import Fault
from offramp.migrate.fake_upstream.options import FakeOptions
from offramp.migrate.fake_upstream.state import RecordedRequest, ServerState, key_fingerprint

__all__ = ["FakeUpstream", "RecordedRequest", "fleet", "key_fingerprint", "reset_all"]


class FakeUpstream:
    def __init__(self, flavor: str = "openai", **options: Any) -> None:
        self.options = FakeOptions(flavor=flavor, **options)
        self.state = ServerState(self.options)
        self.host = "127.0.0.1"
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: Any = None

    # --- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> FakeUpstream:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # surfaced to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name=f"fake-upstream-{self.options.flavor}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"fake upstream ({self.options.flavor}) did not start listening within 10 s")
        if failure:
            self._thread = None
            raise RuntimeError(f"fake upstream failed to start: {failure[0]}") from failure[0]
        return self

    async def _serve(self) -> None:
        from aiohttp import web

        from offramp.migrate.fake_upstream.server import create_app

        self._runner = web.AppRunner(
            create_app(state=self.state), access_log=None, shutdown_timeout=0.1, handle_signals=False
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeUpstream:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests use -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeUpstream is not running: use it as a context manager or call start()")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def flavor(self) -> str:
        return self.options.flavor

    @property
    def requests(self) -> list[RecordedRequest]:
        """What clients sent, oldest first (control endpoints `/_fake/*` excluded)."""
        return [r for r in self.state.recorded() if not r.path.startswith("/_fake")]

    def script(self, fault: Fault | dict | None = None, /, **fields: Any) -> None:
        """Queue a fault: `fake.script(status=429, retry_after=1, times=2)`, `fake.script(cut_after=3)`."""
        if fault is None:
            fault = Fault(**fields)
        elif isinstance(fault, dict):
            fault = Fault(**{**fault, **fields})
        self.state.faults.add(fault)

    def reset(self) -> None:
        """Forget requests, faults, cache and stored objects (options stay)."""
        self.state.reset()


@contextmanager
def fleet(flavors: Iterable[str]) -> Iterator[dict[str, FakeUpstream]]:
    """One running fake per flavor, stopped on exit: test suites start one fleet and `reset()` it per test
    instead of paying a server start per test."""
    fakes: dict[str, FakeUpstream] = {}
    try:
        for flavor in flavors:
            fakes[flavor] = FakeUpstream(flavor).start()
        yield fakes
    finally:
        for fake in fakes.values():
            fake.stop()


def reset_all(fakes: dict[str, FakeUpstream]) -> dict[str, FakeUpstream]:
    for fake in fakes.values():
        fake.reset()
    return fakes
