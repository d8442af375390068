"""The fake's answers have the same structure (keys and JSON types) as the recorded real shapes in
tests/fixtures/, and the openai SDK's own models validate every one of them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from offramp.migrate.fake_upstream.testing import FakeUpstream
from tests.fake_upstream.conftest import MODELS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
USER = [{"role": "user", "content": "Hello"}]
TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def shape_diff(expected: object, actual: object, where: str = "$") -> list[str]:
    """Differences in keys and JSON types; list items are compared with the fixture's first item."""
    if _kind(expected) != _kind(actual):
        return [f"{where}: expected {_kind(expected)}, got {_kind(actual)}"]
    if isinstance(expected, dict):
        assert isinstance(actual, dict)
        out = [f"{where}: missing key {k!r}" for k in expected if k not in actual and not k.startswith("_")]
        out += [f"{where}: unexpected key {k!r}" for k in actual if k not in expected]
        for k in expected:
            if k in actual:
                out += shape_diff(expected[k], actual[k], f"{where}.{k}")
        return out
    if isinstance(expected, list) and expected and actual:
        assert isinstance(actual, list)
        return [d for i, item in enumerate(actual) for d in shape_diff(expected[0], item, f"{where}[{i}]")]
    return []


def test_shape_diff_catches_a_missing_key_and_a_wrong_type():
    assert shape_diff({"a": 1, "b": {"c": "x"}}, {"a": 2, "b": {"c": "y"}}) == []
    assert shape_diff({"a": 1}, {"a": "1"}) == ["$.a: expected number, got str"]
    assert shape_diff({"a": 1, "b": 2}, {"a": 1}) == ["$: missing key 'b'"]


