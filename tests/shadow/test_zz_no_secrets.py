"""Runs last (file order): after the whole shadow suite, no API key appears in any store, WAL or log it wrote."""

from __future__ import annotations

from pathlib import Path

from tests.shadow.conftest import ADMIN, APP_KEY, CAND_KEY


def _read(p: Path) -> bytes:
    """A store's -wal/-shm file vanishes when a proxy that is still shutting down closes its last connection; SQLite
    has then checkpointed the WAL into the database file, so read that one again instead of losing its content."""
    try:
        return p.read_bytes()
    except FileNotFoundError:
        for suffix in ("-wal", "-shm", "-journal"):
            if p.name.endswith(suffix):
                return p.with_name(p.name[: -len(suffix)]).read_bytes()
        return b""  # any other file that vanished held nothing by the time it was gone


def test_no_api_key_in_any_store_or_log(tmp_path_factory, _json_log_file):
    base = tmp_path_factory.getbasetemp()
    # the packaging and pre-commit tests copy this repository's sources, and the test modules hold the keys by
    # design: exact copies of those are not something the proxy wrote
    repo = Path(__file__).resolve().parents[2]
    ours = {f.read_bytes() for f in (repo / "tests").rglob("*.py") if APP_KEY.encode() in f.read_bytes()}
    files = [p for p in base.rglob("*") if p.is_file() and not (p.suffix == ".py" and p.read_bytes() in ours)]
    assert any(p.suffix == ".db" for p in files), "the suite wrote no store?"
    assert _json_log_file.exists() and _json_log_file.stat().st_size > 0
    for p in files:
        data = _read(p)
        for secret in (APP_KEY, CAND_KEY, ADMIN, APP_KEY[3:]):
            assert secret.encode() not in data, f"{secret[:8]}… found in {p}"
