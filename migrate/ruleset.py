"""Rules as data: the pydantic models that validate `rules/*.toml`, and their loader.

Rules are data so that a new API pattern, wrapper or in-house helper is a row, not a branch in the engine.
A bad file fails with one line naming the file and the key.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from offramp.rules import PATTERNS_DIR, RULES_DIR

Offer = Literal["supported", "translated", "emulated", "unsupported"]
MatchKind = Literal["call", "method", "constructor", "assign", "reference"]


class RuleFileError(ValueError):
    """A rules file that cannot be used; the message is one line naming the file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeepSeekOffer(_Strict):
    """What DeepSeek hosted and self-hosted servers offer for the matched API."""

    hosted: Offer
    self_hosted: Offer
    reason: str = Field(min_length=3)

    @field_validator("reason")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if "\n" in v.strip():
            raise ValueError("reason must be one line")
        return v.strip()


class FeatureWhen(_Strict):
    """How a per-call feature is detected from the call's arguments (all given conditions must hold).

    ``kwarg``: the keyword argument looked at (``model`` also reads ``engine``/``deployment_id``).
    ``equals`` / ``not_in`` / ``gt``: compare its literal value (module constants are followed).
    ``key``: look inside a dict literal value (``response_format`` → ``type``).
    ``is_name``: the value is a name or attribute, not a literal (``response_format=MyModel``).
    ``matches``: regex on a string literal value (``ft:`` model ids).
    A dotted ``key`` is a path into nested dicts (``text`` → ``format.type`` for the Responses API's
    ``text={"format": {"type": "json_schema"}}``).
    ``content_part``: a message content part of this ``type`` (or of one of these types) in the
    ``messages``/``input`` literal (followed through local names), or a data URL of this media kind
    (``image``/``audio``) via ``data_url``.
    ``within``: search for ``content_part`` in these arguments instead of the message literals — keyword names,
    ``*`` for the positional ones (built-in tools in ``tools=[{"type": "web_search"}]`` or in
    ``llm.bind_tools([...])``). An engine that does not know ``within`` must not match such a feature at all
    (it then looks in the messages, where a tool type never is).
    """

    kwarg: str | None = None
    equals: Any = None
    not_in: tuple[Any, ...] | None = None
    gt: float | None = None
    key: str | None = None
    is_name: bool = False
    matches: str | None = None
    content_part: str | tuple[str, ...] | None = None
    data_url: str | None = None
    within: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _check(self) -> FeatureWhen:
        if not (self.kwarg or self.content_part or self.data_url):
            raise ValueError("a feature needs `kwarg`, `content_part` or `data_url`")
        if self.within is not None and (self.content_part is None or self.kwarg is not None):
            raise ValueError("`within` goes with `content_part` and without `kwarg`")
        if self.matches:
            re.compile(self.matches)
        return self

    @property
    def content_types(self) -> tuple[str, ...]:
        """``content_part`` as a tuple (one type or several)."""
        if self.content_part is None:
            return ()
        return (self.content_part,) if isinstance(self.content_part, str) else self.content_part