def post(fake: FakeUpstream, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{fake.base_url}{path}", json=body, headers={"Authorization": "Bearer sk-test"})


def sse(fake: FakeUpstream, body: dict) -> list[dict]:
    text = post(fake, "/chat/completions", {**body, "stream": True}).text
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


def test_openai_shapes(fakes):
    fake = fakes["openai"]
    plain = post(fake, "/chat/completions", {"model": "gpt-4o", "messages": USER}).json()
    assert shape_diff(fixture("openai/chat_completion.json"), plain) == []
    tool = post(fake, "/chat/completions", {"model": "gpt-4o", "messages": USER, "tools": [TOOL]}).json()
    assert shape_diff(fixture("openai/chat_tool_call.json"), tool) == []
    chunks = sse(fake, {"model": "gpt-4o", "messages": USER, "stream_options": {"include_usage": True}})
    expected = fixture("openai/chat_stream.json")
    assert shape_diff(expected["first"], chunks[0]) == []
    assert shape_diff(expected["content"], chunks[1]) == []
    assert shape_diff(expected["finish"], chunks[-2]) == []
    assert shape_diff(expected["usage"], chunks[-1]) == []
    emb = post(fake, "/embeddings", {"model": "text-embedding-3-small", "input": "hi"}).json()
    assert shape_diff(fixture("openai/embeddings.json"), emb) == []
    err = post(fake, "/chat/completions", {"model": "gpt-4o", "messages": USER, "thinking": {}})
    assert err.status_code == 400 and shape_diff(fixture("openai/error.json"), err.json()) == []


def test_deepseek_shapes(fakes):
    fake = fakes["deepseek"]
    plain = post(fake, "/chat/completions", {"model": "deepseek-v4-flash", "messages": USER}).json()
    assert shape_diff(fixture("deepseek/chat_thinking.json"), plain) == []
    chunks = sse(fake, {"model": "deepseek-v4-flash", "messages": USER})
    expected = fixture("deepseek/chat_stream.json")
    assert shape_diff(expected["first"], chunks[0]) == []
    assert shape_diff(expected["reasoning"], chunks[1]) == []
    content = next(c for c in chunks if c["choices"][0]["delta"].get("content"))
    assert shape_diff(expected["content"], content) == []
    assert shape_diff(expected["finish"], chunks[-1]) == []
    err = post(fake, "/chat/completions", {"model": "gpt-4o", "messages": USER})
    assert err.status_code == 400 and shape_diff(fixture("deepseek/error.json"), err.json()) == []


def test_vllm_shapes():
    with FakeUpstream("vllm", vllm_thinking=True) as fake:
        plain = post(fake, "/chat/completions", {"model": MODELS["vllm"], "messages": USER}).json()
        assert shape_diff(fixture("vllm/chat_reasoning.json"), plain) == []
        err = post(fake, "/chat/completions", {"model": "gpt-4o", "messages": USER}).json()
        assert shape_diff(fixture("vllm/error_wrapped.json"), err) == []
    with FakeUpstream("vllm", vllm_error_style="flat") as fake:
        err = post(fake, "/chat/completions", {"model": "gpt-4o", "messages": USER}).json()
        assert shape_diff(fixture("vllm/error_flat.json"), err) == []


def test_llama_cpp_python_shapes():
    """The fake's llama-cpp-python flavor answers each recorded request (tests/fixtures/llamacpp/, captured from the
    real server) with the same status, content type and structure."""
    from tests.selfhosted.capture import capture, differences

    with FakeUpstream("llama-cpp-python") as fake:
        got = capture(fake.base_url, "tiny", n_ctx=2048)
    for name, answer in got.items():
        assert differences(fixture(f"llamacpp/{name}.json"), answer) == [], name


def test_fixtures_themselves_validate_as_sdk_types():
    for name in (
        "openai/chat_completion.json",
        "openai/chat_tool_call.json",
        "deepseek/chat_thinking.json",
        "vllm/chat_reasoning.json",
    ):
        ChatCompletion.model_validate(fixture(name))
    for name in ("openai/chat_stream.json", "deepseek/chat_stream.json"):
        for key, chunk in fixture(name).items():
            if not key.startswith("_"):
                ChatCompletionChunk.model_validate(chunk)


VARIANTS = [
    {},
    {"tools": [TOOL]},
    {"tools": [TOOL], "tool_choice": "required", "thinking": {"type": "disabled"}},
    {"response_format": {"type": "json_object"}, "messages": [{"role": "user", "content": "json please"}]},
    {"logprobs": True, "top_logprobs": 2, "thinking": {"type": "disabled"}},
    {"max_tokens": 1},
]


@pytest.mark.parametrize("variant", range(len(VARIANTS)))
def test_sdk_models_validate_every_answer_and_chunk(fake, variant):
    body = {"model": MODELS[fake.flavor], "messages": USER, **VARIANTS[variant]}
    if fake.flavor != "deepseek":
        body.pop("thinking", None)
    resp = post(fake, "/chat/completions", body)
    assert resp.status_code == 200, resp.text
    ChatCompletion.model_validate(resp.json())
    for chunk in sse(fake, {**body, "stream_options": {"include_usage": True}}):
        ChatCompletionChunk.model_validate(chunk)
    if fake.flavor != "deepseek":
        emb = post(
            fake,
            "/embeddings",
            {
                "model": "text-embedding-3-small" if fake.flavor == "openai" else "BAAI/bge-m3",
                "input": ["a", "b"],
            },
        )
        CreateEmbeddingResponse.model_validate(emb.json())


async def test_async_sdk_parses_streams_and_embeddings(fakes):
    for name, fake in fakes.items():
        c = openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0)
        stream = await c.chat.completions.create(
            model=MODELS[name], messages=USER, stream=True, stream_options={"include_usage": True}
        )
        chunks = [ch async for ch in stream]
        assert any(ch.usage for ch in chunks)
        if name != "deepseek":
            model = "text-embedding-3-small" if name == "openai" else "BAAI/bge-m3"
            emb = await c.embeddings.create(model=model, input="x")  # the SDK asks for base64 and decodes it
            assert abs(sum(v * v for v in emb.data[0].embedding) - 1) < 1e-5
