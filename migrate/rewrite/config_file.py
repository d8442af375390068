"""The starting `offramp.toml` that `migrate rewrite` writes from the scan, and the check `migrate adapter check`
runs on any config: every model the app uses must reach a backend that serves it, every capability a backend
that has it. Both read the same data (`rules/routing.toml`, `rules/backends/*.toml`), so a written config passes
the check by construction and a hand-edited one is held to the same rules."""

from __future__ import annotations

import datetime as dt
import difflib
import fnmatch
import functools
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from offramp.rules import RULES_DIR

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROUTING_RULES = RULES_DIR / "routing.toml"
CONFIG_NAME = "offramp.toml"
IGNORED_CAPS = ("models", "other")
_KNOWN_CAPS = ["chat", "embeddings", "images", "audio", "fine_tuning", "assistants", "batches", "moderations",
               "files", "vision", "responses", "completions"]  # the adapter never refuses these (engine: listing models, unknown paths)


class RoutingRulesError(ValueError):
    """rules/routing.toml is malformed; the message names the file and the row."""


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1)
    verified: dt.date


class Target(_Row):
    backend: str
    kind: str
    base_url: str
    api_key_env: str
    default_model: str


class ModelRow(_Row):
    openai: list[str] = Field(min_length=1, description="fnmatch patterns on OpenAI model ids")
    deepseek: str = Field(description="the id it starts on; empty: it stays on OpenAI")
    only_openai: bool = Field(False, description="no other backend can serve it (a fine-tune's weights)")
    reason: str


class RoutingRules(BaseModel):
    target: Target
    model: list[ModelRow]
    capabilities: dict[str, list[str]]
    rules: dict[str, list[str]] = Field(default_factory=dict)
    features: dict[str, list[str]] = Field(default_factory=dict)

    def caps_of(self, finding: Any) -> list[str]:
        by_feature = next((self.features[x] for x in finding.features if x in self.features), None)
        caps = list(self.rules.get(finding.rule) or by_feature or self.capabilities.get(finding.category, ()))
        if "vision" in finding.features and "vision" not in caps:
            caps += ["vision"] if "chat" in caps else ["chat", "vision"]
        return caps

    def row_for(self, model: str) -> ModelRow | None:
        return next((r for r in self.model if any(fnmatch.fnmatchcase(model, p) for p in r.openai)), None)


