"""Where a `migrate shadow serve` subprocess listens, read from the banner it writes to its log."""

from __future__ import annotations

import time
from pathlib import Path


def proxy_url(log: Path, timeout: float = 60) -> str:
    """The proxy's base URL from its banner (`offramp shadow proxy on URL ...`); fails with the log if it never came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if line.startswith("offramp shadow proxy on "):
                return line.split()[4]
        time.sleep(0.05)
    raise AssertionError(log.read_text())
