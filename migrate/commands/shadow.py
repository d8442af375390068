"""`migrate shadow ...`: mounts the shadow sub-app (shadow/cli.py keeps its heavy imports inside commands)."""

from offramp.migrate.cli_app import app
from offramp.shadow.cli import app as shadow_app

app.add_typer(shadow_app, name="shadow")
