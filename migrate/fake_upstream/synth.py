"""Deterministic content: answers, JSON from schemas, tool arguments, embeddings, token estimates.

Everything is a pure function of its inputs and a random.Random the caller seeds per request, so the same
request and seed always give the same answer, and `--noise` only varies what a real model would vary.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import operator
import random
import re
import struct
from typing import Any

_TOKEN_RE = re.compile(r"\s*\S+|\s+")

ANSWER_TEMPLATES = ("Echo: {text}", "Echo - {text}", "Echo: {text}!", "Sure. Echo: {text}")
REASONING_TEMPLATE = "Thinking about: {text}"
DEFAULT_USER_TEXT = "hello"


def digest(*parts: object) -> int:
    h = hashlib.blake2b(digest_size=8)
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
        h.update(b"\x1f")
    return int.from_bytes(h.digest(), "big")


def estimate_tokens(text: str) -> int:
    """~4 characters per token: cheap, monotone, good enough for usage accounting in tests."""
    return (len(text) + 3) // 4 if text else 0


def split_tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text) or [text]


def message_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def last_user_text(messages: list[dict]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message).strip() or DEFAULT_USER_TEXT
    return DEFAULT_USER_TEXT


def answer_text(user_text: str, rng: random.Random | None = None) -> str:
    """The plain chat answer: `Echo: <last user message>` (a noisy rng may pick a reworded variant)."""
    template = ANSWER_TEMPLATES[rng.randrange(1, len(ANSWER_TEMPLATES))] if rng else ANSWER_TEMPLATES[0]
    return template.format(text=user_text)


def reasoning_text(user_text: str) -> str:
    return REASONING_TEMPLATE.format(text=user_text)


# --- JSON Schema -> instance -------------------------------------------------------------------------------


def _resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = root
    for part in ref[2:].split("/"):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


_FORMATS = {
    "date": "2026-01-02",
    "date-time": "2026-01-02T03:04:05Z",
    "time": "03:04:05",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
}


def instance(
    schema: Any, root: dict, name: str, seed_text: str, rng: random.Random | None, depth: int = 0
) -> Any:
    """A value valid for `schema`; deterministic unless `rng` (noise) is given."""
    if not isinstance(schema, dict) or depth > 8:
        return f"{name}-value"
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        options = schema["enum"]
        return options[rng.randrange(len(options))] if rng else options[0]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            branches = [b for b in schema[key] if _resolve(b, root).get("type") != "null"] or schema[key]
            return instance(branches[0], root, name, seed_text, rng, depth + 1)
    if isinstance(schema.get("allOf"), list) and schema["allOf"]:
        merged: dict = {}
        for part in schema["allOf"]:
            part = _resolve(part, root)
            for k, v in part.items():
                if k in ("properties",) and k in merged:
                    merged[k] = {**merged[k], **v}
                elif k == "required" and k in merged:
                    merged[k] = list(merged[k]) + list(v)
                else:
                    merged[k] = v
        return instance(merged, root, name, seed_text, rng, depth + 1)
    stype = schema.get("type")
    if isinstance(stype, list):
        stype = next((t for t in stype if t != "null"), "null")
    if stype is None:
        stype = "object" if "properties" in schema else "string"
    if stype == "object":
        props = schema.get("properties") or {}
        out = {k: instance(v, root, k, seed_text, rng, depth + 1) for k, v in props.items()}
        if rng and len(out) > 1:  # noise: key order varies like a real model's output
            keys = list(out)
            rng.shuffle(keys)
            out = {k: out[k] for k in keys}
        return out
    if stype == "array":
        count = max(1, int(schema.get("minItems", 1)))
        if "maxItems" in schema:
            count = min(count, int(schema["maxItems"]))
        return [
            instance(schema.get("items", {}), root, name, seed_text, rng, depth + 1) for _ in range(count)
        ]
    if stype in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", None))
        high = schema.get("maximum", schema.get("exclusiveMaximum", None))
        base = digest(name, seed_text) % 100 if not rng else rng.randrange(100)
        value: float = base
        if low is not None:
            value = max(value, low + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0))
        if high is not None:
            value = min(value, high - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0))
        return int(value) if stype == "integer" else float(value)
    if stype == "boolean":
        return bool(rng.randrange(2)) if rng else True
    if stype == "null":
        return None
    fmt = schema.get("format")
    if fmt in _FORMATS:
        return _FORMATS[fmt]
    text = (
        f"{name}-{digest(name, seed_text) % 10000:04d}" if not rng else f"{name}-{rng.randrange(10000):04d}"
    )
    min_len, max_len = int(schema.get("minLength", 0)), schema.get("maxLength")
    if len(text) < min_len:
        text = text + "x" * (min_len - len(text))
    if max_len is not None:
        text = text[: int(max_len)]
    return text


def json_for_schema(schema: dict, seed_text: str, rng: random.Random | None = None) -> str:
    return json.dumps(instance(schema, schema, "value", seed_text, rng))


def json_object_answer(user_text: str, rng: random.Random | None = None) -> str:
    return json.dumps({"answer": answer_text(user_text, rng), "input": user_text})


_SCHEMA_MARK = re.compile(r"json[ _-]?schema", re.IGNORECASE)
_SCHEMA_KEYS = ("type", "properties", "$ref", "anyOf", "oneOf", "allOf", "$defs", "definitions", "enum")


def schema_in_prompt(messages: list[dict]) -> dict | None:
    """A JSON schema quoted in a system/user message after the words "JSON schema" (newest message first).

    Real models in json_object mode follow a schema given in the prompt; this is how Offramp (and most apps) ask
    for structured output from backends without `json_schema`, so the fake follows it too.
    """
    decoder = json.JSONDecoder()
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "developer"):
            continue
        text = message_text(message)
        for mark in reversed(list(_SCHEMA_MARK.finditer(text))):
            start = text.find("{", mark.end())
            while start != -1:
                try:
                    value, _ = decoder.raw_decode(text, start)
                except ValueError:
                    start = text.find("{", start + 1)
                    continue
                if isinstance(value, dict) and any(k in value for k in _SCHEMA_KEYS):
                    return value
                break
    return None


# --- embeddings ----------------------------------------------------------------------------------------------


_WORD_RE = re.compile(r"\w+", re.UNICODE)
_LATENT = 48  # the "meaning" space every fake model embeds from


def _gauss(n: int, *key: object) -> list[float]:
    rng = random.Random(digest("emb", *key))
    return [rng.gauss(0.0, 1.0) for _ in range(n)]


def _unit(vec: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


@functools.lru_cache(maxsize=8)
def _projection(model: str, seed: int, dims: int) -> tuple[tuple[float, ...], ...]:
    """A model's own map from the latent space to its output space: one row per output dimension, drawn in
    order, so `dimensions=k` is the first k rows (a truncated, renormalised native vector, as OpenAI's)."""
    rng = random.Random(digest("emb-proj", model, seed))
    return tuple(tuple(rng.gauss(0.0, 1.0) for _ in range(_LATENT)) for _ in range(dims))


@functools.lru_cache(maxsize=4096)
def _word(word: str, model: str, seed: int) -> tuple[float, ...]:
    # Shared meaning of the word plus this model's own reading of it: two models agree on most neighbours.
    shared, own = _gauss(_LATENT, "word", seed, word), _gauss(_LATENT, "word-model", seed, model, word)
    return tuple(a + 0.2 * b for a, b in zip(shared, own, strict=True))


def embedding(text: str, dims: int, seed: int, model: str = "", scramble: float = 0.0) -> list[float]:
    """A unit vector for `text` with a real neighbour structure: the bag of its words in a shared latent space
    (texts sharing words are near each other), read slightly differently by each model and projected into the
    model's own space. Identical texts and model -> identical vectors; two models differ in dimensions and
    coordinates (their vectors are not comparable) yet mostly agree on which texts are near. `scramble` (0..1,
    the `embedding_noise` degradation) mixes in a text-seeded random direction until no structure is left."""
    words = _WORD_RE.findall(text.casefold()) or [text]
    latent = [0.0] * _LATENT
    for w in words:
        for i, v in enumerate(_word(w, model, seed)):
            latent[i] += v
    latent = _unit(latent)
    own = _unit(_gauss(_LATENT, "text-model", seed, model, text))
    latent = [a + 0.1 * b for a, b in zip(latent, own, strict=True)]
    if scramble > 0:
        noise = _unit(_gauss(_LATENT, "scramble", seed, model, text))
        latent = [(1 - scramble) * a + scramble * 1.3 * b for a, b in zip(_unit(latent), noise, strict=True)]
    rows = _projection(model, seed, dims)
    mul = operator.mul
    return _unit([sum(map(mul, r, latent)) for r in rows])


def embedding_b64(vec: list[float]) -> str:
    import base64

    return base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode()
