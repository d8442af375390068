"""`migrate fake-upstream`: run the fake OpenAI / DeepSeek / vLLM server for demos and benchmarks."""

from __future__ import annotations

import os
import secrets

import typer

from offramp.migrate.cli_app import app


@app.command("fake-upstream")
def fake_upstream(
    flavor: str = typer.Option("openai", "--flavor", help="openai | deepseek | vllm | llama-cpp-python"),
    port: int = typer.Option(8900, "--port", help="TCP port (0 picks a free one)"),
    host: str = typer.Option("127.0.0.1", "--host", help="bind address (127.0.0.1 by default)"),
    latency_ms: float = typer.Option(0.0, "--latency-ms", help="added before every response"),
    ttft_ms: float = typer.Option(0.0, "--ttft-ms", help="time to first token"),
    chunk_ms: float = typer.Option(0.0, "--chunk-ms", help="delay between stream chunks"),
    seed: int = typer.Option(0, "--seed", help="same seed + same request -> same answer"),
    noise: float = typer.Option(0.0, "--noise", help="probability of a reworded / reordered answer"),
    degrade: str = typer.Option(
        "",
        "--degrade",
        help="e.g. wrong_tool=0.05,invalid_json=0.1,truncate=0.02,"
        "blank_json=0.05,error=0.01,rate_limit=0.01,latency_ms=200",
    ),
    keepalives: int = typer.Option(None, "--keepalives", help="DeepSeek keep-alive comments / blank lines"),
    models: str = typer.Option("", "--models", help="comma-separated model ids to serve (default: flavor's)"),
    api_key_env: str = typer.Option("", "--api-key-env", help="require the key held in this env var"),
    vllm_error_style: str = typer.Option("wrapped", "--vllm-error-style", help="wrapped | flat"),
    record_limit: int = typer.Option(
        1000, "--record-limit", help="received requests kept for /_fake/requests"
    ),
) -> None:
    """Serve a deterministic OpenAI-compatible API with the chosen flavor's quirks."""
    from aiohttp import web
    from pydantic import ValidationError

    from offramp.migrate.fake_upstream.options import FakeOptions
    from offramp.migrate.fake_upstream.server import create_app

    api_key = None
    if api_key_env:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise typer.BadParameter(
                f"environment variable {api_key_env} is empty or unset", param_hint="--api-key-env"
            )
    admin_token = os.environ.get("OFFRAMP_ADMIN_TOKEN") or secrets.token_urlsafe(16)
    try:
        options = FakeOptions(
            flavor=flavor,
            latency_ms=latency_ms,
            ttft_ms=ttft_ms,
            chunk_ms=chunk_ms,
            seed=seed,
            noise=noise,
            degrade=degrade,
            keepalives=keepalives,
            models=[m for m in models.split(",") if m] or None,
            api_key=api_key,
            admin_token=admin_token,
            vllm_error_style=vllm_error_style,
            record_limit=record_limit,
        )
    except (ValidationError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            err = exc.errors()[0]
            field = str(err["loc"][0]) if err["loc"] else "option"
            message = str(err.get("ctx", {}).get("error", err["msg"]))
            hint = f"--{field.replace('_', '-')}"
            raise typer.BadParameter(message.removeprefix("Value error, "), param_hint=hint) from None
        raise typer.BadParameter(str(exc)) from None

    async def _start() -> web.AppRunner:
        runner = web.AppRunner(create_app(options), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        typer.echo(f"fake upstream ({options.flavor}) on http://{host}:{bound}/v1  seed={seed} noise={noise}")
        if "OFFRAMP_ADMIN_TOKEN" not in os.environ:
            typer.echo(f"/_fake/* admin token (set OFFRAMP_ADMIN_TOKEN to choose it): {admin_token}")
        return runner

    import asyncio

    async def _main() -> None:
        runner = await _start()
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(_main())
    except KeyboardInterrupt:
        typer.echo("stopped")
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
