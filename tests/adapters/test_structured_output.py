"""Structured output on DeepSeek (no json_schema): json_object + the schema in the prompt, the reply validated,
one retry — the success path, the retry path and, for streams, validation at the end (sync and async)."""

from __future__ import annotations

import json

import openai
import pytest
from adapter_helpers import call, collect, config, make_client
from pydantic import BaseModel

SYNC_ASYNC = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
ASK = [{"role": "user", "content": "Who is Bob?"}]


class Address(BaseModel):
    city: str
    zip_code: str


class Person(BaseModel):
    name: str
    age: int
    emails: list[str]
    address: Address  # a nested model: $defs/$ref in the schema the SDK sends


def json_schema_format() -> dict:
    return {"type": "json_schema", "json_schema": {"name": "Person", "schema": Person.model_json_schema()}}


@SYNC_ASYNC
async def test_parse_with_a_pydantic_model_succeeds_on_deepseek(fakes, ds, oa, is_async):
    client = make_client(fakes, config(fakes), is_async=is_async)
    res = await call(client, "chat.completions.parse", model="gpt-4o", response_format=Person, messages=ASK)
    person = res.choices[0].message.parsed
    assert isinstance(person, Person) and isinstance(person.address, Address)
    assert len(ds.requests) == 1 and not oa.requests
    sent = ds.requests[0].json
    assert sent["response_format"] == {"type": "json_object"} and sent["model"] == "deepseek-v4-flash"
    assert "JSON schema" in sent["messages"][-1]["content"]
    assert ("emulated", "response_format") in {(c.action, c.field) for c in res._offramp.changes}


@SYNC_ASYNC
async def test_json_schema_response_format_succeeds_on_deepseek(fakes, ds, is_async):
    client = make_client(fakes, config(fakes), is_async=is_async)
    res = await call(client, "chat.completions.create", model="gpt-4o", response_format=json_schema_format(),
                     messages=ASK)
    Person.model_validate_json(res.choices[0].message.content)
    assert len(ds.requests) == 1 and ds.requests[0].json["response_format"] == {"type": "json_object"}


@SYNC_ASYNC
@pytest.mark.parametrize("bad", ["Sure! Bob is a person.", "  \n ", '{"name": "Bob", "age": "old"}'],
                         ids=["prose", "blank", "wrong-type"])
async def test_an_invalid_first_reply_is_retried_once(fakes, ds, is_async, bad):
    records = []
    client = make_client(fakes, config(fakes), is_async=is_async, on_call=records.append)
    ds.script(content=bad, times=1)
    res = await call(client, "chat.completions.parse", model="gpt-4o", response_format=Person, messages=ASK)
    assert isinstance(res.choices[0].message.parsed, Person)
    assert len(ds.requests) == 2 and ds.requests[0].json == ds.requests[1].json
    retried = [c for c in records[0].changes if c.action == "retried" and c.field == "response_format"]
    assert len(retried) == 1 and "retrying once" in retried[0].detail
    assert records[0].usage["completion_tokens"] > 0


@SYNC_ASYNC
async def test_fan_out_validates_every_choice(fakes, ds, is_async):
    client = make_client(fakes, config(fakes), is_async=is_async)
    res = await call(client, "chat.completions.parse", model="gpt-4o", response_format=Person, messages=ASK, n=2)
    assert [type(c.message.parsed) for c in res.choices] == [Person, Person]
    assert len(ds.requests) == 2


@SYNC_ASYNC
async def test_streamed_json_schema_is_validated_at_the_end(fakes, ds, is_async):
    records = []
    client = make_client(fakes, config(fakes), is_async=is_async, on_call=records.append)
    stream = await call(client, "chat.completions.create", model="gpt-4o", response_format=json_schema_format(),
                        messages=ASK, stream=True)
    chunks = await collect(stream)
    Person.model_validate_json("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))

    ds.script(content='{"name": "Bob"}')
    stream = await call(client, "chat.completions.create", model="gpt-4o", response_format=json_schema_format(),
                        messages=ASK, stream=True)
    seen = []
    with pytest.raises(openai.APIError, match="missing required property 'age'") as exc:
        async for chunk in _aiter(stream):
            seen.append(chunk)
    assert "cannot be retried once chunks were delivered" in str(exc.value)
    assert json.loads("".join(c.choices[0].delta.content or "" for c in seen if c.choices)) == {"name": "Bob"}
    assert len(ds.requests) == 2  # one per stream: a stream is never retried
    assert any(c.field == "response_format" and c.action == "warning" for c in records[-1].changes)


async def _aiter(stream):
    if hasattr(stream, "__aiter__"):
        async for chunk in stream:
            yield chunk
    else:
        for chunk in stream:
            yield chunk


@SYNC_ASYNC
async def test_streamed_json_object_must_not_be_blank_on_deepseek(fakes, ds, is_async):
    client = make_client(fakes, config(fakes), is_async=is_async)
    ds.script(content="   ")
    stream = await call(client, "chat.completions.create", model="gpt-4o", response_format={"type": "json_object"},
                        messages=[{"role": "user", "content": "json please"}], stream=True)
    with pytest.raises(openai.APIError, match="blank content"):
        await collect(stream)
