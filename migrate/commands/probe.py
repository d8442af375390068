"""`migrate probe`: probe an OpenAI-compatible server and write its capability profile."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from offramp.migrate.cli_app import app


@app.command("probe")
def probe_command(
    base_url: str = typer.Argument(..., help="server base URL, e.g. http://127.0.0.1:8000/v1"),
    model: str = typer.Option(..., "--model", help="model id to probe"),
    key_env: str = typer.Option(
        None, "--key-env", help="environment variable holding the API key (omit for servers without auth)"
    ),
    name: str = typer.Option("probed", "--name", help="backend kind written to the profile"),
    output: Path = typer.Option(None, "--output", help="profile file to write (default: ./<name>.toml)"),
    timeout: float = typer.Option(60.0, "--timeout", help="seconds per request"),
) -> None:
    """Send a small battery of requests and write a rules/backends-style profile of what passed."""
    from rich.console import Console
    from rich.table import Table

    from offramp.migrate.probe import ProbeError, probe, shown_url, write_profile

    err = Console(stderr=True)
    if key_env:
        api_key = os.environ.get(key_env)
        if not api_key:
            err.print(f"error: --key-env: environment variable {key_env} is not set", markup=False, soft_wrap=True)
            raise typer.Exit(2)
    else:
        api_key = "EMPTY"
    if not base_url.startswith(("http://", "https://")):
        err.print(f"error: BASE_URL {base_url!r} must start with http:// or https://", markup=False, soft_wrap=True)
        raise typer.Exit(2)
    target = output or Path(f"{name}.toml")
    try:
        result = probe(base_url, model, api_key, name=name, timeout=timeout)
    except ProbeError as exc:
        err.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    table = Table(title=f"migrate probe {shown_url(base_url)} (model {model})")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    marks = {True: "[green]pass[/]", False: "[red]fail[/]", None: "[dim]info[/]"}
    for check in result.checks:
        table.add_row(check.name, marks[check.passed], check.detail.replace("[", "\\["))
    console = Console()
    console.print(table)
    try:
        write_profile(result, target)
    except OSError as exc:
        err.print(f"error: cannot write {target}: {exc.strerror}", markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    console.print(f"profile written to {target} (kind {name!r})", markup=False, soft_wrap=True)
