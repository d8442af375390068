"""Training data: labelled tickets → the chat-format JSONL the fine-tuning API expects."""

import json
from pathlib import Path

from classifier.models import LABELS


class DatasetError(ValueError):
    pass


def load_labelled(path: Path) -> list[tuple[str, str]]:
    """Read `label<TAB>ticket text` lines; a bad line fails with its number."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        label, sep, text = line.partition("\t")
        if not sep or label not in LABELS:
            raise DatasetError(f"{path}:{number}: expected `label<TAB>text` with a label in {LABELS}")
        rows.append((label, text.strip()))
    return rows


def to_jsonl(rows: list[tuple[str, str]], system: str) -> str:
    lines = []
    for label, text in rows:
        example = {
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": text},
                {"role": "assistant", "content": label},
            ]
        }
        lines.append(json.dumps(example))
    return "\n".join(lines) + "\n"
