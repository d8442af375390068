"""Endpoints beyond chat: completions, embeddings, models, responses, images, audio, files, fine-tuning,
batches, moderations — and which flavors refuse them."""

from __future__ import annotations

import base64
import json

import httpx
import openai
import pytest

from tests.fake_upstream.conftest import MODELS, aclient, client


def test_embeddings_are_deterministic_unit_vectors_with_dimensions(fakes):
    c = client(fakes["openai"])
    a = c.embeddings.create(model="text-embedding-3-small", input=["apple", "pear"])
    b = c.embeddings.create(model="text-embedding-3-small", input=["apple"], encoding_format="float")
    assert len(a.data) == 2 and len(a.data[0].embedding) == 1536
    assert a.data[0].embedding == pytest.approx(b.data[0].embedding, abs=1e-6)
    assert a.data[0].embedding != pytest.approx(a.data[1].embedding, abs=1e-3)
    small = c.embeddings.create(model="text-embedding-3-large", input="apple", dimensions=64)
    assert len(small.data[0].embedding) == 64
    assert sum(v * v for v in small.data[0].embedding) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(openai.BadRequestError, match="does not support specifying dimensions"):
        c.embeddings.create(model="text-embedding-ada-002", input="apple", dimensions=64)
    raw = httpx.post(
        f"{fakes['openai'].base_url}/embeddings",
        headers={"Authorization": "Bearer k"},
        json={
            "model": "text-embedding-3-small",
            "input": "apple",
            "encoding_format": "base64",
            "dimensions": 4,
        },
    ).json()
    assert len(base64.b64decode(raw["data"][0]["embedding"])) == 16
    v = client(fakes["vllm"]).embeddings.create(model="BAAI/bge-m3", input="apple")
    assert len(v.data[0].embedding) == 1024


def test_models_list_per_flavor(fakes):
    ids = {m.id for m in client(fakes["deepseek"]).models.list()}
    assert {"deepseek-v4-flash", "deepseek-v4-pro", "deepseek-flash"} <= ids
    assert client(fakes["vllm"]).models.list().data[0].id == MODELS["vllm"]
    assert client(fakes["openai"]).models.retrieve("gpt-4o").owned_by == "openai"


def test_legacy_completions_and_deepseek_beta_fim(fakes):
    r = client(fakes["openai"]).completions.create(
        model="gpt-3.5-turbo-instruct", prompt="Say hi", max_tokens=50
    )
    assert r.choices[0].text == "Echo: Say hi" and r.object == "text_completion"
    chunks = list(
        client(fakes["vllm"]).completions.create(model=MODELS["vllm"], prompt="Say hi", stream=True)
    )
    assert "".join(c.choices[0].text for c in chunks) == "Echo: Say hi"
    with pytest.raises(openai.NotFoundError):
        client(fakes["deepseek"]).completions.create(model="deepseek-flash", prompt="x")
    beta = openai.OpenAI(base_url=fakes["deepseek"].url + "/beta", api_key="k", max_retries=0)
    assert beta.completions.create(model="deepseek-flash", prompt="def f(", suffix="return 1").choices[0].text


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_deepseek_refuses_what_it_does_not_offer(fakes):
    c = client(fakes["deepseek"])
    calls = [
        lambda: c.embeddings.create(model="deepseek-flash", input="x"),
        lambda: c.images.generate(prompt="x"),
        lambda: c.audio.speech.create(model="tts-1", voice="alloy", input="x"),
        lambda: c.fine_tuning.jobs.list(),
        lambda: c.batches.list(),
        lambda: c.moderations.create(input="x"),
        lambda: c.beta.assistants.list(),
    ]
    for call in calls:
        with pytest.raises(openai.NotFoundError):
            call()


