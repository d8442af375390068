"""Azure OpenAI's deployment routes on the openai flavor, and JSON mode following a schema quoted in the prompt."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fake_upstream.conftest import client

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                                           "tags": {"type": "array", "items": {"type": "string"}}},
          "required": ["name", "age", "tags"], "additionalProperties": False}
HI = [{"role": "user", "content": "hi"}]


def azure(fake, **kw) -> openai.AzureOpenAI:
    kw.setdefault("api_key", "azure-key")
    kw.setdefault("api_version", "2024-06-01")
    return openai.AzureOpenAI(azure_endpoint=fake.url, max_retries=0, **kw)


def test_azure_deployment_names_the_model_and_needs_api_version_and_api_key(fakes):
    oa = fakes["openai"]
    res = azure(oa).chat.completions.create(model="prod-gpt4o", messages=HI)
    assert res.choices[0].message.content == "Echo: hi" and res.model == "prod-gpt4o"
    req = oa.requests[-1]
    assert req.path == "/openai/deployments/prod-gpt4o/chat/completions"
    assert req.query == {"api-version": "2024-06-01"} and req.key_fingerprint
    assert "authorization" not in {k.lower() for k in req.headers}
    emb = azure(oa).embeddings.create(model="emb-deploy", input=["a", "b"])
    assert len(emb.data) == 2 and oa.requests[-1].path == "/openai/deployments/emb-deploy/embeddings"
    legacy = azure(oa).completions.create(model="instruct", prompt="Say hi", max_tokens=8)
    assert legacy.choices[0].text


def test_azure_errors_have_azure_shape(fakes):
    oa = fakes["openai"]
    with pytest.raises(openai.NotFoundError) as exc:
        azure(oa, api_version="latest").chat.completions.create(model="d", messages=HI)
    assert exc.value.body == {"code": "404", "message": "Resource not found"}
    import httpx2 as httpx

    raw = httpx.post(f"{oa.url}/openai/deployments/d/chat/completions", json={"messages": HI})
    assert raw.status_code == 404  # no api-version at all
    raw = httpx.post(f"{oa.url}/openai/deployments/d/chat/completions?api-version=2024-06-01", json={"messages": HI})
    assert raw.status_code == 401 and raw.json()["error"]["code"] == "401"
    assert "invalid subscription key" in raw.json()["error"]["message"]


def test_azure_entra_token_and_flavors_without_azure(fakes):
    res = azure(fakes["openai"], api_key=None, azure_ad_token="entra-token").chat.completions.create(
        model="d", messages=HI)
    assert res.choices[0].message.content == "Echo: hi"
    with pytest.raises(openai.NotFoundError):
        azure(fakes["deepseek"]).chat.completions.create(model="deepseek-v4-flash", messages=HI)


def test_azure_checks_the_configured_key_and_deployments():
    from offramp.migrate.fake_upstream.testing import FakeUpstream

    with FakeUpstream("openai", api_key="sk-right", models=["prod"]) as fake:
        with pytest.raises(openai.AuthenticationError):
            azure(fake, api_key="sk-wrong").chat.completions.create(model="prod", messages=HI)
        with pytest.raises(openai.NotFoundError) as exc:
            azure(fake, api_key="sk-right").chat.completions.create(model="other", messages=HI)
        assert exc.value.body["code"] == "DeploymentNotFound"
        assert azure(fake, api_key="sk-right").chat.completions.create(model="prod", messages=HI).choices


@pytest.mark.parametrize("flavor", ["openai", "deepseek", "vllm"])
def test_json_object_follows_a_schema_quoted_in_the_prompt(fakes, flavor):
    fake = fakes[flavor]
    model = {"openai": "gpt-4o", "deepseek": "deepseek-flash", "vllm": "deepseek-ai/DeepSeek-V4-Flash"}[flavor]
    off = {"extra_body": {"thinking": {"type": "disabled"}}} if flavor == "deepseek" else {}
    prompt = ("Describe Bob.\n\nReply with one json object only that conforms to this JSON schema named P:\n"
              + json.dumps(SCHEMA, separators=(",", ":")))
    res = client(fake).chat.completions.create(model=model, response_format={"type": "json_object"}, **off,
                                               messages=[{"role": "user", "content": prompt}])
    value = json.loads(res.choices[0].message.content)
    assert set(value) == {"name", "age", "tags"} and isinstance(value["age"], int)
    # a schema in the system message counts too; without any schema the answer keeps its {answer, input} shape
    res = client(fake).chat.completions.create(
        model=model, response_format={"type": "json_object"}, **off,
        messages=[{"role": "system", "content": "Answer in json matching this json_schema: " + json.dumps(SCHEMA)},
                  {"role": "user", "content": "Describe Bob."}])
    assert set(json.loads(res.choices[0].message.content)) == {"name", "age", "tags"}
    res = client(fake).chat.completions.create(model=model, response_format={"type": "json_object"}, **off,
                                               messages=[{"role": "user", "content": "json please"}])
    assert set(json.loads(res.choices[0].message.content)) == {"answer", "input"}


def test_schema_in_prompt_parser():
    from offramp.migrate.fake_upstream.synth import schema_in_prompt

    assert schema_in_prompt([{"role": "user", "content": "JSON schema: {not json} then {\"type\": \"object\"}"}]) \
        == {"type": "object"}
    assert schema_in_prompt([{"role": "user", "content": "json schema below\n{\"a\": 1}"}]) is None
    assert schema_in_prompt([{"role": "assistant", "content": "JSON schema {\"type\": \"object\"}"}]) is None
