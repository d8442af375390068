"""Every change is observable: DEBUG log lines (never a key), `response._offramp`, per-client and global hooks."""

from __future__ import annotations

import logging

from adapter_helpers import config, make_client

from offramp import adapters

HI = [{"role": "developer", "content": "x"}, {"role": "user", "content": "hi"}]


def test_debug_log_lines_name_each_change_and_never_the_key(fakes, ds, caplog):
    caplog.set_level(logging.DEBUG, logger="offramp.adapters")
    make_client(fakes, config(fakes)).chat.completions.create(model="gpt-4o", messages=HI, seed=1)
    lines = [r.getMessage() for r in caplog.records if r.name == "offramp.adapters"]
    assert any("dropped seed" in line for line in lines)
    assert any("translated messages.role" in line for line in lines)
    assert not any("sk-deepseek-test" in r.getMessage() or "sk-openai-test" in r.getMessage()
                   for r in caplog.records)


def test_global_hook_and_on_call_both_see_the_record(fakes, ds):
    seen_global, seen_local = [], []
    hook = adapters.add_hook(seen_global.append)
    try:
        client = make_client(fakes, config(fakes), on_call=seen_local.append)
        res = client.chat.completions.create(model="gpt-4o", messages=HI)
        stream = client.chat.completions.create(model="gpt-4o", messages=HI, stream=True)
        assert seen_local == [res._offramp]  # the stream's record arrives when the stream ends
        list(stream)
    finally:
        adapters.remove_hook(hook)
    assert len(seen_global) == len(seen_local) == 2
    rec = seen_local[1]
    assert rec.stream and rec.usage["prompt_tokens"] > 0 and rec.cost.provider == "deepseek"
    assert stream._offramp is rec


def test_a_failing_hook_does_not_break_the_call(fakes, ds):
    def boom(record):
        raise RuntimeError("hook bug")

    client = make_client(fakes, config(fakes), on_call=boom)
    assert client.chat.completions.create(model="gpt-4o", messages=HI).choices


def test_with_options_copy_keeps_routing(fakes, ds, oa):
    client = make_client(fakes, config(fakes)).with_options(timeout=20)
    client.chat.completions.create(model="gpt-4o", messages=HI)
    assert len(ds.requests) == 1 and not oa.requests


def test_raw_response_still_works(fakes, ds):
    client = make_client(fakes, config(fakes))
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=HI)
    assert raw.status_code == 200 and raw.parse().choices