def test_responses_store_chain_and_stream(fakes):
    c = client(fakes["openai"])
    first = c.responses.create(model="gpt-4o", input="hello there")
    assert first.output_text == "Echo: hello there" and first.store
    second = c.responses.create(model="gpt-4o", input="again", previous_response_id=first.id)
    assert second.output_text == "Echo: again" and second.previous_response_id == first.id
    assert c.responses.retrieve(first.id).output_text == "Echo: hello there"
    events = list(c.responses.create(model="gpt-4o", input="stream me", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Echo: stream me"
    tool = c.responses.create(
        model="gpt-4o",
        input="weather",
        tools=[
            {
                "type": "function",
                "name": "w",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
    )
    assert tool.output[0].type == "function_call" and "city" in json.loads(tool.output[0].arguments)
    ds = client(fakes["deepseek"])
    with pytest.raises(openai.BadRequestError, match="stateless"):
        ds.responses.create(model="deepseek-v4-flash", input="x", previous_response_id=first.id)
    assert ds.responses.create(model="deepseek-v4-flash", input="x").output_text == "Echo: x"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_images_audio_and_moderations(fakes):
    c = aclient(fakes["openai"])
    img = await c.images.generate(model="gpt-image-1", prompt="a cat")
    assert base64.b64decode(img.data[0].b64_json).startswith(b"\x89PNG")
    url = (await c.images.generate(model="dall-e-3", prompt="a cat", response_format="url")).data[0].url
    assert httpx.get(url).content.startswith(b"\x89PNG")
    t = await c.audio.transcriptions.create(model="whisper-1", file=("talk.wav", b"RIFF0000WAVE"))
    assert t.text == "Transcript of talk.wav (12 bytes)."
    tr = await c.audio.translations.create(
        model="whisper-1", file=("talk.wav", b"RIFF"), response_format="text"
    )
    assert tr.startswith("Translation of talk.wav")
    speech = await c.audio.speech.create(model="tts-1", voice="alloy", input="hello", response_format="wav")
    assert speech.content[:4] == b"RIFF"
    mod = await c.moderations.create(input=["I will kill you", "nice day"])
    assert [r.flagged for r in mod.results] == [True, False] and mod.results[0].categories.violence


def test_files_fine_tuning_and_batches_lifecycle(fakes):
    c = client(fakes["openai"])
    train = c.files.create(file=("train.jsonl", b'{"messages": []}\n'), purpose="fine-tune")
    assert c.files.retrieve(train.id).filename == "train.jsonl"
    assert c.files.content(train.id).content == b'{"messages": []}\n'
    with pytest.raises(openai.BadRequestError, match="line 1 of bad.jsonl"):
        c.files.create(file=("bad.jsonl", b"{nope\n"), purpose="batch")
    job = c.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=train.id)
    statuses = [c.fine_tuning.jobs.retrieve(job.id).status for _ in range(4)]
    assert statuses[-1] == "succeeded" and c.fine_tuning.jobs.retrieve(job.id).fine_tuned_model.startswith(
        "ft:"
    )
    assert [e.message for e in c.fine_tuning.jobs.list_events(job.id)][-1] == "Created fine-tuning job"
    other = c.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=train.id)
    assert c.fine_tuning.jobs.cancel(other.id).status == "cancelled"
    assert len(c.fine_tuning.jobs.list().data) == 2
    line = {
        "custom_id": "q1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
    }
    source = c.files.create(file=("in.jsonl", (json.dumps(line) + "\n").encode()), purpose="batch")
    batch = c.batches.create(
        input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    for _ in range(5):
        batch = c.batches.retrieve(batch.id)
    assert batch.status == "completed" and batch.request_counts.completed == 1
    out = json.loads(c.files.content(batch.output_file_id).text.splitlines()[0])
    assert out["custom_id"] == "q1"
    assert out["response"]["body"]["choices"][0]["message"]["content"] == "Echo: hi"
    assert c.files.delete(train.id).deleted
    with pytest.raises(openai.NotFoundError):
        c.files.retrieve(train.id)
