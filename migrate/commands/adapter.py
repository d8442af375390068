"""`migrate adapter check|route|translate`: see what the unified client will do with a config, offline."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from offramp.migrate.cli_app import app

adapter_app = typer.Typer(help="Inspect the unified client's routing config and translations (nothing is sent).",
                          no_args_is_help=True)
app.add_typer(adapter_app, name="adapter")


def _load(config: Path | None):
    from offramp.adapters.config import ConfigError, load_config

    try:
        cfg = load_config(config)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if cfg is None:
        typer.echo("no offramp.toml found (and $OFFRAMP_CONFIG unset): the client behaves exactly like openai's")
        raise typer.Exit(0)
    return cfg


@adapter_app.command("check")
def check(config: Path = typer.Option(None, "--config", help="config file (default: $OFFRAMP_CONFIG or "
                                      "offramp.toml found upward from the current directory)")) -> None:
    """Validate the config and the backend profiles; list backends, key env vars (set or not) and routes."""
    from offramp.adapters.explain import backend_rows
    from offramp.adapters.profiles import ProfileError

    cfg = _load(config)
    try:
        rows = backend_rows(cfg)
    except ProfileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"config: {cfg.path}")
    typer.echo("backends:")
    for r in rows:
        typer.echo(f"  {r.name:<12} {r.kind:<9} {r.base_url}  key={r.key}  profile={r.family}  "
                   f"serves={','.join(r.capabilities)}")
    ro = cfg.routes
    typer.echo(f"routes: default={ro.default} fallback={','.join(ro.fallback) or '-'} "
               f"share={ro.share.percent:g}% by {ro.share.key} strict={cfg.settings.strict}")
    for m, t in ro.models.items():
        share = f" ({t.share:g}%)" if t.share is not None else ""
        typer.echo(f"  model {m} -> {t.backend}/{t.model or m}{share}")
    for c, b in ro.capabilities.items():
        typer.echo(f"  capability {c} -> {b}")
    missing = [r for r in rows if "MISSING" in r.key]
    for r in missing:
        typer.echo(f"warning: backend {r.name}: {r.key.split(':')[0]} is not set in this environment", err=True)


@adapter_app.command("route")
def route_cmd(
    model: str = typer.Argument(..., help="the model the app asks for, e.g. gpt-4o"),
    capability: str = typer.Option("chat", "--capability", help="chat | vision | embeddings | images | audio | ..."),
    user: str = typer.Option(None, "--user", help="the request's `user` (for a sticky share)"),
    config: Path = typer.Option(None, "--config", help="config file"),
) -> None:
    """Which backend a call would go to, and the fallback chain behind it."""
    from offramp.adapters.explain import route

    cfg = _load(config)
    for i, (cand, skip) in enumerate(route(cfg, model, capability, user)):
        mark = "skip" if skip else ("use " if i == 0 else "then")
        typer.echo(f"{i + 1}. {mark} {cand.backend}/{cand.model}  ({cand.reason}{'; ' + skip if skip else ''})")


@adapter_app.command("translate")
def translate_cmd(
    body: Path = typer.Argument(..., help="a Chat Completions request body (JSON file)"),
    kind: str = typer.Option("deepseek", "--kind", help="backend kind: deepseek | vllm | sglang | ollama | ..."),
    model: str = typer.Option(None, "--model", help="backend model id (default: the body's model)"),
    strict: bool = typer.Option(False, "--strict", help="fail on any lossy change"),
) -> None:
    """Print the request Offramp would send to KIND, and every change it made."""
    from offramp.adapters.profiles import ProfileError, load_profile
    from offramp.adapters.translate import StrictModeError, TranslationError, translate_chat_request

    try:
        data = json.loads(body.read_text(encoding="utf-8"))
    except OSError as exc:
        typer.echo(f"error: {body}: cannot read ({exc.strerror})", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:
        typer.echo(f"error: {body}: invalid JSON ({exc})", err=True)
        raise typer.Exit(2) from None
    if model:
        data["model"] = model
    try:
        t = translate_chat_request(data, load_profile(kind, data.get("model")), strict=strict)
    except (ProfileError, StrictModeError, TranslationError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(t.body, indent=2))
    for c in t.changes:
        typer.echo(f"# {c.action:<10} {c.field}: {c.detail}", err=True)