class Match(_Strict):
    """What a rule matches.

    - ``call``: a call whose callee resolves to one of ``names`` (qualified: ``openai.ChatCompletion.create``,
      ``instructor.from_openai``, ``openai.embeddings_utils.get_embedding``).
    - ``method``: a call of the attribute path ``names`` (``chat.completions.create``) on a tracked object whose
      type is ``receiver`` (objects are produced by ``constructor``/``call`` rules with ``produces``). The
      ``openai`` module itself acts as an object of type ``openai.client`` (the v1 module-level client; its
      findings get the ``module_client`` feature). ``beta.`` and ``with_raw_response`` /
      ``with_streaming_response`` / ``with_options(...)`` are dropped from the path before matching.
    - a ``call`` rule whose names hold both ``X.create`` and ``X.acreate`` treats the ``a`` form as async.

    ``when`` (same detector as a feature's) narrows a call/method rule to calls whose arguments match, e.g.
    ``files.create`` with ``purpose = "fine-tune"``, or LangChain ``llm.invoke(...)`` with an image part
    (``content_part``); such rules win over the rule without ``when``.
    - ``constructor``: instantiation of a class resolving to one of ``names`` (``openai.OpenAI``).
    - ``assign``: assignment to a qualified attribute (``openai.api_key = ...``); with ``receiver``, to an
      attribute of a tracked object of that type (``self.client.api_key = next(keys)`` on an OpenAI client).
    - ``reference``: any use of the qualified name (``except openai.error.RateLimitError``).
    """

    kind: MatchKind
    names: tuple[str, ...] = Field(min_length=1)
    when: FeatureWhen | None = None
    receiver: str | None = None
    produces: str | None = None
    is_async: bool = False

    @model_validator(mode="after")
    def _check(self) -> Match:
        if self.kind == "method" and not self.receiver:
            raise ValueError("method rules need `receiver` (the object type they are called on)")
        if self.kind not in ("method", "assign") and self.receiver:
            raise ValueError("`receiver` is only for method and assign rules")
        if self.kind == "assign" and self.receiver and any("." in n for n in self.names):
            raise ValueError("assign rules with `receiver` name attributes of that object (api_key), not dotted names")
        if self.produces and self.kind not in ("call", "constructor"):
            raise ValueError("`produces` is only for call and constructor rules")
        if self.when is not None and self.kind not in ("call", "constructor", "method"):
            raise ValueError("`when` is only for call, constructor and method rules")
        for n in self.names:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", n):
                raise ValueError(f"not a dotted name: {n!r}")
        return self


class Example(_Strict):
    """An INVALID example: code that must give a finding of this rule (optionally with these features)."""

    code: str
    features: tuple[str, ...] = ()
    line: int | None = None


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    title: str
    match: Match
    category: str
    level: int = Field(ge=0, le=5)
    deepseek: DeepSeekOffer
    rewrite: str = Field(description="rewrite strategy id, see migrate/rewrite/strategies")
    features: tuple[str, ...] = ()
    message: str = ""
    valid: tuple[str, ...] = ()
    invalid: tuple[Example, ...] = ()
    source: str = Field(default="", description="file the rule came from (set by the loader)")

    @field_validator("invalid", mode="before")
    @classmethod
    def _examples(cls, v: Any) -> Any:
        return [{"code": e} if isinstance(e, str) else e for e in v]


