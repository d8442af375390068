"""File helpers for uploads: format checks and base64 for data URLs."""

import base64
from pathlib import Path

JPEG_SUFFIXES = {".jpg", ".jpeg"}
JPEG_MAGIC = b"\xff\xd8\xff"


class UnsupportedMedia(ValueError):
    pass


def require_jpeg(path: Path) -> None:
    """Phones send JPEG; anything else is refused before it costs a request."""
    if path.suffix.lower() not in JPEG_SUFFIXES:
        raise UnsupportedMedia(f"{path}: expected a .jpg/.jpeg photo")
    with path.open("rb") as fh:
        if fh.read(3) != JPEG_MAGIC:
            raise UnsupportedMedia(f"{path}: not a JPEG file")


def b64_file(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")
