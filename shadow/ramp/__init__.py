"""Gradual rollout: sticky share of traffic to the candidate, statistical gates, rollback, shared state.

`setup_proxy` is the proxy's extension hook (`shadow.proxy._load_builtin_extensions`): it installs the ramp
router, the candidate-serving hook and the controller loops on the proxy being built.
"""

from __future__ import annotations


def install(proxy, app) -> None:
    """Wire the ramp into a proxy and its aiohttp app (before the app starts)."""
    from offramp.shadow.ramp.runtime import RampRuntime
    from offramp.shadow.ramp.serve import CandidateServer

    cfg = proxy.cfg
    plan = cfg.ramp  # the `[ramp]` table of the proxy's own config file
    prices = {"primary": cfg.primary.price_provider or cfg.primary.kind,
              "candidate": cfg.candidate.price_provider or cfg.candidate.kind}
    runtime = RampRuntime(proxy.engine, plan, holder=getattr(proxy, "replica", None), price_providers=prices)
    server = CandidateServer(proxy, runtime)
    proxy.ramp_plan = plan
    proxy.ramp = runtime
    proxy.ramp_server = server
    proxy.router = runtime.router
    proxy.serve_candidate = server.serve

    async def _start(_app) -> None:
        await runtime.start()

    async def _stop(_app) -> None:
        await server.drain()
        await runtime.stop()

    app.on_startup.append(_start)
    app.on_shutdown.insert(0, _stop)


def setup_proxy(proxy, app=None) -> None:
    from offramp.shadow.routing import Router

    app = app if app is not None else getattr(proxy, "app", None)
    if app is None or getattr(proxy, "ramp", None) is not None:
        return
    if getattr(proxy, "serve_candidate", None) is not None or type(proxy.router) is not Router:
        return  # another extension already routes this proxy: an explicit choice wins over the default ramp
    install(proxy, app)
