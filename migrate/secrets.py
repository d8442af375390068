"""Keys hard-coded in the scanned source must not travel on into findings, caches or reports.

A finding quotes its source line (`code`), and a 0.x app often reads `openai.api_key = "sk-..."`. Reports are
written to files, uploaded to GitHub code scanning and mailed to managers, so every format gets the line with
the key's value replaced; the path and line still say where it is.
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"

# Provider-style keys anywhere on the line (OpenAI `sk-`/`sk-proj-`, DeepSeek `sk-`), and bearer tokens.
_TOKEN = re.compile(r"\b(sk-)[A-Za-z0-9_\-]{16,}|\b(Bearer\s+)[A-Za-z0-9._\-]{16,}")
# Any string literal given to a key-like name: `api_key="..."`, `openai.api_key = '...'`, `"api-key": "..."`.
_ASSIGNED = re.compile(
    r"""(?P<lead>\b(?:api[_-]?key|azure_ad_token|access[_-]?token|secret|password)['"]?\s*(?:=|:)\s*[rbuRBU]?)"""
    r"""(?P<q>['"])(?P<value>[^'"\n]{6,})(?P=q)""",
    re.IGNORECASE,
)


def redact(line: str) -> str:
    """The line with key values replaced by `<redacted>`; unchanged when it holds none."""
    line = _ASSIGNED.sub(lambda m: f"{m['lead']}{m['q']}{REDACTED}{m['q']}", line)
    return _TOKEN.sub(lambda m: f"{m[1] or m[2]}{REDACTED}", line)
