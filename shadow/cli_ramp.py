"""`migrate shadow ramp ...` and `migrate shadow report`, registered on the shadow sub-app.

The commands work on the store directly, not through one proxy's admin API: the state row is what every
replica follows (within a second or two), so a command takes effect on all of them, works while the proxies
are down, and needs no admin token in the operator's shell. Each command is recorded with who ran it.
"""

from __future__ import annotations

import getpass
import json
import socket
import sys
from pathlib import Path

import typer

from offramp.shadow.cli import app as shadow_app

ramp_app = typer.Typer(name="ramp", help="Ramp the candidate's share of real traffic behind statistical gates.",
                       no_args_is_help=True, add_completion=False)
shadow_app.add_typer(ramp_app, name="ramp")

DEFAULT_STORE = "sqlite:///offramp-shadow.db"

_CONFIG = typer.Option(None, "--config", "-c", help="Shadow config TOML (store URL, [ramp] plan).")
_STORE = typer.Option(None, "--store", help="Store: a SQLite path or a postgresql:// URL (overrides the config).")


def _fail(msg: str, code: int = 2) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def _store_url(config: Path | None, store: str | None) -> str:
    if store:
        return store
    if config is None:
        return DEFAULT_STORE
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        _fail(f"{config}: no such config file")
    except tomllib.TOMLDecodeError as exc:
        _fail(f"{config}: invalid TOML: {exc}")
    table = data.get("shadow", data)
    url = (table.get("store") or {}).get("url", DEFAULT_STORE)
    if not isinstance(url, str):
        _fail(f"{config}: store.url: must be a string")
    return url


def _open(config: Path | None, store: str | None):
    """(engine, plan) with a clear one-line error for a missing SQLite file or an unreachable server."""
    from offramp.shadow.config import ConfigError, check_legacy_env
    from offramp.shadow.ramp.plan import PlanError, load_plan
    from offramp.shadow.ramp.store import RampStore
    from offramp.shadow.store import open_engine
    from offramp.shadow.store.db import normalize_url

    try:
        check_legacy_env()
        plan = load_plan(config)  # `[ramp]` of the same file `serve --config` reads; no file: the defaults
    except (PlanError, ConfigError) as exc:
        _fail(str(exc))
    from offramp.shadow.cli_errors import one_line, store_url_problem

    if problem := store_url_problem(_store_url(config, store)):
        _fail(problem)
    url = normalize_url(_store_url(config, store))
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        _fail(f"store: no database at {url[len('sqlite:///'):]} (start `migrate shadow serve` first or pass --store)")
    with one_line(_store_url(config, store)):  # unreachable, refused: one line, exit 2
        engine = open_engine(url)
        RampStore(engine).ensure()
    return engine, plan


def _family_labels(config: Path | None) -> dict[str, str]:
    """`[families]` of the config: the names the operator gave request families."""
    if config is None:
        return {}
    from offramp.shadow.config import ConfigError, load_config

    try:
        return load_config(config).families
    except ConfigError as exc:
        _fail(str(exc))
    return {}


def _safe(url: str) -> str:
    """The URL without a password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url.split("@")[-1]


def _actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


def _controller(engine, plan):
    from offramp.shadow.ramp.controller import RampController
    from offramp.shadow.ramp.evidence import StoreEvidence
    from offramp.shadow.ramp.store import RampStore

    return RampController(plan, RampStore(engine), StoreEvidence(engine))


def _run(cmd: str, config: Path | None, store: str | None, value: float | None = None, reason: str = "") -> None:
    from offramp.shadow.ramp.controller import CommandError

    engine, plan = _open(config, store)
    try:
        d = _controller(engine, plan).command(cmd, value, actor=_actor(), reason=reason)
    except CommandError as exc:
        _fail(str(exc))
    typer.echo(f"{d.action}: {d.from_share:g}% → {d.to_share:g}% — {d.reason}")
    typer.echo("every replica follows the new state within a few seconds", err=True)


@ramp_app.command("status")
def status(config: Path = _CONFIG, store: str = _STORE,
           as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Where the ramp is, what the gates say now (estimate, always-valid bounds, samples still needed), what holds
    it and the setting that governs each hold, and the last decisions."""
    from offramp.shadow.ramp.controller import explain
    from offramp.shadow.ramp.store import Leadership, RampStore
    from offramp.shadow.ramp.summary import assess, concern_line

    engine, plan = _open(config, store)
    rs = RampStore(engine)
    st, assessment = assess(engine, plan)
    report = assessment.report if assessment else None
    concerns = assessment.concerns if assessment else []
    decisions = rs.decisions(limit=10)
    leader = Leadership(engine).holder_now()
    if as_json:
        typer.echo(json.dumps({
            "state": st.model_dump(mode="json"), "explanation": explain(st, plan), "plan": plan.steps,
            "controller": leader,
            "gates": report.model_dump(mode="json") if report else None,
            "concerns": [c.model_dump(mode="json") for c in concerns],
            "decisions": [d.model_dump(mode="json") for d in decisions]}, indent=2))
        return
    typer.echo(f"ramp: {st.status.value} at {st.share:g}% (plan {' → '.join(f'{s:g}%' for s in plan.steps)})")
    typer.echo(f"  {explain(st, plan)}")
    if st.reason:
        typer.echo(f"  {st.reason}")
    typer.echo(f"controller: {leader or 'none running (start `migrate shadow serve`)'}")
    if report:
        typer.echo(f"gates now: {report.outcome.value.upper()}")
        for m in report.metrics:
            if m.applicable:
                typer.echo(f"  {m.outcome.value:<4} {m.reason}")
    blocking = [c for c in concerns if c.action == "rollback" or st.status.value == "running"]
    if blocking:
        typer.echo("holding the ramp:" if all(c.action != "rollback" for c in blocking) else "next evaluation:")
        for c in blocking:
            typer.echo(f"  {'roll back' if c.action == 'rollback' else c.action:<9} {concern_line(c)}")
    if decisions:
        typer.echo("last decisions:")
        for d in decisions:
            typer.echo(f"  {d.when}  {d.action:<14} {d.from_share:g}% → {d.to_share:g}%  {d.actor}: {d.reason}"
                       + (f"  [pairs: {', '.join(d.pair_ids[:3])}]" if d.pair_ids else ""))


