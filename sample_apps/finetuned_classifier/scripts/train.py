"""Fine-tune the ticket classifier: upload the data, start the job, wait, print the new model id.

    python scripts/train.py data/tickets.tsv --suffix tickets
Then put the printed id into classifier/models.py (TICKET_MODEL).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from openai import OpenAI

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from classifier.classify import SYSTEM  # noqa: E402
from classifier.dataset import DatasetError, load_labelled, to_jsonl  # noqa: E402
from classifier.models import BASE_MODEL  # noqa: E402

TERMINAL = {"succeeded", "failed", "cancelled"}


def upload_training_file(client: OpenAI, jsonl: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as tmp:
        tmp.write(jsonl)
    with open(tmp.name, "rb") as fh:
        uploaded = client.files.create(file=fh, purpose="fine-tune")
    Path(tmp.name).unlink()
    return uploaded.id


def train(client: OpenAI, data: Path, suffix: str, poll_seconds: float, timeout_seconds: float) -> str:
    file_id = upload_training_file(client, to_jsonl(load_labelled(data), SYSTEM))
    job = client.fine_tuning.jobs.create(
        training_file=file_id,
        model=BASE_MODEL,
        suffix=suffix,
        hyperparameters={"n_epochs": 3},
    )
    print(f"started {job.id} on {file_id}", file=sys.stderr)
    deadline = time.monotonic() + timeout_seconds
    while job.status not in TERMINAL:
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job.id} still {job.status} after {timeout_seconds:.0f}s")
        time.sleep(poll_seconds)
        job = client.fine_tuning.jobs.retrieve(job.id)
    if job.status != "succeeded" or not job.fine_tuned_model:
        raise RuntimeError(f"job {job.id} ended {job.status}: {job.error}")
    return job.fine_tuned_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="label<TAB>text file")
    parser.add_argument("--suffix", default="tickets")
    parser.add_argument("--poll-seconds", type=float, default=30.0)
    parser.add_argument("--timeout-seconds", type=float, default=6 * 3600.0)
    args = parser.parse_args(argv)
    try:
        model_id = train(OpenAI(), args.data, args.suffix, args.poll_seconds, args.timeout_seconds)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(model_id)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
