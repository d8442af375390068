"""`migrate schema`: print or write the JSON Schema of `migrate scan --format json`."""

from __future__ import annotations

from pathlib import Path

import typer

from offramp.migrate.cli_app import app


@app.command("schema")
def schema(
    output: Path | None = typer.Option(
        None, "--output", "-o", metavar="FILE", help="Write the schema to FILE instead of standard output."
    ),
) -> None:
    """Print the JSON Schema of the scan report (generated from the report models)."""
    from offramp.migrate.report.json_schema import schema_text

    text = schema_text()
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        typer.echo(f"migrate schema: {output}: cannot write: {e.strerror or e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"wrote {output}", err=True)