NOISE_PAIRS_ADVISED = 1000


@ramp_app.command("start")
def start(config: Path = _CONFIG, store: str = _STORE,
          restart: bool = typer.Option(False, "--restart", help="Begin a new ramp from 0% even if the candidate "
                                       "serves traffic now (moves it all back to the primary at once)."),
          reason: str = typer.Option("", "--reason", help="Recorded with the decision.")) -> None:
    """Start the ramp at 0% (shadow only); the controller advances it step by step while the gates pass.

    Refuses while a ramp is under way or complete, so a one-word command never moves production traffic back;
    `--restart` does it deliberately and records it as a `restart` decision.
    """
    _run("restart" if restart else "start", config, store, reason=reason)
    engine, plan = _open(config, store)
    ctl = _controller(engine, plan)
    ev = ctl.evidence(ctl.store.load())
    noise = max((c.noise.n for c in ev.comparators.values()), default=0)
    if noise < NOISE_PAIRS_ADVISED:
        # The benchmark's detection figures assume a noise floor measured before the ramp (bench/rollout).
        typer.echo(f"warning: the noise floor rests on {noise} primary-vs-primary pairs; with fewer than "
                   f"{NOISE_PAIRS_ADVISED} the gates are slow to fail a worse candidate — keep shadowing or raise "
                   "--noise-sample", err=True)
    from offramp.shadow.ramp.comparator_gates import detection_warnings

    for line in detection_warnings(ev.comparators):
        typer.echo(f"warning: {line}", err=True)


@ramp_app.command("pause")
def pause(config: Path = _CONFIG, store: str = _STORE) -> None:
    """Stop advancing (a failing gate still rolls back)."""
    _run("pause", config, store)


@ramp_app.command("resume")
def resume(config: Path = _CONFIG, store: str = _STORE) -> None:
    """Continue the plan from the current share."""
    _run("resume", config, store)


@ramp_app.command("rollback")
def rollback(config: Path = _CONFIG, store: str = _STORE,
             reason: str = typer.Option("", "--reason", help="Recorded with the decision.")) -> None:
    """Send all traffic back to the primary now."""
    _run("rollback", config, store, reason=reason)


@ramp_app.command("approve")
def approve(config: Path = _CONFIG, store: str = _STORE) -> None:
    """Take the step that waits for a human (by default 50% → 100%), now.

    Only while the ramp is awaiting approval (the controller stops there once the gates pass).
    It cannot be given in advance: anywhere else `approve` is an error (exit 2) and nothing changes.
    """
    _run("approve", config, store)


@ramp_app.command("set")
def set_share(share: float = typer.Argument(..., help="Percentage of traffic served by the candidate (0-100)."),
              config: Path = _CONFIG, store: str = _STORE) -> None:
    """Set the share by hand; the ramp pauses there until `resume`."""
    _run("set", config, store, value=share)


@shadow_app.command("report")
def report(
    config: Path = _CONFIG,
    store: str = _STORE,
    fmt: str = typer.Option("terminal", "--format", "-f", help="terminal | json | html"),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    since_hours: float = typer.Option(None, "--since-hours", help="Only pairs from the last N hours."),
    top: int = typer.Option(10, help="How many of the most disagreeing pairs to show."),
    window: str = typer.Option("ramp", "--window", "-w", help="Charts over: hour | day | ramp (the whole ramp)."),
) -> None:
    """The evidence for sign-off: what now, charts over time, agreement vs noise, latency, errors, cost and savings
    at 100%, ramp history, and the most disagreeing pairs side by side."""
    import time

    from offramp.shadow.report.build import build_report
    from offramp.shadow.report.render import render_html, render_json, render_terminal
    from offramp.shadow.report.series import WINDOWS

    if fmt not in ("terminal", "json", "html"):
        _fail(f"--format: {fmt!r} is not one of terminal, json, html")
    if window not in WINDOWS:
        _fail(f"--window: {window!r} is not one of {', '.join(WINDOWS)}")
    engine, plan = _open(config, store)
    rep = build_report(engine, plan, since=time.time() - since_hours * 3600 if since_hours else None, top=top,
                       window=window, labels=_family_labels(config))
    text = {"terminal": render_terminal, "json": render_json, "html": render_html}[fmt](rep)
    if output is None:
        typer.echo(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"--output {output}: {exc.strerror or exc}")
    typer.echo(f"wrote {output} ({len(text):,} bytes)", err=True)
