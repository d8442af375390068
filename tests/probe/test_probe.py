"""`migrate probe` against each fake flavor writes a profile that matches the flavor and that the adapter loads."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import offramp.migrate.commands  # noqa: F401  (registers the commands)
from offramp.adapters.profiles import load_profile
from offramp.migrate.cli_app import app
from offramp.migrate.fake_upstream.testing import FakeUpstream
from offramp.migrate.probe import to_toml

SECRET = "sk-probe-secret-value-1234"

EXPECTED = {
    "openai": (
        "gpt-4o",
        {
            "developer_role": True,
            "max_completion_tokens": True,
            "tool_types": ["function", "custom"],
            "tool_choice": True,
            "tool_choice_forced": True,
            "tool_choice_required": True,
            "parallel_tool_calls": True,
            "legacy_functions": True,
            "n": True,
            "logprobs": True,
            "json_object": True,
            "json_schema": True,
            "json_needs_word": True,
            "reasoning_field": "none",
            "reasoning_input": "strip",
            "thinking_control": "reasoning_effort",
            "thinking_default": False,
            "stream_usage": "separate_chunk",
            "cache_usage": "cached_tokens",
            "capabilities": [
                "chat",
                "embeddings",
                "images",
                "audio",
                "fine_tuning",
                "batches",
                "moderations",
                "files",
                "responses",
                "completions",
                "vision",
            ],
        },
    ),
    "deepseek": (
        "deepseek-v4-flash",
        {
            "developer_role": False,
            "max_completion_tokens": False,
            "tool_types": ["function"],
            "tool_choice": True,
            "tool_choice_forced": True,
            "tool_choice_forced_in_thinking": False,
            "legacy_functions": False,
            "n": False,
            "logprobs": True,
            "thinking_ignores": [],  # V4.1: logprobs in both modes
            "json_object": True,
            "json_schema": False,
            "json_needs_word": True,
            "reasoning_field": "reasoning_content",
            "reasoning_input": "required_with_tools",
            "thinking_control": "deepseek",
            "thinking_default": True,
            "stream_usage": "last_chunk",
            "cache_usage": "hit_miss",
            "capabilities": ["chat", "files", "responses", "vision"],  # the legacy flash id is served by V4.1
        },
    ),
    "vllm": (
        "deepseek-ai/DeepSeek-V4-Flash",
        {
            "developer_role": True,
            "max_completion_tokens": True,
            "tool_types": ["function"],
            "tool_choice_forced": True,
            "parallel_tool_calls": False,
            "legacy_functions": False,
            "n": True,
            "logprobs": True,
            "json_schema": True,
            "json_needs_word": False,
            "reasoning_field": "reasoning",
            "reasoning_input": "reasoning",
            "thinking_control": "chat_template_kwargs",
            "thinking_default": False,
            "stream_usage": "separate_chunk",
            "cache_usage": "none",
            "capabilities": ["chat", "embeddings", "audio", "responses", "completions", "vision"],
        },
    ),
    # What the probe found on the real server (tests/selfhosted), finding for finding.
    "llama-cpp-python": (
        "tiny",
        {
            "developer_role": False,
            "max_completion_tokens": False,
            "tools": True,  # only with a named tool_choice: the forced check runs although auto made no call
            "tool_choice_forced": True,
            "tool_choice_required": False,
            "n": False,
            "logprobs": True,
            "json_object": True,
            "json_schema": False,
            "json_needs_word": False,
            "reasoning_field": "none",
            "stream_usage": "none",
            "cache_usage": "none",
            "capabilities": ["chat", "embeddings", "completions", "vision"],
        },
    ),
}


@pytest.mark.parametrize("flavor", list(EXPECTED))
def test_probe_writes_a_profile_matching_the_flavor(flavor, tmp_path, monkeypatch):
    model, expected = EXPECTED[flavor]
    monkeypatch.setenv("PROBE_KEY", SECRET)
    monkeypatch.setenv("COLUMNS", "200")
    out = tmp_path / f"{flavor}.toml"
    with FakeUpstream(flavor) as fake:
        result = CliRunner().invoke(
            app,
            [
                "probe",
                fake.base_url,
                "--model",
                model,
                "--key-env",
                "PROBE_KEY",
                "--name",
                f"my-{flavor}",
                "--output",
                str(out),
            ],
        )
        assert {r.key_fingerprint for r in fake.requests} == {fake.requests[0].key_fingerprint}
    assert result.exit_code == 0, result.output
    assert "json_object" in result.output and f"profile written to {out}" in result.output
    assert SECRET not in result.output and SECRET not in out.read_text()
    profile = load_profile(f"my-{flavor}", model, path=out)
    assert profile.kind == f"my-{flavor}" and profile.family == "probed"
    got = {k: getattr(profile, k) for k in expected}
    assert got == expected
    if flavor in SHIPPED_AGREES:
        # the profile Offramp ships for this backend says what the probe finds (the fake has no Assistants API)
        shipped = load_profile(flavor, model)
        for key in SHIPPED_AGREES[flavor]:
            want = getattr(shipped, key)
            if key == "capabilities":
                want = [c for c in want if c != "assistants"]
                assert sorted(getattr(profile, key)) == sorted(want), key
            else:
                assert getattr(profile, key) == want, key


SHIPPED_AGREES = {
    "openai": ("capabilities", "json_needs_word", "json_object", "json_schema", "n", "developer_role",
               "legacy_functions"),
    "deepseek": ("capabilities", "json_needs_word", "json_object", "json_schema", "n", "developer_role",
                 "legacy_functions",
                 "max_completion_tokens", "tool_choice_forced_in_thinking", "reasoning_field", "reasoning_input"),
    "llama-cpp-python": ("tools", "tool_choice_forced", "tool_choice_required", "json_object", "json_schema", "n", "developer_role",
                         "max_completion_tokens", "stream_usage", "cache_usage", "reasoning_field"),
}


def test_probe_flags_a_flavor_variant():
    """A vLLM started without --enable-auto-tool-choice: tools fail and the profile says so."""
    from offramp.migrate.probe import probe

    with FakeUpstream("vllm", vllm_auto_tool_choice=False) as fake:
        result = probe(fake.base_url, "deepseek-ai/DeepSeek-V4-Flash", "EMPTY")
    tools = next(c for c in result.checks if c.name == "tools")
    assert tools.passed is False and "enable-auto-tool-choice" in tools.detail
    assert result.profile["tools"] is False and "tools = false" in to_toml(result)


def test_probe_errors_are_one_line(monkeypatch, tmp_path):
    runner = CliRunner()
    monkeypatch.delenv("NOPE_KEY", raising=False)
    r = runner.invoke(app, ["probe", "http://127.0.0.1:9/v1", "--model", "m", "--key-env", "NOPE_KEY"])
    assert r.exit_code == 2 and "NOPE_KEY is not set" in r.output
    monkeypatch.setenv("K", SECRET)
    r = runner.invoke(
        app,
        [
            "probe",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "--key-env",
            "K",
            "--timeout",
            "2",
            "--output",
            str(tmp_path / "x.toml"),
        ],
    )
    assert r.exit_code == 1 and "cannot reach" in r.output and SECRET not in r.output
    assert not (tmp_path / "x.toml").exists()
    with FakeUpstream("openai", api_key="sk-other") as fake:
        r = runner.invoke(app, ["probe", fake.base_url, "--model", "gpt-4o", "--key-env", "K"])
    assert r.exit_code == 1 and "authentication failed" in r.output and SECRET not in r.output


def test_credentials_in_the_base_url_are_neither_printed_nor_written(tmp_path):
    """A server behind basic auth is reached as `user:password@host`: the profile records the server only."""
    out = tmp_path / "p.toml"
    with FakeUpstream("vllm") as fake:
        url = fake.base_url.replace("://", "://probe:pw-Secret-77@")
        r = CliRunner().invoke(app, ["probe", url, "--model", "deepseek-ai/DeepSeek-V4-Flash", "--output", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert fake.base_url in text
    assert "Secret-77" not in text and "Secret-77" not in r.output
