"""Multipart uploads (audio transcription) and other streamed request bodies go through the router: the body is
read once, the call routed by its capability, and the same bytes reach the backend that serves it."""

from __future__ import annotations

import io

import openai
import pytest
from adapter_helpers import call, config, make_client

SYNC_ASYNC = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(200))


def _wav() -> io.BytesIO:
    f = io.BytesIO(AUDIO)
    f.name = "meeting.wav"
    return f


@SYNC_ASYNC
async def test_transcription_routed_to_openai_by_capability(fakes, ds, oa, is_async):
    cfg = config(fakes, fallback='default = "deepseek"', capabilities='audio = "openai"')
    client = make_client(fakes, cfg, is_async=is_async)
    res = await call(client, "audio.transcriptions.create", model="whisper-1", file=_wav(), prompt="standup")
    assert res.text == f"Transcript of meeting.wav ({len(AUDIO)} bytes). Context: standup"
    assert not ds.requests and [r.path for r in oa.requests] == ["/v1/audio/transcriptions"]
    form = oa.requests[0].json
    assert form["model"] == "whisper-1" and form["file"]["size"] == len(AUDIO)
    assert res._offramp.backend == "openai"


@SYNC_ASYNC
async def test_transcription_mapped_to_deepseek_goes_to_the_fallback(fakes, ds, oa, is_async):
    cfg = config(fakes, models='"whisper-1" = "deepseek/deepseek-v4-flash"', fallback='fallback = ["openai"]')
    res = await call(make_client(fakes, cfg, is_async=is_async), "audio.transcriptions.create",
                     model="whisper-1", file=_wav())
    assert res.text.startswith("Transcript of meeting.wav") and not ds.requests and len(oa.requests) == 1
    assert any(c.action == "fallback" and "audio" in c.detail for c in res._offramp.changes)


@SYNC_ASYNC
async def test_transcription_without_a_fallback_fails_naming_the_capability(fakes, ds, is_async):
    cfg = config(fakes, models='"whisper-1" = "deepseek/deepseek-v4-flash"')
    with pytest.raises(openai.BadRequestError, match="capability 'audio'.*backend 'deepseek'"):
        await call(make_client(fakes, cfg, is_async=is_async), "audio.transcriptions.create",
                   model="whisper-1", file=_wav())
    assert not ds.requests


@SYNC_ASYNC
async def test_transcription_to_self_hosted_vllm_keeps_the_upload_intact(fakes, vl, oa, is_async):
    cfg = config(fakes, capabilities='audio = "vllm"')
    res = await call(make_client(fakes, cfg, is_async=is_async), "audio.transcriptions.create",
                     model="whisper-1", file=_wav(), response_format="text")
    assert res.strip() == f"Transcript of meeting.wav ({len(AUDIO)} bytes)."
    assert not oa.requests and vl.requests[0].json["file"]["size"] == len(AUDIO)


@SYNC_ASYNC
async def test_streamed_request_content_is_read_before_routing(fakes, ds, is_async):
    """A raw request whose body is an iterator (no Content-Length) still reaches the routed backend whole."""
    cfg = config(fakes)
    client = make_client(fakes, cfg, is_async=is_async)
    body = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}'
    parts = [body[:10], body[10:]]
    url, base = f"{fakes['openai'].base_url}/chat/completions", fakes["openai"].base_url
    kw = dict(headers={"authorization": "Bearer sk-openai-test", "content-type": "application/json"},
              extensions={"offramp_base": base})  # what the client's own requests carry
    if is_async:
        async def chunks():
            for p in parts:
                yield p
        resp = await client._client.post(url, content=chunks(), **kw)
    else:
        resp = client._client.post(url, content=iter(parts), **kw)
    assert resp.status_code == 200, resp.text
    assert ds.requests[0].json["model"] == "deepseek-v4-flash"


@SYNC_ASYNC
async def test_transcription_model_map_sends_the_mapped_model_in_the_form(fakes, vl, oa, is_async):
    cfg = config(fakes, models='"whisper-1" = "vllm/openai/whisper-large-v3"')
    res = await call(make_client(fakes, cfg, is_async=is_async), "audio.transcriptions.create",
                     model="whisper-1", file=_wav(), language="en")
    assert res.text.startswith("Transcript of meeting.wav") and not oa.requests
    form = vl.requests[0].json
    assert form["model"] == "openai/whisper-large-v3" and form["language"] == "en"
    assert form["file"]["size"] == len(AUDIO)
    assert res._offramp.model_requested == "whisper-1" and res._offramp.model_sent == "openai/whisper-large-v3"


def test_multipart_field_helpers_leave_file_bytes_alone():
    from offramp.adapters.multipart import form_field, replace_field

    ctype = "multipart/form-data; boundary=XyZ"
    body = (b'--XyZ\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
            b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="model"\r\n'
            b'Content-Type: audio/wav\r\n\r\n' + AUDIO + b'\r\n--XyZ--\r\n')
    assert form_field(body, ctype, "model") == "whisper-1"
    assert form_field(body, ctype, "prompt") is None and form_field(body, "application/json", "model") is None
    new = replace_field(body, ctype, "model", "large-v3")
    assert form_field(new, ctype, "model") == "large-v3" and new.replace(b"large-v3", b"whisper-1") == body
