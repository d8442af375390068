"""Install the root folders under one import namespace: `migrate/` as `offramp.migrate`, and so on.

The repository keeps its folders at the root (the product's layout); only the installed names change, so
Offramp never shadows an application's own `adapters`/`rules` package or another distribution's."""

from setuptools import find_packages, setup

ROOTS = ("migrate", "adapters", "shadow", "rules", "schema")

packages, package_dir = [], {}
for root in ROOTS:
    package_dir[f"offramp.{root}"] = root
    packages += [f"offramp.{root}", *(f"offramp.{root}.{sub}" for sub in find_packages(root))]

setup(packages=packages, package_dir=package_dir)
