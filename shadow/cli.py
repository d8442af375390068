"""`migrate shadow ...`: the typer sub-app. Light at import (typer only) so `migrate --help` stays fast.

Other modules register commands on `app` (the rollout's `shadow/cli_ramp.py` is imported at the end of this
module when it exists)."""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path

import typer

app = typer.Typer(
    name="shadow",
    help="Shadow mode: answer from the primary, mirror a sample to the candidate, compare and record.",
    no_args_is_help=True,
    add_completion=False,
)


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def load_cli_config(config: Path | None, overrides: dict):
    from offramp.shadow.config import ConfigError, check_legacy_env, load_config

    try:
        check_legacy_env()
        return load_config(config, overrides)
    except ConfigError as exc:
        _fail(str(exc))


@app.command("serve")
def serve(
    primary: str = typer.Option(None, help="Primary: openai | deepseek | vllm, optionally =BASE_URL (openai=http://127.0.0.1:9001/v1)."),
    candidate: str = typer.Option(None, help="Candidate: deepseek | vllm | llama-cpp-python | openai, optionally =BASE_URL (deepseek=http://host/v1)."),
    config: Path = typer.Option(None, "--config", "-c", help="TOML config file (see docs)."),
    host: str = typer.Option(None, help="Bind address (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default 8787; 0 = any free port)."),
    store: str = typer.Option(None, help="Store: a SQLite path or a postgresql:// URL."),
    sample: float = typer.Option(None, min=0.0, max=1.0, help="Share of requests mirrored (0..1)."),
    noise_sample: float = typer.Option(None, min=0.0, max=1.0, help="Share of mirrored requests asked twice."),
    candidate_model: str = typer.Option(None, help="Model the candidate is asked for (all requests)."),
    privacy: str = typer.Option(None, help="Bodies in the store: full | redacted | hash-only."),
    spend_cap: float = typer.Option(None, help="Mirror spend cap in USD per UTC day (0 = none)."),
    log_level: str = typer.Option("info", help="debug | info | warning | error."),
    workers: int = typer.Option(1, min=1, max=64, help="Proxy processes sharing the port (SO_REUSEPORT); "
                                "each has its own mirror workers and breaker, all share the store."),
    mirror_processes: int = typer.Option(None, min=1, max=64, help="Mirror worker processes per proxy process "
                                         "(comparison, redaction, cost, store writes; default 1)."),
) -> None:
    """Start the proxy. Point the app's base_url at http://HOST:PORT/v1."""
    from offramp.shadow.config import ConfigError, upstream_from_name

    overrides: dict = {}
    try:
        if primary:
            overrides["primary"] = upstream_from_name(primary, "primary").model_dump()
        if candidate:
            overrides["candidate"] = upstream_from_name(candidate, "candidate").model_dump()
    except ConfigError as exc:
        _fail(str(exc))
    if candidate_model:
        overrides.setdefault("candidate", {})["models"] = {"*": candidate_model}
    server = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    mirror = {k: v for k, v in (("sample", sample), ("noise_sample", noise_sample),
                                ("daily_spend_cap_usd", spend_cap), ("processes", mirror_processes)) if v is not None}
    st = {k: v for k, v in (("url", store), ("privacy", privacy)) if v is not None}
    for name, part in (("server", server), ("mirror", mirror), ("store", st)):
        if part:
            overrides[name] = part
    cfg = load_cli_config(config, overrides)
    from offramp.shadow.cli_errors import one_line, store_url_problem

    if problem := store_url_problem(cfg.store.url):
        _fail(problem)
    if cfg.candidate.api_key_env and not cfg.candidate.api_key():
        _fail(f"candidate.api_key_env: environment variable {cfg.candidate.api_key_env} is not set "
              "(the candidate never uses the app's key; set api_key_env = \"\" for a keyless self-hosted server)")

    from offramp.shadow.serving import run_proxy, supervise

    if workers > 1:
        raise typer.Exit(supervise(cfg, workers, log_level))
    try:
        with one_line(cfg.store.url):  # a busy port, an unreachable store: one line, exit 2
            run_proxy(cfg, log_level)
    except ValueError as exc:
        _fail(str(exc))


@app.command("status")
def status(
    config: Path = typer.Option(None, "--config", "-c", help="TOML config file (for the store URL)."),
    store: str = typer.Option(None, help="Store: a SQLite path or a postgresql:// URL."),
    since_hours: float = typer.Option(None, "--since-hours", help="Only pairs from the last N hours."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Agreement vs the noise floor per comparator, latency and cost on both sides, skips by reason, and what
    holds the ramp (gate, samples still needed, setting)."""
    import time

    from rich.console import Console

    from offramp.shadow.status import render, summarize
    from offramp.shadow.store import migrate, open_engine

    cfg = load_cli_config(config, {"store": {"url": store}} if store else {})
    from offramp.shadow.cli_errors import one_line, store_url_problem
    from offramp.shadow.store.db import normalize_url

    if problem := store_url_problem(cfg.store.url):
        _fail(problem)
    url = normalize_url(cfg.store.url)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        _fail(f"store: no database at {url[len('sqlite:///'):]} (start `migrate shadow serve` first or pass --store)")
    with one_line(cfg.store.url):
        engine = open_engine(url)
        migrate(engine)
        summary = summarize(engine, since=time.time() - since_hours * 3600 if since_hours else None)
        from offramp.shadow.ramp.summary import ramp_summary

        summary["ramp"] = ramp_summary(engine, cfg.ramp)  # what holds the ramp, what it needs, which setting
        from offramp.shadow.status import add_breaker_concerns

        add_breaker_concerns(summary)  # an open candidate breaker holds (or rolls back) the ramp
        engine.dispose()  # close the store now (SQLite removes its -wal/-shm), not whenever GC runs
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        render(summary, Console())


@app.command("purge")
def purge_cmd(
    config: Path = typer.Option(None, "--config", "-c"),
    store: str = typer.Option(None, help="Store: a SQLite path or a postgresql:// URL."),
    days: int = typer.Option(None, min=1, help="Keep this many days (default: store.retention_days)."),
) -> None:
    """Delete recorded pairs older than the retention."""
    from offramp.shadow.store import migrate, open_engine
    from offramp.shadow.store.queries import purge

    cfg = load_cli_config(config, {"store": {"url": store}} if store else {})
    from offramp.shadow.cli_errors import one_line, store_url_problem

    if problem := store_url_problem(cfg.store.url):
        _fail(problem)
    with one_line(cfg.store.url):
        engine = open_engine(cfg.store.url)
        migrate(engine)
        n = purge(engine, days or cfg.store.retention_days)
        engine.dispose()
    typer.echo(f"purged {n} pairs older than {days or cfg.store.retention_days} days")


def _load_plugins() -> None:
    if importlib.util.find_spec("offramp.shadow.cli_ramp") is not None:
        importlib.import_module("offramp.shadow.cli_ramp")


_load_plugins()
