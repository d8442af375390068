"""Images, audio (transcriptions, translations, speech) and moderations: deterministic, tiny payloads."""

from __future__ import annotations

import base64
import struct
import time
import zlib

from aiohttp import web

from offramp.migrate.fake_upstream import synth
from offramp.migrate.fake_upstream.errors import ApiError
from offramp.migrate.fake_upstream.http import intake, json_response


def _png(rgb: tuple[int, int, int]) -> bytes:
    """A valid 1x1 PNG of one colour: real image bytes without an image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"\x00" + bytes(rgb)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _wav(text: str, rate: int = 8000) -> bytes:
    samples = max(1, len(text)) * 80
    data = b"\x00\x00" * samples
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )


def _color(prompt: str, i: int) -> tuple[int, int, int]:
    h = synth.digest("img", prompt, i)
    return (h & 0xFF, (h >> 8) & 0xFF, (h >> 16) & 0xFF)


async def image_generations(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "images")
    body = got.body if isinstance(got.body, dict) else {}
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise ApiError(400, "'prompt' is required", param="prompt")
    n = body.get("n") or 1
    model = body.get("model") or "dall-e-2"
    if model == "dall-e-3" and n != 1:
        raise ApiError(400, "Invalid 'n': dall-e-3 only supports n=1.", param="n")
    fmt = body.get("response_format") or ("b64_json" if model.startswith("gpt-image") else "url")
    if fmt not in ("url", "b64_json"):
        raise ApiError(
            400,
            f"Invalid value: '{fmt}'. Supported values are: 'url' and 'b64_json'.",
            param="response_format",
        )
    data = []
    for i in range(n):
        png = _png(_color(prompt, i))
        item = (
            {"b64_json": base64.b64encode(png).decode()}
            if fmt == "b64_json"
            else {
                "url": f"{request.scheme}://{request.host}/_fake/images/{synth.digest('img', prompt, i):016x}.png"
            }
        )
        if model == "dall-e-3":
            item["revised_prompt"] = prompt
        data.append(item)
    return json_response(got.state, {"created": int(time.time()), "data": data}, fault=got.fault)


async def image_file(request: web.Request) -> web.Response:
    return web.Response(body=_png(_color(request.match_info["name"], 0)), content_type="image/png")


async def _audio_text(request: web.Request, verb: str) -> web.StreamResponse:
    got = await intake(request, "audio")
    form = got.body if isinstance(got.body, dict) else {}
    upload = form.get("file")
    if not isinstance(upload, dict):
        raise ApiError(400, "'file' is required (multipart/form-data)", param="file")
    if not form.get("model"):
        raise ApiError(400, "'model' is required", param="model")
    text = f"{verb} of {upload['filename']} ({upload['size']} bytes)."
    if form.get("prompt"):
        text += f" Context: {form['prompt']}"
    fmt = form.get("response_format") or "json"
    if fmt == "text":
        return web.Response(text=text, content_type="text/plain")
    if fmt in ("srt", "vtt"):
        stamp = "00:00:00,000 --> 00:00:02,000" if fmt == "srt" else "00:00:00.000 --> 00:00:02.000"
        head = "" if fmt == "srt" else "WEBVTT\n\n"
        return web.Response(text=f"{head}1\n{stamp}\n{text}\n", content_type="text/plain")
    if fmt == "verbose_json":
        return json_response(
            got.state,
            {
                "task": "transcribe" if verb == "Transcript" else "translate",
                "language": "english",
                "duration": 2.0,
                "text": text,
                "segments": [
                    {
                        "id": 0,
                        "seek": 0,
                        "start": 0.0,
                        "end": 2.0,
                        "text": text,
                        "tokens": [1, 2],
                        "temperature": 0.0,
                        "avg_logprob": -0.1,
                        "compression_ratio": 1.0,
                        "no_speech_prob": 0.01,
                    }
                ],
            },
            fault=got.fault,
        )
    if fmt != "json":
        raise ApiError(
            400,
            f"Invalid value: '{fmt}'. Supported values are: 'json', 'text', 'srt', 'verbose_json' and 'vtt'.",
            param="response_format",
        )
    return json_response(
        got.state, {"text": text, "usage": {"type": "duration", "seconds": 2}}, fault=got.fault
    )


async def transcriptions(request: web.Request) -> web.StreamResponse:
    return await _audio_text(request, "Transcript")


async def translations(request: web.Request) -> web.StreamResponse:
    return await _audio_text(request, "Translation")


_AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


async def speech(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "speech")
    body = got.body if isinstance(got.body, dict) else {}
    text = body.get("input")
    if not isinstance(text, str) or not text:
        raise ApiError(400, "'input' is required", param="input")
    if not body.get("voice"):
        raise ApiError(400, "'voice' is required", param="voice")
    fmt = body.get("response_format") or "mp3"
    if fmt not in _AUDIO_TYPES:
        raise ApiError(400, f"Invalid value: '{fmt}'.", param="response_format")
    wav = _wav(text)
    audio = (
        wav if fmt == "wav" else wav[44:] if fmt == "pcm" else b"ID3\x04\x00\x00\x00\x00\x00\x00" + wav[44:]
    )
    return web.Response(body=audio, content_type=_AUDIO_TYPES[fmt])


# Words that flag an input, per category: a transparent rule tests and demos can rely on.
_MODERATION = {
    "violence": ("kill", "murder", "attack"),
    "harassment": ("idiot", "stupid"),
    "hate": ("hate",),
    "self-harm": ("suicide",),
    "sexual": ("explicit",),
    "illicit": ("steal", "hack into"),
}
_CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


async def moderations(request: web.Request) -> web.StreamResponse:
    got = await intake(request, "moderations")
    body = got.body if isinstance(got.body, dict) else {}
    raw = body.get("input")
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items:
        raise ApiError(400, "'input' must be a string or an array", param="input")
    results = []
    for item in items:
        text = (
            item if isinstance(item, str) else (item.get("text") or "") if isinstance(item, dict) else ""
        ).lower()
        categories = {c: False for c in _CATEGORIES}
        for category, words in _MODERATION.items():
            categories[category] = any(w in text for w in words)
        scores = {c: (0.97 if flagged else 0.001) for c, flagged in categories.items()}
        results.append(
            {
                "flagged": any(categories.values()),
                "categories": categories,
                "category_scores": scores,
                "category_applied_input_types": {c: ["text"] for c in _CATEGORIES},
            }
        )
    return json_response(
        got.state,
        {
            "id": f"modr-{synth.digest('mod', raw):016x}",
            "model": body.get("model") or "omni-moderation-latest",
            "results": results,
        },
        fault=got.fault,
    )


def add_routes(app: web.Application, prefix: str) -> None:
    app.router.add_post(f"{prefix}/images/generations", image_generations)
    app.router.add_post(f"{prefix}/audio/transcriptions", transcriptions)
    app.router.add_post(f"{prefix}/audio/translations", translations)
    app.router.add_post(f"{prefix}/audio/speech", speech)
    app.router.add_post(f"{prefix}/moderations", moderations)
    if prefix == "":
        app.router.add_get("/_fake/images/{name}", image_file)
