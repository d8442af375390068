import json
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(APP / "scripts"))

import train  # noqa: E402

from classifier.dataset import DatasetError, load_labelled, to_jsonl  # noqa: E402


def test_training_run_prints_the_fine_tuned_model_id(capsys):
    code = train.main([str(APP / "data" / "tickets.tsv"), "--poll-seconds", "0.05", "--timeout-seconds", "30"])
    out, err = capsys.readouterr()
    assert code == 0, err
    model_id = out.strip()
    assert model_id.startswith("ft:"), model_id
    assert err.startswith("started ")


def test_bad_training_data_fails_before_any_upload(tmp_path, capsys):
    data = tmp_path / "tickets.tsv"
    data.write_text("billing\tdouble charge\nnot-a-label\tsomething\n", encoding="utf-8")
    assert train.main([str(data)]) == 2
    err = capsys.readouterr().err
    assert f"{data}:2:" in err
    assert "started" not in err


def test_dataset_becomes_chat_jsonl():
    rows = load_labelled(APP / "data" / "tickets.tsv")
    assert len(rows) == 5
    lines = to_jsonl(rows, "system prompt").splitlines()
    first = json.loads(lines[0])
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    assert first["messages"][2]["content"] == rows[0][0]


def test_dataset_error_names_the_line(tmp_path):
    data = tmp_path / "bad.tsv"
    data.write_text("shipping late parcel without a tab\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"bad\.tsv:1:"):
        load_labelled(data)
