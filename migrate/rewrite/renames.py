"""The 0.x -> 1.x rename tables (openai-api-patterns.md §7), as data the strategies read.

Kept as plain tables so a reviewer can check each row against the reference; several rows differ from what
earlier tools emit (Audio, Image variation/edit, FineTuningJob, File.download, Timeout).
"""

from __future__ import annotations

# 0.x resource class -> 1.x resource path on a client.
RESOURCES: dict[str, str] = {
    "ChatCompletion": "chat.completions",
    "Completion": "completions",
    "Embedding": "embeddings",
    "Image": "images",
    "Audio": "audio",
    "Moderation": "moderations",
    "File": "files",
    "FineTuningJob": "fine_tuning.jobs",
    "Model": "models",
}

# (resource, 0.x method) -> 1.x method path under the resource path, when it is not the same name.
METHODS: dict[tuple[str, str], str] = {
    ("Image", "create"): "generate",
    ("Image", "create_variation"): "create_variation",
    ("Image", "create_edit"): "edit",
    ("Audio", "transcribe"): "transcriptions.create",
    ("Audio", "translate"): "translations.create",
    ("File", "download"): "content",
}

# Methods that exist per resource after the rename (anything else is reported, never guessed).
ALLOWED: dict[str, frozenset[str]] = {
    "ChatCompletion": frozenset({"create"}),
    "Completion": frozenset({"create"}),
    "Embedding": frozenset({"create"}),
    "Image": frozenset({"create", "create_variation", "create_edit"}),
    "Audio": frozenset({"transcribe", "translate"}),
    "Moderation": frozenset({"create"}),
    "File": frozenset({"create", "list", "retrieve", "delete", "download"}),
    "FineTuningJob": frozenset({"create", "list", "retrieve", "cancel", "list_events"}),
    "Model": frozenset({"list", "retrieve", "delete"}),
}

# Positional parameters of 0.x methods that 1.x takes by keyword (Audio.transcribe(model, file)).
POSITIONAL: dict[tuple[str, str], tuple[str, ...]] = {
    ("Audio", "transcribe"): ("model", "file"),
    ("Audio", "translate"): ("model", "file"),
}

# Why a 0.x resource cannot move mechanically.
REMOVED: dict[str, str] = {
    "Edit": "openai.Edit was removed in 1.x; move the call to chat.completions by hand",
    "FineTune": "the legacy fine-tunes API was removed in 1.x; port to fine_tuning.jobs by hand",
    "Engine": "openai.Engine was removed in 1.x (models.list/retrieve replace it)",
    "Deployment": "openai.Deployment was removed in 1.x",
    "Customer": "openai.Customer was removed in 1.x",
    "ErrorObject": "openai.ErrorObject was removed in 1.x",
}

ASYNC_PREFIX = "a"  # acreate / alist / aretrieve -> the async client

# Per-call keyword renames.
KWARGS: dict[str, str] = {"engine": "model", "deployment_id": "model", "request_timeout": "timeout"}
# 0.x keywords that were extensions sent in the request body, which 1.x methods do not take (any other unknown
# keyword is reported with a generic reason: migrate/rewrite/sdk_signatures.py reads what 1.x accepts).
_ON_YOUR_DATA = ("Azure On Your Data (0.x {0}= in the body of the /extensions/ chat endpoint): 1.x takes it as "
                 "extra_body={{'data_sources': [...]}} on an AzureOpenAI client, and DeepSeek has no equivalent "
                 "(Azure runs the retrieval): keep this call on Azure, ported by hand")
V0_BODY_KWARGS: dict[str, str] = {k: _ON_YOUR_DATA.format(k) for k in ("dataSources", "data_sources")}
# Per-call keywords that select another client: reported, not guessed.
CLIENT_KWARGS: frozenset[str] = frozenset({"api_key", "api_base", "api_type", "api_version", "organization"})

# 0.x module configuration -> adapters.configure() keyword.
CONFIG: dict[str, str] = {
    "api_key": "api_key",
    "api_base": "base_url",
    "base_url": "base_url",
    "organization": "organization",
    "api_type": "api_type",
    "api_version": "api_version",
}
CONFIG_UNSUPPORTED: dict[str, str] = {
    "proxy": "openai.proxy has no 1.x equivalent; pass a configured http_client= to the client",
    "requestssession": "openai.requestssession has no 1.x equivalent; pass http_client= to the client",
    "aiosession": "openai.aiosession has no 1.x equivalent; pass http_client= to the async client",
    "verify_ssl_certs": "openai.verify_ssl_certs has no 1.x equivalent; pass a configured http_client=",
    "api_key_path": "openai.api_key_path has no 1.x equivalent; read the file and set api_key",
    "debug": "openai.debug has no 1.x equivalent; use the OPENAI_LOG environment variable",
    "log": "openai.log has no 1.x equivalent; use the OPENAI_LOG environment variable",
    "app_info": "openai.app_info has no 1.x equivalent",
}

