"""The one routing decision per request. Shadow mode always answers from the primary; the rollout controller
(`shadow/ramp`) installs a Router that sends a sticky share to the candidate."""

from __future__ import annotations

import json
from dataclasses import dataclass

from offramp.shadow.family import request_family


class RequestInfo:
    """What the router may look at. The JSON body is parsed on first access only, so a router that does not
    need it costs nothing on the hot path."""

    __slots__ = ("endpoint", "headers", "raw", "_body", "_family")

    def __init__(self, endpoint: str, raw: bytes, headers) -> None:
        self.endpoint = endpoint  # e.g. /v1/chat/completions
        self.headers = headers  # case-insensitive request headers (read-only use)
        self.raw = raw  # the request body bytes, as received
        self._body: dict | None | type[Ellipsis] = ...
        self._family: str | None = None

    @property
    def body(self) -> dict | None:
        if self._body is ...:
            try:
                b = json.loads(self.raw) if self.raw else None
            except ValueError:
                b = None
            self._body = b if isinstance(b, dict) else None
        return self._body  # type: ignore[return-value]

    @property
    def family(self) -> str | None:
        if self._family is None and self.body is not None:
            self._family = request_family(self.body)
        return self._family


@dataclass(frozen=True)
class Route:
    serve: str = "primary"  # primary | candidate
    ramp_share: float | None = None
    # Whether this request may be mirrored (the mirror still applies its own sampling and caps).
    mirror: bool = True


PRIMARY = Route()


class Router:
    def decide(self, info: RequestInfo) -> Route:
        return PRIMARY
