"""`migrate adapter translate --api responses` and `migrate adapter route --capability responses`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

import offramp.migrate.commands  # noqa: F401  (registers the commands)
from offramp.migrate.cli_app import app

CFG = """
[backends.deepseek]
kind = "deepseek"
base_url = "https://api.deepseek.com"
api_key_env = "OFFRAMP_TEST_DS_KEY"
[backends.local]
kind = "vllm"
base_url = "http://127.0.0.1:8000/v1"
default_model = "deepseek-ai/DeepSeek-V4-Flash"
[routes]
fallback = ["local", "openai"]
[routes.models]
"gpt-4o" = "deepseek/deepseek-flash"
[responses]
store = "conv.sqlite"
ttl = 900
"""
BODY = {
    "model": "gpt-4o", "instructions": "Be brief.", "previous_response_id": "resp_abc",
    "input": [{"role": "developer", "content": "Metric units."},
              {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
              {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
              {"type": "function_call_output", "call_id": "call_1", "output": "21C"}],
    "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}],
    "tool_choice": {"type": "function", "name": "get_weather"},
    "text": {"format": {"type": "json_schema", "name": "W", "schema": {"type": "object"}, "strict": True}},
    "max_output_tokens": 500, "reasoning": {"effort": "xhigh"},
}


def run(*args):
    return CliRunner().invoke(app, list(args))


def _split(res):
    """stdout holds the JSON body, the '#' change lines come after it (stderr is mixed in by CliRunner)."""
    text = res.output
    end = text.rindex("}\n") + 1
    return json.loads(text[:end]), text[end:]


def test_translate_responses_for_a_chat_only_backend(tmp_path):
    f = tmp_path / "body.json"
    f.write_text(json.dumps(BODY))
    res = run("adapter", "translate", str(f), "--api", "responses", "--kind", "vllm",
              "--model", "deepseek-ai/DeepSeek-V4-Flash")
    assert res.exit_code == 0, res.output
    body, notes = _split(res)
    assert "POST /v1/chat/completions" in notes and "previous_response_id: resp_abc is expanded" in notes
    assert body["messages"][:2] == [{"role": "system", "content": "Be brief."},
                                    {"role": "system", "content": "Metric units."}]
    assert body["messages"][3]["tool_calls"][0]["id"] == "call_1"
    assert body["messages"][4] == {"role": "tool", "tool_call_id": "call_1", "content": "21C"}
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["response_format"]["json_schema"]["name"] == "W"
    assert body["chat_template_kwargs"]["reasoning_effort"] == "max"  # vLLM's deepseek template: xhigh → max
    assert "input" not in body and "previous_response_id" not in body


def test_translate_responses_for_deepseek_is_native(tmp_path):
    f = tmp_path / "body.json"
    f.write_text(json.dumps(BODY))
    res = run("adapter", "translate", str(f), "--api", "responses", "--kind", "deepseek", "--model", "deepseek-flash")
    assert res.exit_code == 0, res.output
    body, notes = _split(res)
    assert "POST /v1/responses" in notes
    assert body["text"] == BODY["text"] and "response_format" not in body  # json_schema natively
    assert body["input"][0] == {"role": "system", "content": "Metric units."}
    # xhigh → high on DeepSeek; a forced tool_choice is rejected in thinking mode, so thinking goes off
    assert body["reasoning"] == {"effort": "none"} and "forced tool_choice" in notes


def test_translate_responses_builtin_tool_fails(tmp_path):
    f = tmp_path / "body.json"
    f.write_text(json.dumps({"model": "m", "input": "x", "tools": [{"type": "code_interpreter"}]}))
    res = run("adapter", "translate", str(f), "--api", "responses", "--kind", "sglang")
    assert res.exit_code == 2 and "built-in tool 'code_interpreter'" in res.output and "'sglang'" in res.output


def test_route_capability_responses(tmp_path, monkeypatch):
    (tmp_path / "offramp.toml").write_text(CFG)
    monkeypatch.chdir(tmp_path)
    res = run("adapter", "route", "gpt-4o", "--capability", "responses")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("1. use  deepseek/deepseek-flash")
    assert lines[1].strip().startswith("native /v1/responses; previous_response_id state in Offramp's store ("
                                       + str(tmp_path / "conv.sqlite") + ", ttl 900s)")
    assert lines[2].startswith("2. then local/")
    assert lines[3].strip().startswith("translated to /v1/chat/completions and back")
    assert "openai" in lines[4] and "state kept by the backend; all built-in tools" in lines[5]


def test_check_says_how_responses_are_served(tmp_path, monkeypatch):
    (tmp_path / "offramp.toml").write_text(CFG)
    monkeypatch.chdir(tmp_path)
    res = run("adapter", "check")
    assert res.exit_code == 0, res.output
    rows = {line.split()[0]: line for line in res.output.splitlines() if line.startswith("  ")}
    assert "responses(via chat)" in rows["local"]
    # DeepSeek's capabilities depend on the model family: the mapped model's line names what it serves.
    assert "responses" in rows["model"] and "via chat" not in rows["model"]
