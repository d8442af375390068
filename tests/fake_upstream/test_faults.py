"""Scripted faults (queue and header), latency options, noise and degradations."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from offramp.migrate.fake_upstream.faults import parse_fault_header
from offramp.migrate.fake_upstream.options import parse_degrade
from offramp.migrate.fake_upstream.testing import FakeUpstream
from tests.fake_upstream.conftest import MODELS, aclient, client

USER = [{"role": "user", "content": "ping"}]


def test_scripted_429_with_retry_after_is_retried_by_the_sdk(fake):
    fake.script(status=429, retry_after=0.01, times=2)
    r = client(fake, max_retries=2).chat.completions.create(model=MODELS[fake.flavor], messages=USER)
    assert r.choices[0].message.content == "Echo: ping"
    assert len(fake.requests) == 3
    fake.script(status=429, retry_after=7)
    with pytest.raises(openai.RateLimitError) as info:
        client(fake).chat.completions.create(model=MODELS[fake.flavor], messages=USER)
    assert info.value.response.headers["Retry-After"] == "7"


def test_scripted_402_and_custom_body_only_hit_matching_requests(fakes):
    fake = fakes["deepseek"]
    fake.script(status=402, path="/chat/completions", model="deepseek-v4-pro")
    ok = client(fake).chat.completions.create(model="deepseek-flash", messages=USER)
    assert ok.choices[0].message.content == "Echo: ping"
    with pytest.raises(openai.APIStatusError) as info:
        client(fake).chat.completions.create(model="deepseek-v4-pro", messages=USER)
    assert info.value.status_code == 402 and info.value.body["message"] == "Insufficient Balance"
    fake.script(status=500, body={"detail": "boom"})
    r = httpx.post(
        f"{fake.base_url}/chat/completions",
        headers={"Authorization": "Bearer k"},
        json={"model": "deepseek-flash", "messages": USER},
    )
    assert r.status_code == 500 and r.json() == {"detail": "boom"}


def test_fault_header_applies_to_one_request(fakes):
    fake = fakes["openai"]
    with pytest.raises(openai.InternalServerError):
        client(fake).chat.completions.create(
            model="gpt-4o", messages=USER, extra_headers={"X-Fake-Fault": "status=503;retry_after=1"}
        )
    assert client(fake).chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content
    with pytest.raises(openai.BadRequestError, match="X-Fake-Fault item"):
        client(fake).chat.completions.create(
            model="gpt-4o", messages=USER, extra_headers={"X-Fake-Fault": "boom"}
        )


def test_cut_stream_raises_a_connection_error_after_k_chunks(fake):
    fake.script(cut_after=2)
    seen = []
    with pytest.raises(openai.APIConnectionError):
        for ch in client(fake).chat.completions.create(model=MODELS[fake.flavor], messages=USER, stream=True):
            seen.append(ch)
    assert len(seen) == 2


def test_malformed_json_and_malformed_stream(fakes):
    fake = fakes["openai"]
    fake.script(malformed=True, times=2)
    with pytest.raises(json.JSONDecodeError):
        client(fake).chat.completions.create(model="gpt-4o", messages=USER)
    with pytest.raises(json.JSONDecodeError):
        list(client(fake).chat.completions.create(model="gpt-4o", messages=USER, stream=True))


async def test_hang_trips_the_client_timeout(fakes):
    fake = fakes["vllm"]
    fake.script(hang_s=2)
    with pytest.raises(openai.APITimeoutError):
        await aclient(fake, timeout=0.2).chat.completions.create(model=MODELS["vllm"], messages=USER)


def test_script_over_http_needs_the_admin_token():
    with FakeUpstream("openai", admin_token="adm") as fake:
        fault = {"status": 503, "times": 1}
        assert httpx.post(f"{fake.url}/_fake/script", json=fault).status_code == 401
        r = httpx.post(f"{fake.url}/_fake/script", json=fault, headers={"Authorization": "Bearer adm"})
        assert r.status_code == 200 and r.json()["pending"][0]["status"] == 503
        bad = httpx.post(
            f"{fake.url}/_fake/script", json={"status": 99}, headers={"Authorization": "Bearer adm"}
        )
        assert bad.status_code == 400 and "faults[0].status" in bad.json()["error"]["message"]
        with pytest.raises(openai.InternalServerError):
            client(fake).chat.completions.create(model="gpt-4o", messages=USER)
        rec = httpx.get(f"{fake.url}/_fake/requests", headers={"Authorization": "Bearer adm"}).json()
        assert rec["requests"][-1]["path"] == "/v1/chat/completions"


def test_slow_stream_and_latency_options_delay_but_do_not_change_the_answer():
    with FakeUpstream("openai", latency_ms=50, ttft_ms=50, chunk_ms=20) as fake:
        start = time.perf_counter()
        text = "".join(
            ch.choices[0].delta.content or ""
            for ch in client(fake).chat.completions.create(model="gpt-4o", messages=USER, stream=True)
            if ch.choices
        )
        assert text == "Echo: ping" and time.perf_counter() - start >= 0.1


def test_parse_fault_header_and_degrade_spec():
    f = parse_fault_header("status=429; retry_after=2")
    assert (f.status, f.retry_after) == (429, 2.0)
    assert parse_fault_header("malformed").malformed
    assert parse_fault_header("cut=3").cut_after == 3
    d = parse_degrade("wrong_tool=0.05,invalid_json=0.1,truncate=0.02,latency_ms=200")
    assert (d.wrong_tool, d.invalid_json, d.truncate, d.latency_ms) == (0.05, 0.1, 0.02, 200)
    with pytest.raises(ValueError, match="bogus"):
        parse_degrade("bogus=1")
    with pytest.raises(ValueError, match="not a number"):
        parse_degrade("truncate=x")


def _answers(fake: FakeUpstream, n: int) -> list[str]:
    c = client(fake)
    return [
        c.chat.completions.create(model="gpt-4o", messages=USER).choices[0].message.content for _ in range(n)
    ]


def test_noise_varies_repeats_reproducibly_per_seed():
    with FakeUpstream("openai", noise=0.5, seed=7) as a, FakeUpstream("openai", noise=0.5, seed=7) as b:
        first, second = _answers(a, 20), _answers(b, 20)
    assert first == second, "same seed, same sequence"
    assert "Echo: ping" in first and len(set(first)) > 1
    assert all("ping" in x for x in first)
    with FakeUpstream("openai") as quiet:
        assert set(_answers(quiet, 5)) == {"Echo: ping"}


def test_degradations_hit_at_their_rate():
    tools = [
        {
            "type": "function",
            "function": {
                "name": n,
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
            },
        }
        for n in ("search", "lookup")
    ]
    with FakeUpstream("openai", degrade="wrong_tool=1,truncate=1,invalid_json=1") as fake:
        c = client(fake)
        r = c.chat.completions.create(
            model="gpt-4o",
            messages=USER,
            tools=tools,
            tool_choice={"type": "function", "function": {"name": "search"}},
        )
        call = r.choices[0].message.tool_calls[0]
        assert call.function.name == "lookup"
        with pytest.raises(json.JSONDecodeError):
            json.loads(call.function.arguments)
        t = c.chat.completions.create(model="gpt-4o", messages=USER)
        assert t.choices[0].finish_reason == "length" and len(t.choices[0].message.content) < len(
            "Echo: ping"
        )
    with FakeUpstream("openai", degrade="error=0.5", seed=3) as fake:
        outcomes, c = [], client(fake)
        for _ in range(40):
            try:
                c.chat.completions.create(model="gpt-4o", messages=USER)
                outcomes.append("ok")
            except openai.InternalServerError:
                outcomes.append("err")
        assert 8 <= outcomes.count("err") <= 32


def test_scripted_content_and_finish_reason(fakes):
    fake = fakes["deepseek"]
    fake.script(content="  \n", finish_reason="stop")
    c = client(fake)
    body = dict(
        model="deepseek-flash",
        extra_body={"thinking": {"type": "disabled"}},
        response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "json please"}],
    )
    assert c.chat.completions.create(**body).choices[0].message.content == "  \n"
    assert json.loads(c.chat.completions.create(**body).choices[0].message.content)["input"] == "json please"
    chunks = list(
        c.chat.completions.create(
            model="deepseek-flash",
            messages=USER,
            stream=True,
            extra_body={"thinking": {"type": "disabled"}},
            extra_headers={"X-Fake-Fault": "finish=insufficient_system_resource"},
        )
    )
    assert chunks[-1].choices[0].finish_reason == "insufficient_system_resource"
