"""Declarative data (TOML) read by the scanner, the adapter and the shadow proxy."""

from pathlib import Path

RULES_DIR = Path(__file__).resolve().parent
PATTERNS_DIR = RULES_DIR / "patterns"
BACKENDS_DIR = RULES_DIR / "backends"
PRICES_DIR = RULES_DIR / "prices"
