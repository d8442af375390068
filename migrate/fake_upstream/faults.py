"""Scripted faults: a queue filled through `POST /_fake/script` (or FakeUpstream.script) and the one-shot
`X-Fake-Fault` request header. Each fault applies to the next `times` matching requests."""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Fault(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: int | None = Field(None, ge=100, le=599, description="answer with this HTTP status")
    body: dict | str | None = Field(None, description="error body (default: the flavor's error shape)")
    message: str | None = Field(None, description="error message inside the flavor's error shape")
    retry_after: float | None = Field(None, ge=0, description="Retry-After header value in seconds")
    headers: dict[str, str] = Field(default_factory=dict)
    hang_s: float = Field(0.0, ge=0, description="wait this long before answering")
    malformed: bool = Field(False, description="send syntactically broken JSON (or a broken SSE data line)")
    cut_after: int | None = Field(None, ge=0, description="drop the connection after k stream chunks")
    chunk_ms: float | None = Field(None, ge=0, description="slow stream: delay between chunks")
    ttft_ms: float | None = Field(None, ge=0, description="slow start: time to first token")
    content: str | None = Field(None, description="chat: replace the answer's content (e.g. blank JSON '  ')")
    finish_reason: str | None = Field(
        None, description="chat: replace the finish reason (e.g. DeepSeek's insufficient_system_resource)"
    )
    times: int = Field(1, ge=1, description="how many matching requests this applies to")
    path: str | None = Field(None, description="only requests whose path contains this")
    model: str | None = Field(None, description="only requests for this model")

    @model_validator(mode="after")
    def _does_something(self) -> Fault:
        if not (
            self.status
            or self.hang_s
            or self.malformed
            or self.cut_after is not None
            or self.chunk_ms is not None
            or self.ttft_ms is not None
            or self.content is not None
            or self.finish_reason is not None
        ):
            raise ValueError(
                "a fault needs one of status, hang_s, malformed, cut_after, chunk_ms, ttft_ms, content, finish_reason"
            )
        return self

    def matches(self, path: str, model: str | None) -> bool:
        return (self.path is None or self.path in path) and (self.model is None or self.model == model)


_HEADER_KEYS = {
    "finish": ("finish_reason", str),
    "finish_reason": ("finish_reason", str),
    "status": ("status", int),
    "retry_after": ("retry_after", float),
    "hang": ("hang_s", float),
    "hang_s": ("hang_s", float),
    "cut": ("cut_after", int),
    "cut_after": ("cut_after", int),
    "slow": ("chunk_ms", float),
    "chunk_ms": ("chunk_ms", float),
    "ttft": ("ttft_ms", float),
    "ttft_ms": ("ttft_ms", float),
    "message": ("message", str),
}


def parse_fault_header(value: str) -> Fault:
    """`status=429;retry_after=2` | `hang=3` | `malformed` | `cut=2` | `slow=200` -> Fault (ValueError if bad)."""
    fields: dict[str, Any] = {}
    for item in value.replace(",", ";").split(";"):
        item = item.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        key = key.strip().lower()
        if key == "malformed" and not sep:
            fields["malformed"] = True
            continue
        if key not in _HEADER_KEYS or not sep:
            raise ValueError(
                f"X-Fake-Fault item {item!r}: expected one of {', '.join(_HEADER_KEYS)}=VALUE or malformed"
            )
        name, cast = _HEADER_KEYS[key]
        try:
            fields[name] = cast(raw.strip())
        except ValueError:
            raise ValueError(f"X-Fake-Fault item {item!r}: {raw!r} is not a {cast.__name__}") from None
    return Fault(**fields)


class FaultQueue:
    """Thread-safe: the test thread scripts while the server loop consumes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[list[Any]] = []  # [fault, remaining]

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append([fault, fault.times])

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict]:
        with self._lock:
            return [{**f.model_dump(exclude_none=True), "remaining": n} for f, n in self._faults]

    def take(self, path: str, model: str | None) -> Fault | None:
        if not self._faults:
            return None
        with self._lock:
            for entry in self._faults:
                fault, _ = entry
                if fault.matches(path, model):
                    entry[1] -= 1
                    if entry[1] <= 0:
                        self._faults.remove(entry)
                    return fault
        return None