class Feature(_Strict):
    """A per-call feature. When it raises a finding above its rule's level, the finding takes the feature's
    category and DeepSeek offer (an image part makes a chat call "vision", not "supported")."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    level: int = Field(ge=0, le=5)
    category: str
    description: str
    when: FeatureWhen | None = None
    deepseek: DeepSeekOffer | None = None
    valid: tuple[str, ...] = Field(default=(), description="code whose findings must not carry this feature")
    source: str = ""

    @model_validator(mode="after")
    def _offer_from_level_2(self) -> Feature:
        if self.level >= 2 and self.deepseek is None:
            raise ValueError("features of level 2 or more need `deepseek` (hosted, self_hosted, reason)")
        return self


class Level(_Strict):
    level: int = Field(ge=0, le=5)
    name: str
    effort: str
    summary: str


class RuleSet(BaseModel):
    """Every rule, feature and level in force for one run."""

    model_config = ConfigDict(frozen=True)

    rules: tuple[Rule, ...]
    features: tuple[Feature, ...]
    levels: tuple[Level, ...]
    categories: tuple[str, ...]
    digest: str

    def level(self, n: int) -> Level:
        return next(lv for lv in self.levels if lv.level == n)

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)

    def feature(self, feature_id: str) -> Feature:
        return next(f for f in self.features if f.id == feature_id)

    @property
    def import_roots(self) -> frozenset[str]:
        """Top-level modules a file must mention to be worth parsing (the scan's pre-filter)."""
        roots = {n.split(".")[0] for r in self.rules if r.match.kind != "method" for n in r.match.names}
        return frozenset(roots)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise RuleFileError(f"{path}: cannot read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise RuleFileError(f"{path}: invalid TOML: {e}") from None


def _validate(model: type[BaseModel], data: Any, path: Path, where: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        key = f"{where}.{loc}" if loc else where
        raise RuleFileError(f"{path}: {key}: {err['msg']}") from None


def _rows(data: dict[str, Any], table: str, path: Path) -> list[dict[str, Any]]:
    unknown = set(data) - {table}
    if unknown:
        raise RuleFileError(f"{path}: {sorted(unknown)[0]}: unknown top-level key (expected [[{table}]])")
    rows = data.get(table, [])
    if not isinstance(rows, list):
        raise RuleFileError(f"{path}: {table}: must be an array of tables ([[{table}]])")
    return rows


def _where(table: str, i: int, row: Any) -> str:
    ident = row.get("id") if isinstance(row, dict) else None
    return f"{table}[{i}]" + (f"({ident})" if ident else "")


def load_rule_file(path: Path) -> list[Rule]:
    rows = _rows(_read_toml(path), "rule", path)
    return [_validate(Rule, {**row, "source": str(path)}, path, _where("rule", i, row)) for i, row in enumerate(rows)]


def _rule_files(dirs: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for d in dirs:
        if not d.exists():
            raise RuleFileError(f"{d}: rules directory does not exist")
        files.extend(sorted(d.rglob("*.toml")) if d.is_dir() else [d])
    return files


def load_levels() -> tuple[Level, ...]:
    """The lock-in ladder from `rules/levels.toml` (editable data), validated: levels 0 to 5 once each."""
    path = RULES_DIR / "levels.toml"
    levels = tuple(
        _validate(Level, row, path, _where("level", i, row))
        for i, row in enumerate(_rows(_read_toml(path), "level", path))
    )
    if sorted(lv.level for lv in levels) != list(range(6)):
        raise RuleFileError(f"{path}: level: levels 0 to 5 must each appear once")
    return levels


def load_ruleset(extra_dirs: Iterable[Path] = ()) -> RuleSet:
    """Built-in rules plus the user's rule directories (or files)."""
    extra = [Path(d) for d in extra_dirs]
    levels_path = RULES_DIR / "levels.toml"
    levels = load_levels()

    features_path = RULES_DIR / "features.toml"
    features = [
        _validate(Feature, {**row, "source": str(features_path)}, features_path, _where("feature", i, row))
        for i, row in enumerate(_rows(_read_toml(features_path), "feature", features_path))
    ]

    rules: list[Rule] = []
    seen: dict[str, str] = {}
    hasher = hashlib.sha256()
    for path in _rule_files([PATTERNS_DIR, *extra]):
        hasher.update(path.read_bytes())
        for rule in load_rule_file(path):
            if rule.id in seen:
                raise RuleFileError(f"{path}: rule({rule.id}).id: duplicate id, already defined in {seen[rule.id]}")
            seen[rule.id] = str(path)
            rules.append(rule)
    for p in (levels_path, features_path):
        hasher.update(p.read_bytes())

    feature_ids = {f.id for f in features}
    for rule in rules:
        for fid in (*rule.features, *(f for ex in rule.invalid for f in ex.features)):
            if fid not in feature_ids:
                raise RuleFileError(f"{rule.source}: rule({rule.id}).features: unknown feature {fid!r}")
    categories = tuple(sorted({r.category for r in rules} | {f.category for f in features}))
    return RuleSet(
        rules=tuple(rules), features=tuple(features), levels=tuple(levels), categories=categories,
        digest=hasher.hexdigest()[:16],
    )


def user_rule_dirs(project_root: Path) -> list[Path]:
    """`[tool.migrate] rules = [...]` from the scanned project's pyproject.toml, relative to it."""
    pyproject = project_root / "pyproject.toml"
    if not pyproject.is_file():
        return []
    data = _read_toml(pyproject)
    cfg = data.get("tool", {}).get("migrate", {})
    dirs = cfg.get("rules", [])
    if isinstance(dirs, str):
        dirs = [dirs]
    if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
        raise RuleFileError(f"{pyproject}: tool.migrate.rules: must be a list of directory paths")
    return [project_root / d for d in dirs]
