"""Entry point of the `migrate` console script."""

from __future__ import annotations

from offramp.migrate.cli_app import app


def _register() -> None:
    # Importing registers the commands; each module imports its heavy dependencies lazily.
    import offramp.migrate.commands  # noqa: F401


def main() -> None:
    _register()
    app()


if __name__ == "__main__":
    main()