@functools.lru_cache(maxsize=4)
def load_routing_rules(path: Path = ROUTING_RULES) -> RoutingRules:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return RoutingRules.model_validate(data)
    except OSError as exc:
        raise RoutingRulesError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise RoutingRulesError(f"{path}: invalid TOML ({exc})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        raise RoutingRulesError(f"{path}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


# --------------------------------------------------------------------------------------- what the app uses
@dataclass(frozen=True)
class Use:
    """One kind of call the scan found: the capabilities it needs, the model it asks for (None: unresolved)."""

    caps: tuple[str, ...]
    model: str | None
    where: str  # path:line of the first site
    category: str
    fine_tuned: bool = False  # the call names a fine-tuned model (the scan may not have resolved its id)


def uses_from_report(report: Any, rules: RoutingRules | None = None) -> list[Use]:
    """The calls of a scan report, one per (capabilities, model), first site first."""
    rules = rules or load_routing_rules()
    seen: dict[tuple[tuple[str, ...], str | None, bool], Use] = {}
    in_calls: set[str] = set()
    for f in report.findings:
        caps = rules.caps_of(f)
        if not caps:
            continue
        ft = "fine_tuned_model" in f.features
        for model in f.models or [None]:
            in_calls.add(model or "")
            key = (tuple(caps), model, ft)
            seen.setdefault(key, Use(tuple(caps), model, f"{f.path}:{f.line}", f.category, ft))
    for ref in report.models:  # ids found as constants, env defaults, config values: chat models are chat calls
        row = rules.row_for(ref.model)
        if ref.model not in in_calls and row is not None and row.deepseek:
            seen.setdefault((("chat",), ref.model, False),
                            Use(("chat",), ref.model, f"{ref.path}:{ref.line}", "chat"))
    return list(seen.values())


def models_found(report: Any) -> list[str]:
    out: list[str] = []
    for m in [m for f in report.findings for m in f.models] + [r.model for r in report.models]:
        if m not in out:
            out.append(m)
    return out


# ------------------------------------------------------------------------------------- which ids are served
def _profiles(cfg: Any, backend: str):
    from offramp.adapters.profiles import load_profile_set

    b = cfg.backend(backend)
    return b, load_profile_set(b.kind, path=b.profile)


def _closed(pset: Any) -> bool:
    """A kind that lists its model ids (DeepSeek's API): an id matching only its catch-all row is not served.
    A kind whose only row is `*` (vLLM, Ollama, ...) serves whatever the server loaded: not checkable offline."""
    return any(p.models != ["*"] for p in pset.profiles)


def served_ids(pset: Any, today: dt.date) -> list[str]:
    ids: list[str] = []
    for p in pset.profiles:
        if p.until is not None and today > p.until:
            continue
        for m in [*p.models, *p.aliases]:
            if not any(ch in m for ch in "*?[") and m not in ids:
                ids.append(m)
    return ids


def model_problem(cfg: Any, backend: str, model: str | None, today: dt.date) -> str | None:
    """Why `backend` would not serve `model` (None: it does). `model` None: the app's unresolved model id."""
    b, pset = _profiles(cfg, backend)
    if not _closed(pset):
        return None
    who = backend if backend == b.kind else f"{backend} ({b.kind})"
    if model is None:
        return (f"{who} would receive the OpenAI model id the app asks for and answer 400 Model Not Exist: set "
                f"default_model in [backends.{backend}] or map the id in [routes.models]")
    prof = pset.for_model(model)
    ids = served_ids(pset, today)
    if prof.models == ["*"]:
        close = difflib.get_close_matches(model, ids, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else f" (it serves {', '.join(ids)})"
        return f"{who} serves no model {model!r}{hint}"
    if prof.until is not None and today > prof.until:
        return (f"{who}: {model!r} was retired on {prof.until} and answers 400"
                + (f"; use {prof.replacement!r}" if prof.replacement else ""))
    return None


def _supports(cfg: Any, backend: str, model: str | None, caps: tuple[str, ...]) -> list[str]:
    from offramp.adapters.profiles import load_profile

    b = cfg.backend(backend)
    prof = load_profile(b.kind, model, path=b.profile)
    return [c for c in caps if c not in IGNORED_CAPS and not prof.supports(c)]


def route_problem(cfg: Any, caps: tuple[str, ...], model: str | None, today: dt.date) -> str | None:
    """What goes wrong with a call needing `caps` asking for `model` (None: nothing), following the adapter's own
    routing (capability route, model map with its share, default, then the fallback chain)."""
    from offramp.adapters.routing import Candidate, candidates

    chain = candidates(cfg, list(caps), model, {"model": model, "messages": []}, {})
    starts = [chain]
    mapping = cfg.routes.models.get(model) if model else None
    share = (mapping.share if mapping is not None and mapping.share is not None else cfg.routes.share.percent)
    if mapping is not None and share < 100 and not any(c in cfg.routes.capabilities for c in caps):
        # part of the traffic takes the mapping, the rest the default route: both must work
        starts.append([Candidate(backend=mapping.backend, model=mapping.model or model, reason="model map"),
                       *chain[1:]])
    for chain in starts:
        lacking: list[tuple[str, list[str]]] = []
        for cand in chain:
            missing = _supports(cfg, cand.backend, cand.model, caps)
            if missing:
                lacking.append((cand.backend, missing))
                continue
            problem = model_problem(cfg, cand.backend, cand.model, today)
            if problem:
                return f"{cand.reason}: {problem}"
            row = load_routing_rules().row_for(model) if model else None
            if row is not None and row.only_openai and cfg.backend(cand.backend).kind != "openai":
                return (f"{cand.reason}: {model} is {row.reason}: map it to \"openai\" in [routes.models] "
                        f"(\"{model}\" = \"openai\")")
            break
        else:
            name, missing = lacking[0]
            return (f"needs {missing[0]}, which {name} does not serve and no fallback "
                    f"does: route it, e.g. [routes.capabilities] {missing[0]} = \"openai\"")
    return None


def check_warnings(cfg: Any, uses: list[Use]) -> list[str]:
    """What the check cannot decide: calls naming a fine-tuned model whose id the scan did not resolve, routed to
    a backend other than OpenAI (the id must be mapped to "openai" by hand)."""
    from offramp.adapters.routing import candidates

    out = []
    for use in uses:
        if use.fine_tuned and use.model is None:
            first = candidates(cfg, list(use.caps), None, {"messages": []}, {})[0]
            if cfg.backend(first.backend).kind != "openai":
                out.append(f"{use.where}: a call with a fine-tuned model whose id the scan did not resolve goes to "
                           f"{first.backend}; its weights exist only on OpenAI: map its ft: id to \"openai\" in "
                           "[routes.models]")
    return out


def check_config(cfg: Any, uses: list[Use], today: dt.date | None = None) -> list[str]:
    """One line per problem: ids the backends do not serve (with a did-you-mean), capabilities no backend in a
    call's chain serves, and every call kind of the scan that would fail."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    problems: list[str] = []
    for name, b in cfg.backends.items():
        if b.default_model and (p := model_problem(cfg, name, b.default_model, today)):
            problems.append(f"{cfg.path}: backends.{name}.default_model: {p}")
    for m, t in cfg.routes.models.items():
        if t.model and (p := model_problem(cfg, t.backend, t.model, today)):
            problems.append(f"{cfg.path}: routes.models.{m}: {p}")
        elif not t.model and (p := model_problem(cfg, t.backend, m, today)):
            problems.append(f"{cfg.path}: routes.models.{m}: {p}; name the model: \"{t.backend}/<id>\"")
    for cap, name in cfg.routes.capabilities.items():
        _, pset = _profiles(cfg, name)
        if cap not in _KNOWN_CAPS and cap not in IGNORED_CAPS:
            close = difflib.get_close_matches(cap, _KNOWN_CAPS, n=1)
            problems.append(f"{cfg.path}: routes.capabilities.{cap}: unknown capability"
                            + (f"; did you mean {close[0]!r}?" if close else f" ({', '.join(_KNOWN_CAPS)})"))
        elif cap not in IGNORED_CAPS and not any(p.supports(cap) for p in pset.profiles):
            problems.append(f"{cfg.path}: routes.capabilities.{cap}: backend {name} ({pset.kind}) does not serve "
                            f"{cap}")
    d = cfg.routes.default
    if not cfg.backend(d).default_model and (p := model_problem(cfg, d, None, today)):
        problems.append(f"{cfg.path}: routes.default = {d!r}: every model not in [routes.models] goes there: {p}")
    grouped: dict[str, list[Use]] = {}
    for use in uses:
        p = route_problem(cfg, use.caps, use.model, today)
        if p:
            what = f"{use.category} call" + (f" ({use.model})" if use.model else "")
            grouped.setdefault(f"{what}: {p}", []).append(use)
    for msg, group in grouped.items():
        more = f" (and {len(group) - 1} more)" if len(group) > 1 else ""
        problems.append(f"{group[0].where}{more}: {msg}")
    return problems


# ---------------------------------------------------------------------------------- the starting config
@dataclass
class StartingConfig:
    text: str
    mapped: dict[str, str]  # OpenAI id -> "backend/model" or "openai"
    kept: list[str]  # capabilities routed to OpenAI


def starting_config(report: Any, rules: RoutingRules | None = None,
                    today: dt.date | None = None) -> StartingConfig:
    """The offramp.toml that moves what DeepSeek serves and keeps the rest on OpenAI (the app's own settings)."""
    from offramp.adapters.profiles import load_profile

    rules = rules or load_routing_rules()
    t = rules.target
    mapped: dict[str, str] = {}
    notes: dict[str, str] = {}
    for m in models_found(report):
        row = rules.row_for(m)
        if row is None:
            continue
        mapped[m] = f"{t.backend}/{row.deepseek}" if row.deepseek else "openai"
        notes[m] = row.reason
    kept: list[str] = []
    for use in uses_from_report(report, rules):
        target = mapped.get(use.model or "", f"{t.backend}/{t.default_model}")
        if target == "openai":
            continue
        prof = load_profile(t.kind, target.partition("/")[2])
        kept += [c for c in use.caps if c not in IGNORED_CAPS and not prof.supports(c) and c not in kept]
    kept.sort()
    q = json.dumps
    lines = [
        "# Starting routing config, written by `migrate rewrite` from the scan of this project.",
        "# Check it before deploying (nothing is sent): migrate adapter check",
        "",
        f"[backends.{t.backend}]",
        f"kind = {q(t.kind)}",
        f"base_url = {q(t.base_url)}",
        f"api_key_env = {q(t.api_key_env)}  # keys only ever come from the environment",
        f"default_model = {q(t.default_model)}  # calls whose model is not mapped below",
        "",
        "[routes]",
        f"default = {q(t.backend)}  # \"openai\" is the app's own OpenAI settings (key, base_url)",
    ]
    unresolved_ft = [u.where for u in uses_from_report(report, rules) if u.fine_tuned and u.model is None]
    if mapped or unresolved_ft:
        lines += ["", "[routes.models]  # the OpenAI model ids the scan found"]
        lines += [f"{q(m)} = {q(v)}" + (f"  # {notes[m]}" if v == "openai" else "") for m, v in mapped.items()]
        lines += [f"# {w} calls a fine-tuned model (only OpenAI has it): map its ft: id to \"openai\" here"
                  for w in unresolved_ft]
    if kept:
        lines += ["", f"[routes.capabilities]  # what {t.backend} does not serve stays on OpenAI"]
        lines += [f"{c} = \"openai\"" for c in kept]
    text = "\n".join(lines) + "\n"
    from offramp.adapters.config import parse_config

    cfg = parse_config(text, CONFIG_NAME)  # never write a config the adapter would refuse
    problems = check_config(cfg, uses_from_report(report, rules), today)
    if problems:  # pragma: no cover - the data in rules/ contradicts itself
        raise RoutingRulesError(f"{ROUTING_RULES}: the starting config fails its own check: {problems[0]}")
    return StartingConfig(text, mapped, kept)


def plan(base: Path, report: Any) -> tuple[Any | None, str]:
    """The FileResult creating offramp.toml (None when one exists), and the summary line."""
    from offramp.migrate.rewrite.model import FileResult

    if (base / CONFIG_NAME).exists():
        return None, f"{CONFIG_NAME}: exists, left as it is (check it: migrate adapter check)"
    start = starting_config(report)
    moved = sorted({v for v in start.mapped.values() if v != "openai"})
    n_moved = sum(1 for v in start.mapped.values() if v != "openai")
    n_openai = len(start.mapped) - n_moved  # fine-tuned ids and others mapped to "openai" are not moved
    detail = (f"{n_moved} model(s) mapped" + (f" to {', '.join(moved)}" if moved else "")
              + (f", {n_openai} to openai" if n_openai else "")
              + (f", {', '.join(start.kept)} kept on OpenAI" if start.kept else ""))
    return (FileResult(path=CONFIG_NAME, original="", rewritten=start.text, new=True),
            f"{CONFIG_NAME}: a starting routing config ({detail}); check it: migrate adapter check")
