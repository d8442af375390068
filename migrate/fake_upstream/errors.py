"""API errors rendered in each flavor's wire shape (OpenAI/DeepSeek wrapped, vLLM wrapped or flat)."""

from __future__ import annotations

import json

from offramp.migrate.fake_upstream.flavors import Flavor

DEFAULT_MESSAGES = {
    400: "Invalid request",
    401: "Incorrect API key provided",
    402: "Insufficient Balance",
    404: "Not found",
    422: "Invalid parameters",
    429: "Rate limit reached for requests",
    500: "The server had an error while processing your request",
    503: "The engine is currently overloaded, please try again later",
}


class ApiError(Exception):
    """Raised by handlers; the server turns it into the flavor's error response."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        param: str | None = None,
        code: str | int | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or DEFAULT_MESSAGES.get(status, f"HTTP {status}"))
        self.status = status
        self.message = message or DEFAULT_MESSAGES.get(status, f"HTTP {status}")
        self.param = param
        self.code = code
        self.type = type
        self.headers = headers or {}


def error_body(flavor: Flavor, err: ApiError, *, vllm_style: str = "wrapped") -> bytes:
    etype = err.type or flavor.error_type_by_status.get(err.status, "invalid_request_error")
    if flavor.fastapi_errors and err.status in (401, 404):  # FastAPI's own HTTPException body
        return json.dumps({"detail": "Invalid API key" if err.status == 401 else "Not Found"}).encode()
    if flavor.name == "vllm":
        inner = {"message": err.message, "type": etype, "param": err.param, "code": err.status}
        body: dict = {"object": "error", **inner} if vllm_style == "flat" else {"error": inner}
    elif flavor.name == "deepseek":
        # DeepSeek's documented errors carry param null whatever the cause (reference §2.10).
        body = {"error": {"message": err.message, "type": etype, "param": None, "code": err.code or etype}}
    else:
        body = {"error": {"message": err.message, "type": etype, "param": err.param, "code": err.code}}
    return json.dumps(body).encode()
