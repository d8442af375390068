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
                                      "offramp.toml found upward from the current directory)"),
          project: Path = typer.Option(None, "--project", help="the app to check the config against: it is "
                                       "scanned for the models and capabilities it uses (default: the config's "
                                       "directory)"),
          no_scan: bool = typer.Option(False, "--no-scan", help="check only the ids the config names")) -> None:
    """Validate the config against the backend profiles and the app: every model the app uses (scan) or the config
    names must reach a backend that serves it, every capability a backend that has it; unknown ids get a
    did-you-mean. Exit 2 with one line per problem."""
    from offramp.adapters.explain import backend_rows
    from offramp.adapters.profiles import ProfileError, load_profile
    from offramp.migrate.rewrite.config_file import (
        RoutingRulesError,
        check_config,
        check_warnings,
        uses_from_report,
    )

    cfg = _load(config)
    try:
        rows = backend_rows(cfg)
    except ProfileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"config: {cfg.path}")
    typer.echo("backends:")
    for r in rows:
        serves = "(per model id: see the model lines)" if r.family == "per model id" else ",".join(r.capabilities)
        typer.echo(f"  {r.name:<12} {r.kind:<9} {r.base_url}  key={r.key}  profile={r.family}  serves={serves}")
    ro = cfg.routes
    typer.echo(f"routes: default={ro.default} fallback={','.join(ro.fallback) or '-'} "
               f"share={ro.share.percent:g}% by {ro.share.key} strict={cfg.settings.strict}")
    for m, t in ro.models.items():
        share = f" ({t.share:g}%)" if t.share is not None else ""
        b = cfg.backend(t.backend)
        try:
            p = load_profile(b.kind, t.model or m, path=b.profile)
            what = f"  [{p.family}: {','.join(p.capabilities)}]"
        except ProfileError:
            what = ""
        typer.echo(f"  model {m} -> {t.backend}/{t.model or m}{share}{what}")
    for c, b in ro.capabilities.items():
        typer.echo(f"  capability {c} -> {b}")
    uses = []
    if not no_scan:
        root = (project or Path(cfg.path).resolve().parent).resolve()
        if not root.is_dir():
            typer.echo(f"error: --project: {root}: no such directory", err=True)
            raise typer.Exit(2)
        from offramp.migrate.ruleset import RuleFileError
        from offramp.migrate.scan import ScanOptions, scan_path

        try:
            report = scan_path(root, ScanOptions(use_cache=False))
        except RuleFileError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        uses = uses_from_report(report)
        typer.echo(f"app: {root}: {len(report.findings)} OpenAI call site(s), "
                   f"{len({u.model for u in uses if u.model})} model id(s) found")
    try:
        problems = check_config(cfg, uses)
        warnings = check_warnings(cfg, uses)
    except (ProfileError, RoutingRulesError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for r in rows:
        if "MISSING" in r.key:
            typer.echo(f"warning: backend {r.name}: {r.key.split(':')[0]} is not set in this environment", err=True)
    for w in warnings:
        typer.echo(f"warning: {w}", err=True)
    for p in problems:
        typer.echo(f"error: {p}", err=True)
    if problems:
        raise typer.Exit(2)
    typer.echo("ok: every model and capability reaches a backend that serves it")


@adapter_app.command("route")
def route_cmd(
    model: str = typer.Argument(..., help="the model the app asks for, e.g. gpt-4o"),
    capability: str = typer.Option("chat", "--capability", help="chat | vision | embeddings | images | audio | ..."),
    user: str = typer.Option(None, "--user", help="the request's `user` (for a sticky share)"),
    config: Path = typer.Option(None, "--config", help="config file"),
) -> None:
    """Which backend a call would go to, and the fallback chain behind it. Exit 2 when the backend it would use
    does not serve the model (it would answer 400)."""
    import datetime as dt

    from offramp.adapters.explain import route
    from offramp.migrate.rewrite.config_file import model_problem

    cfg = _load(config)
    today = dt.datetime.now(dt.timezone.utc).date()
    used = None
    for i, (cand, skip) in enumerate(route(cfg, model, capability, user)):
        problem = None if skip or used is not None else model_problem(cfg, cand.backend, cand.model, today)
        mark = "skip" if skip else ("fail" if problem else ("use " if used is None else "then"))
        if not skip and used is None:
            used = problem or ""
        typer.echo(f"{i + 1}. {mark} {cand.backend}/{cand.model or model}  ({cand.reason}"
                   f"{'; ' + skip if skip else ''}{'; ' + problem if problem else ''})")
        if capability == "responses" and not skip:
            from offramp.adapters.explain import responses_how

            typer.echo(f"     {responses_how(cfg, cand)}")
    if used is None:
        typer.echo(f"error: {model}: no backend in the chain serves {capability}: route it under "
                   "[routes.capabilities] or add a fallback", err=True)
        raise typer.Exit(2)
    if used:
        typer.echo(f"error: {model}: {used}", err=True)
        raise typer.Exit(2)


@adapter_app.command("translate")
def translate_cmd(
    body: Path = typer.Argument(..., help="a request body (JSON file): Chat Completions, or Responses with --api"),
    kind: str = typer.Option("deepseek", "--kind", help="backend kind: deepseek | vllm | sglang | ollama | ..."),
    model: str = typer.Option(None, "--model", help="backend model id (default: the body's model)"),
    strict: bool = typer.Option(False, "--strict", help="fail on any lossy change"),
    api: str = typer.Option("chat", "--api", help="chat | responses: the API the body is written for"),
) -> None:
    """Print the request Offramp would send to KIND, and every change it made. With --api responses: the
    Responses body the backend gets (where it serves /v1/responses natively) or the Chat Completions body it
    gets instead (first comment line says which)."""
    from offramp.adapters.profiles import ProfileError, load_profile
    from offramp.adapters.translate import StrictModeError, TranslationError, translate_chat_request

    if api not in ("chat", "responses"):
        typer.echo(f"error: --api: {api!r} is not chat or responses", err=True)
        raise typer.Exit(2)

    try:
        data = json.loads(body.read_text(encoding="utf-8"))
    except OSError as exc:
        typer.echo(f"error: {body}: cannot read ({exc.strerror})", err=True)
        raise typer.Exit(2) from None
    except ValueError as exc:
        typer.echo(f"error: {body}: invalid JSON ({exc})", err=True)
        raise typer.Exit(2) from None
    if not isinstance(data, dict):
        typer.echo(f"error: {body}: the request body must be a JSON object", err=True)
        raise typer.Exit(2)
    if model:
        data["model"] = model
    notes: list[str] = []
    try:
        profile = load_profile(kind, data.get("model"))
        if api == "responses":
            from offramp.adapters import responses as rs

            mode = profile.responses_mode()
            if mode is None:
                raise rs.ResponsesError(f"{kind}/{profile.family} serves neither /v1/responses nor chat")
            rs.check_builtin_tools(data, profile.builtin_tools, f"{kind!r} ({kind}/{profile.family})")
            if not profile.responses_stateful:
                rs.check_unsupported(data, f"{kind!r} ({kind}/{profile.family})")
            prev = data.pop("previous_response_id", None) if not profile.responses_stateful else None
            if prev:
                notes.append(f"previous_response_id: {prev} is expanded at run time from Offramp's conversation "
                             "store into earlier input items (not shown)")
            if mode == "native":
                out, more = rs.native_request(data, profile)
                notes.insert(0, f"POST /v1/responses: {kind}/{profile.family} serves the Responses API natively")
                typer.echo(json.dumps(out, indent=2))
                for n in notes + more:
                    typer.echo(f"# translated {n}", err=True)
                return
            data, more = rs.to_chat(data)
            notes = [f"POST /v1/chat/completions: {kind}/{profile.family} gets Responses calls as Chat "
                     "Completions (rules/backends)", *notes, *more]
        t = translate_chat_request(data, profile, strict=strict)
    except (ProfileError, StrictModeError, TranslationError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(t.body, indent=2))
    for n in notes:
        typer.echo(f"# translated {n}", err=True)
    for c in t.changes:
        typer.echo(f"# {c.action:<10} {c.field}: {c.detail}", err=True)


def _parse_at(value: str | None):
    import datetime as dt

    if value is None:
        return dt.datetime.now(dt.timezone.utc)
    try:
        at = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        typer.echo(f"error: --at: {value!r} is not an ISO date-time (e.g. 2026-12-02T02:00Z)", err=True)
        raise typer.Exit(2) from None
    return at.replace(tzinfo=dt.timezone.utc) if at.tzinfo is None else at.astimezone(dt.timezone.utc)


def _parse_tokens(value: str | None) -> dict | None:
    if value is None:
        return None
    parts = value.split(",")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        nums = []
    if len(nums) not in (2, 3) or any(n < 0 for n in nums):
        typer.echo(f"error: --tokens: {value!r} is not INPUT,OUTPUT[,CACHED] (whole numbers)", err=True)
        raise typer.Exit(2) from None
    cached = nums[2] if len(nums) == 3 else 0
    return {"prompt_tokens": nums[0], "completion_tokens": nums[1], "prompt_cache_hit_tokens": min(cached, nums[0]),
            "prompt_cache_miss_tokens": nums[0] - min(cached, nums[0])}


@adapter_app.command("explain")
def explain_cmd(
    model: str = typer.Argument(..., help="the model the app asks for, e.g. gpt-4o"),
    at: str = typer.Option(None, "--at", help="the request's time, ISO 8601 (naive = UTC; default: now)"),
    tokens: str = typer.Option(None, "--tokens", help="INPUT,OUTPUT[,CACHED] tokens to price one call"),
    capability: str = typer.Option("chat", "--capability", help="chat | vision | embeddings | ..."),
    user: str = typer.Option(None, "--user", help="the request's `user` (for a sticky share)"),
    config: Path = typer.Option(None, "--config", help="config file"),
) -> None:
    """Where a call would go and what it would cost at a given time: the price row and window in force (UTC),
    with their source, and OpenAI's shutdown date for the model asked for."""
    from offramp.adapters.cost import PriceError
    from offramp.adapters.explain import explain
    from offramp.adapters.profiles import ProfileError

    when = _parse_at(at)
    usage = _parse_tokens(tokens)
    cfg = _load(config)
    try:
        lines = explain(cfg, model, when, usage, capability, user)
    except (ProfileError, PriceError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{model} at {when:%Y-%m-%d %H:%M} UTC ({when:%A})")
    try:
        from offramp.migrate.lifecycle import load_lifecycle

        row = load_lifecycle().model(model)
    except Exception:  # noqa: BLE001 - the calendar is informative here; `migrate scan` reports its errors
        row = None
    if row is not None and row.shutdown is not None:
        days = (row.shutdown - when.date()).days
        typer.echo(f"  OpenAI shuts {model} down on {row.shutdown}" + (f" (→ {row.replacement})" if row.replacement
                   else "") + (f": {days} days after this time" if days >= 0 else ": already shut down then"))
    from offramp.migrate.rewrite.config_file import model_problem

    failed = None
    for i, ln in enumerate(lines):
        first = not ln.skip and not any(not x.skip for x in lines[:i])
        problem = model_problem(cfg, ln.backend, ln.model, when.date()) if first else None
        failed = failed or problem
        mark = "skip" if ln.skip else ("fail" if problem else ("use " if first else "then"))
        typer.echo(f"{i + 1}. {mark} {ln.backend}/{ln.model}  ({ln.kind}/{ln.family})" + (f"  [{ln.skip}]" if ln.skip
                                                                                            else "")
                   + (f"  [{problem}]" if problem else ""))
        for note in ln.notes:
            typer.echo(f"     {note}")
        q = ln.quote
        if q is None:
            typer.echo(f"     price: none ({ln.unpriced})")
            continue
        r = q.rates
        window = f"{q.window} window" if q.window else "no window in force (base prices)"
        typer.echo(f"     price: {window}: ${r['cache_hit']:g} cache hit / ${r['cache_miss']:g} input / "
                   f"${r['output']:g} output per 1M tokens")
        for w in q.windows:
            typer.echo(f"       window: {w}")
        typer.echo(f"       row from {q.price_effective:%Y-%m-%d %H:%M} UTC; source: {q.source} (verified {q.verified})")
        for w in q.warnings:
            typer.echo(f"       warning: {w}")
        if ln.cost is not None:
            typer.echo(f"     cost of this call: ${ln.cost.usd:.6f}")
    if failed:
        typer.echo(f"error: {model}: {failed}", err=True)
        raise typer.Exit(2)
