"""One module per `migrate` command; importing a module registers its command on `migrate.cli_app.app`."""
