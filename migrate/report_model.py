"""The scan report: the versioned JSON contract every output format is rendered from.

`schema/scan-report.schema.json` is generated from these models (`migrate schema`); bump `SCHEMA_VERSION`
on any change that a consumer could notice, and only add optional fields within a major version.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from offramp.migrate import __version__

SCHEMA_VERSION = "1.1"


class _Model(BaseModel):
    # Consumers holding the 1.0 schema must accept later 1.x reports with new optional fields,
    # so the published schema does not forbid unknown properties.
    model_config = ConfigDict(extra="ignore")


class DeepSeekOffer(_Model):
    hosted: str = Field(description="supported | translated | emulated | unsupported")
    self_hosted: str = Field(description="supported | translated | emulated | unsupported")
    reason: str


class Deadline(_Model):
    """A shutdown OpenAI has announced for a model or an API this project uses: a migration forced by a date."""

    kind: str = Field(description="model | api")
    id: str = Field(description="the model id or API as found (gpt-4o, assistants)")
    shutdown: str = Field(description="ISO date the model or API stops answering")
    replacement: str = Field(default="", description="the replacement OpenAI names")
    source: str = Field(default="", description="where the date comes from (URL or document)")
    days_left: int | None = Field(default=None, description="days from the scan's date to the shutdown")


class ModelRef(_Model):
    """A model id the project uses, where it was found (a call argument, a constant, an env-var default)."""

    model: str
    path: str
    line: int = Field(ge=1)
    context: str = Field(default="call", description="call | constant | env-default | config")


class Finding(_Model):
    path: str = Field(description="POSIX path relative to the scanned root")
    line: int = Field(ge=1, description="1-based line where the call, constructor or assignment starts "
                                        "(within the cell for notebooks)")
    column: int = Field(ge=0, description="0-based column where it starts")
    cell: int | None = Field(default=None, description="notebook code cell index (0-based over all cells)")
    api: str = Field(description="dotted API: chat.completions.create, openai.ChatCompletion.create, OpenAI")
    category: str
    features: list[str] = Field(default_factory=list)
    level: int = Field(ge=0, le=5)
    rule: str
    deepseek: DeepSeekOffer
    message: str = ""
    code: str = Field(default="", description="the source line, stripped")
    rewrite: str = Field(default="", description="rewrite strategy the rule names")
    # 1.1
    via: list[str] = Field(default_factory=list, description="how the site was reached from the SDK, one step "
                           "each (e.g. 'factory get_client() in app/clients.py:12'); empty for a direct use")
    confidence: float = Field(default=1.0, ge=0, le=1, description="1.0: resolved to the SDK through imports; "
                              "lower for a duck-typed OpenAI-compatible call")
    origin: str = Field(default="openai", description="openai (the SDK) | openai-compatible (a duck-typed "
                        "client of the same shape) | offramp (a call through offramp.adapters)")
    backend: str | None = Field(default=None, description="for calls through offramp.adapters: the backend "
                                "the project's offramp.toml routes it to")
    models: list[str] = Field(default_factory=list, description="model ids this call uses, as resolved")
    deadlines: list[Deadline] = Field(default_factory=list)


class Skipped(_Model):
    path: str
    reason: str


class CategorySummary(_Model):
    category: str
    findings: int
    level: int = Field(ge=0, le=5, description="highest level in this category")
    files: int


class FileSummary(_Model):
    path: str
    level: int = Field(ge=0, le=5)
    findings: int


class Summary(_Model):
    level: int = Field(ge=0, le=5, description="the project's lock-in level: the highest of its findings")
    level_name: str
    effort: str
    files_scanned: int = Field(description="files walked")
    files_parsed: int = Field(description="files that passed the pre-filter and were parsed")
    files_with_findings: int
    findings: int
    skipped: int
    by_category: list[CategorySummary] = Field(default_factory=list)
    by_level: dict[str, int] = Field(default_factory=dict, description="findings per level, keys '0'..'5'")


class Tool(_Model):
    name: str = "offramp-migrate"
    version: str = __version__


class BaselineInfo(_Model):
    path: str = Field(description="the baseline report given to --baseline")
    known: int = Field(description="findings left out because the baseline already has them")


class ScanReport(_Model):
    schema_version: str = SCHEMA_VERSION
    tool: Tool = Field(default_factory=Tool)
    root: str = Field(description="the scanned root as given, resolved")
    summary: Summary
    files: list[FileSummary] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    skipped: list[Skipped] = Field(default_factory=list)
    rules_digest: str = ""
    # 1.1
    models: list[ModelRef] = Field(default_factory=list, description="every model id found in the project")
    deadlines: list[Deadline] = Field(default_factory=list, description="announced shutdowns of models and APIs "
                                      "the project uses, earliest first")
    scope: list[str] = Field(default_factory=list, description="paths the findings are limited to (the whole "
                             "project is still analysed); empty: everything under root")
    baseline: BaselineInfo | None = Field(default=None, description="--baseline: only new findings are listed")
