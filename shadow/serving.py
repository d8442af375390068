"""Running `migrate shadow serve`: one proxy process, or `--workers N` proxy processes sharing one port.

With N > 1 a small supervisor starts N proxy processes that each bind the same host:port with SO_REUSEPORT; the
kernel spreads connections across them, so the proxy uses every core. What they share: the store (pairs,
counters, the daily spend, the ramp's state and its leadership — one process runs the controller). What each has
of its own: the event loop and upstream connections, its mirror worker processes, its bounded hand-off, its
candidate breaker (each records its state in the store as its own replica row, and any open one holds the
ramp), its Prometheus registry (scrape each process, or read `migrate shadow status`, which sums the store).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import time

CHILD_ENV = "OFFRAMP_SHADOW_SERVE_CHILD"


def run_proxy(cfg, log_level: str = "info", *, reuse_port: bool = False, banner: bool = True,
              ready_fd: int | None = None) -> None:
    """Serve until SIGINT/SIGTERM, then drain the mirror and flush the store."""
    import typer

    from offramp.shadow.logs import event, setup_logging
    from offramp.shadow.proxy import ShadowProxy, start_site

    setup_logging(log_level)
    proxy = ShadowProxy(cfg)

    async def main() -> None:
        runner = await start_site(proxy, reuse_port=reuse_port)
        # Everything loaded so far (modules, config, the app) lives as long as the process: frozen out of the
        # cyclic GC, a full collection no longer walks it. Each request allocates a few hundred containers, so
        # the default 700-allocation young generation is collected thousands of times a second: a larger one
        # costs a few MB at most.
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
        if ready_fd is not None:  # tell the supervisor this process listens
            os.write(ready_fd, b"1")
            os.close(ready_fd)
        if banner:
            addrs = ", ".join(f"http://{a[0]}:{a[1]}/v1" for a in runner.addresses)
            typer.echo(f"offramp shadow proxy on {addrs} -> primary {cfg.primary.base_url}, "
                       f"candidate {cfg.candidate.base_url} (store {cfg.store.url})", err=True)
            for note in proxy.mirror.notes:  # e.g. an endpoint the candidate's backend does not serve
                typer.echo(note, err=True)
            if not proxy.admin_token:
                typer.echo(f"admin API disabled: set {cfg.server.admin_token_env} to change sampling at run time",
                           err=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except NotImplementedError:  # pragma: no cover - Windows
                pass
        await stop.wait()
        event("shutting down: flushing pending records")
        await runner.cleanup()

    asyncio.run(main())


def supervise(cfg, workers: int, log_level: str = "info") -> int:
    """Start `workers` proxy processes on one port (SO_REUSEPORT) and keep them running until SIGINT/SIGTERM."""
    import typer

    if not hasattr(socket, "SO_REUSEPORT"):
        raise RuntimeError("--workers > 1 needs SO_REUSEPORT (Linux, macOS, BSD)")
    host, port = cfg.server.host, cfg.server.port
    hold = None
    if port == 0:  # pick the port once, hold it (bound, not listening) until the children listen on it
        hold = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        hold.bind((host, 0))
        port = hold.getsockname()[1]
    child_cfg = cfg.model_copy(update={"server": cfg.server.model_copy(update={"port": port})})
    ready_r, ready_w = os.pipe()
    spec = {"config": child_cfg.model_dump_json(), "log_level": log_level, "ready_fd": ready_w}
    env = {**os.environ, CHILD_ENV: json.dumps(spec)}
    cmd = [sys.executable, "-m", "offramp.shadow.serving"]
    procs: list[subprocess.Popen | None] = [None] * workers
    stopping = False

    def start(i: int) -> None:
        procs[i] = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, pass_fds=(ready_w,))

    def on_signal(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for i in range(workers):
        start(i)
    _wait_ready(ready_r, workers, procs)
    if hold is not None:
        hold.close()
    typer.echo(f"offramp shadow proxy on http://{host}:{port}/v1 ({workers} processes, SO_REUSEPORT) -> primary "
               f"{cfg.primary.base_url}, candidate {cfg.candidate.base_url} (store {cfg.store.url})", err=True)
    failures = 0
    while True:
        alive = 0
        for i, p in enumerate(procs):
            if p is None:
                continue
            code = p.poll()
            if code is None:
                alive += 1
            elif not stopping:
                failures += 1
                typer.echo(f"proxy process {p.pid} exited with {code}; restarting it", err=True)
                time.sleep(min(10.0, 0.5 * failures))
                start(i)
                alive += 1
        if stopping and not alive:
            break
        time.sleep(0.2)
    # Stopped by a signal: 0 when every process drained and exited by itself.
    return max((abs(p.returncode or 0)) for p in procs if p is not None)


def _wait_ready(fd: int, n: int, procs, timeout_s: float = 120.0) -> None:
    """Until each of the `n` children has written its byte (it listens), one has exited, or the timeout."""
    import select

    got = 0
    deadline = time.monotonic() + timeout_s
    while got < n and time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            return  # a child failed at start: its own error is on stderr; the loop restarts it
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            got += len(os.read(fd, n - got))


def _child() -> None:
    from offramp.shadow.config import ShadowConfig

    spec = json.loads(os.environ.pop(CHILD_ENV))
    run_proxy(ShadowConfig.model_validate_json(spec["config"]), spec["log_level"], reuse_port=True, banner=False,
              ready_fd=spec.get("ready_fd"))


if __name__ == "__main__":
    _child()
