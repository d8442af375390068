"""One module per `migrate` command; importing this package imports each, which registers it on
`migrate.cli_app.app`. Command modules import their heavy dependencies inside the command function."""

import importlib
import pkgutil

for _mod in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_mod}")
