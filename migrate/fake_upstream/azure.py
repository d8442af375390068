"""Azure OpenAI's data-plane routes: `/openai/deployments/{deployment}/...?api-version=`, key in `api-key`.

Only the openai flavor serves them. Azure differs from api.openai.com on the wire in three ways the fake checks:
the deployment in the path names the model (the body's `model` is ignored), `api-version` is a required query
parameter, and the key comes in an `api-key` header (or an Entra ID token as `Authorization: Bearer`). Its
errors are `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from offramp.migrate.fake_upstream.state import ServerState

# A typed request key where aiohttp has them (3.12+; a plain string key warns there), the string before.
DEPLOYMENT_KEY: Any = web.RequestKey("azure_deployment", str) if hasattr(web, "RequestKey") else "azure_deployment"
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an "
    "active subscription and use a correct regional API endpoint for your resource."
)
_NO_DEPLOYMENT = (
    "The API deployment for this resource does not exist. If you created the deployment within the last 5 "
    "minutes, please wait a moment and try again."
)


class AzureReply(Exception):
    """An Azure-shaped error (rendered by the error middleware as-is)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.text = json.dumps({"error": {"code": code, "message": message}})


def check(state: ServerState, request: web.Request, body: Any) -> Any:
    """Azure's checks for a deployment route; returns the body with `model` set to the deployment."""
    deployment = request[DEPLOYMENT_KEY]
    if state.flavor.name != "openai":
        raise AzureReply(404, "404", "Resource not found")
    version = request.query.get("api-version")
    if not version or not _VERSION.match(version):
        raise AzureReply(404, "404", "Resource not found")
    key = request.headers.get("api-key", "").strip()
    bearer = request.headers.get("Authorization", "")
    token = bearer.removeprefix("Bearer ").strip() if bearer.startswith("Bearer ") else ""
    wanted = state.options.api_key
    given = key or token
    if not given or (wanted is not None and given != wanted):
        raise AzureReply(401, "401", _DENIED)
    if state.options.models is not None and deployment not in state.options.models:
        raise AzureReply(404, "DeploymentNotFound", _NO_DEPLOYMENT)
    if isinstance(body, dict):
        body = {**body, "model": deployment}
    return body


def _wrap(handler: Any) -> Any:
    async def azure_handler(request: web.Request) -> web.StreamResponse:
        request[DEPLOYMENT_KEY] = request.match_info["deployment"]
        return await handler(request)

    return azure_handler


def add_routes(app: web.Application, handlers: dict[str, Any]) -> None:
    """`handlers`: endpoint suffix (e.g. "chat/completions") -> the OpenAI handler that serves it."""
    for suffix, handler in handlers.items():
        app.router.add_post(f"/openai/deployments/{{deployment}}/{suffix}", _wrap(handler))
