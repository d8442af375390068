"""The `model` field of a multipart/form-data upload (audio transcription, translation), so such calls are routed
by the model map like JSON calls, and a mapped model name is sent to the backend that serves them."""

from __future__ import annotations

import re

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.I)
_NAME = re.compile(rb'content-disposition:[^\r\n]*;\s*name="([^"]*)"', re.I)


def _parts(content: bytes, content_type: str) -> tuple[bytes, list[bytes]] | None:
    m = _BOUNDARY.search(content_type) if "multipart/form-data" in content_type.lower() else None
    if not m:
        return None
    delim = b"--" + m.group(1).encode("latin-1")
    return delim, content.split(delim)


def _value_span(part: bytes, name: str) -> tuple[int, int] | None:
    head_end = part.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = part[:head_end]
    m = _NAME.search(head)
    if not m or m.group(1).decode("latin-1") != name or b"filename=" in head.lower():
        return None
    end = len(part) - 2 if part.endswith(b"\r\n") else len(part)
    return head_end + 4, end


def form_field(content: bytes, content_type: str, name: str) -> str | None:
    """A text field's value, or None when the body is not multipart or has no such field."""
    split = _parts(content, content_type)
    for part in split[1] if split else ():
        span = _value_span(part, name)
        if span:
            return part[span[0]:span[1]].decode("utf-8", "replace")
    return None


def replace_field(content: bytes, content_type: str, name: str, value: str) -> bytes:
    """The same body with one text field's value replaced (the file parts are copied byte for byte)."""
    split = _parts(content, content_type)
    if not split:
        return content
    delim, parts = split
    out = []
    for part in parts:
        span = _value_span(part, name)
        if span:
            part = part[:span[0]] + value.encode() + part[span[1]:]
        out.append(part)
    return delim.join(out)
