"""The typer application every `migrate` command registers on (see migrate/commands/)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from offramp.migrate import __version__

app = typer.Typer(
    name="migrate",
    help="Offramp: scan OpenAI lock-in, rewrite onto the unified adapter, shadow and ramp DeepSeek.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        name = Path(sys.argv[0]).name
        typer.echo(f"offramp {__version__}" if name == "offramp" else f"migrate (offramp) {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Offramp: move applications off the OpenAI API onto DeepSeek."""