# 0.x exception (openai.error.X) -> 1.x class on the openai module. None: no sound equivalent.
EXCEPTIONS: dict[str, str | None] = {
    "OpenAIError": "OpenAIError",
    "APIError": "APIError",
    "TryAgain": None,
    "Timeout": "APITimeoutError",  # never openai.Timeout: that is httpx's timeout configuration class
    "APIConnectionError": "APIConnectionError",
    "InvalidRequestError": "BadRequestError",
    "AuthenticationError": "AuthenticationError",
    "PermissionError": "PermissionDeniedError",
    "RateLimitError": "RateLimitError",
    "ServiceUnavailableError": "InternalServerError",
    "InvalidAPIType": None,
    "SignatureVerificationError": None,
}
# 0.x classes re-exported at the root (openai 0.28 `from openai.error import APIError, InvalidRequestError,
# OpenAIError`) whose name 1.x does not have: `from openai import InvalidRequestError` fails to import on 1.x.
V0_ROOT_EXCEPTIONS: dict[str, str | None] = {"InvalidRequestError": "BadRequestError"}
_NO_MODULE = "; openai.error does not exist in 1.x (ModuleNotFoundError where it is imported): replace it by hand"
EXCEPTION_NOTES: dict[str, str] = {
    "TryAgain": "openai.error.TryAgain has no 1.x class (status 409 is ConflictError)" + _NO_MODULE,
    "InvalidAPIType": "openai.error.InvalidAPIType has no 1.x class" + _NO_MODULE,
    "SignatureVerificationError": "openai.error.SignatureVerificationError has no 1.x class" + _NO_MODULE,
}

# 1.x client resources that route through the adapter; the rest stay on OpenAI (platform APIs).
ADAPTER_RESOURCES: frozenset[str] = frozenset(
    {"chat", "completions", "embeddings", "models", "moderations", "images", "audio", "files", "fine_tuning",
     "with_options", "with_raw_response", "with_streaming_response"}
)
PLATFORM_RESOURCES: dict[str, str] = {
    "beta": "the beta platform APIs (assistants, threads, realtime, vector stores) stay on OpenAI",
    "batches": "the Batch API stays on OpenAI",
    "realtime": "the Realtime API stays on OpenAI",
    "vector_stores": "vector stores stay on OpenAI",
    "responses": "the Responses API stays on OpenAI",
    "uploads": "the Uploads API stays on OpenAI",
    "containers": "containers stay on OpenAI",
    "evals": "evals stay on OpenAI",
    "webhooks": "webhooks stay on OpenAI",
    "conversations": "conversations stay on OpenAI",
    "videos": "the videos API stays on OpenAI",
    "graders": "graders stay on OpenAI",
}
# Non-call uses of the 1.x module client (openai.X) that are module-level API too.
CLIENT_CLASSES: dict[str, str] = {
    "OpenAI": "OpenAI",
    "AsyncOpenAI": "AsyncOpenAI",
    "AzureOpenAI": "AzureOpenAI",
    "AsyncAzureOpenAI": "AsyncAzureOpenAI",
    "Client": "OpenAI",
    "AsyncClient": "AsyncOpenAI",
}

# 0.x response helpers -> 1.x methods.
RESPONSE_METHODS: dict[str, str] = {"to_dict_recursive": "model_dump", "to_dict": "model_dump"}

# 1.x exception classes whose constructor 0.x code cannot call as it did (`RateLimitError("message")`): the
# rename is made and the call reported. The test checks each against the installed SDK's signature.
EXCEPTION_CONSTRUCTORS: dict[str, str] = {
    name: f"1.x {name}({args}) cannot be built from a message alone as in 0.x (TypeError when this line runs); "
          "pass a response/request or raise a project exception"
    for name, args in {
        "APIError": "message, request, *, body",
        "APITimeoutError": "request",
        "APIConnectionError": "*, message, request",
        "BadRequestError": "message, *, response, body",
        "AuthenticationError": "message, *, response, body",
        "PermissionDeniedError": "message, *, response, body",
        "RateLimitError": "message, *, response, body",
        "InternalServerError": "message, *, response, body",
    }.items()
}

# Attributes of a caught 0.x exception -> 1.x (openai-api-patterns.md §7.5).
ERROR_ATTRIBUTES: dict[str, str] = {"http_status": "status_code", "json_body": "body", "user_message": "message"}
ERROR_ATTRIBUTES_LEFT: dict[str, str] = {
    "http_body": "0.x http_body (raw text) has no 1.x attribute; use e.response.text on status errors",
    "headers": "0.x e.headers is e.response.headers in 1.x, on status errors only",
}
