"""SARIF 2.1.0 for GitHub code scanning: one result per finding, the rules in `tool.driver.rules`.

Level mapping (documented in the README, "migrate scan: the lock-in report"): L4–L5 → `error` (re-embedding a corpus, or an
API that stays on OpenAI), L2–L3 → `warning` (translated/emulated features, fine-tuned weights),
L0–L1 → `note` (portable as is). No `security-severity`: lock-in is not a vulnerability, and GitHub would
file it as one. Notebook findings carry their cell in the message and in `properties.cell`, and their line
is within the cell: SARIF has no notion of cells.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePosixPath
from urllib.parse import quote

from offramp.migrate.report.common import (
    deadline_headline,
    level_names,
    reached,
    sorted_findings,
    via_locations,
)
from offramp.migrate.report_model import Finding, ScanReport
from offramp.migrate.ruleset import Rule, RuleSet

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
SEVERITY = {0: "note", 1: "note", 2: "warning", 3: "warning", 4: "error", 5: "error"}


def sarif_level(level: int) -> str:
    return SEVERITY[max(0, min(level, 5))]


def _uri(path: str, prefix: str) -> str:
    return quote(f"{prefix.strip('/')}/{path}" if prefix.strip("/") else path, safe="/")


def _offer_text(hosted: str, self_hosted: str, reason: str) -> str:
    reason = reason.strip()
    end = "" if not reason or reason[-1] in ".!?" else "."
    return f"DeepSeek hosted: {hosted}; self-hosted: {self_hosted}. {reason}{end}"


def _rule_descriptor(rule: Rule, names: dict[int, str]) -> dict:
    offer = _offer_text(rule.deepseek.hosted, rule.deepseek.self_hosted, rule.deepseek.reason)
    level = f"L{rule.level} {names[rule.level]}" if rule.level in names else f"L{rule.level}"
    lead = f"{rule.message} " if rule.message else ""
    text = f"{lead}{offer} Lock-in {level}. Rewrite strategy: {rule.rewrite}."
    return {
        "id": rule.id,
        "name": "".join(p.capitalize() for p in rule.id.replace("-", ".").split(".")),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": f"{rule.title}: matches {', '.join(rule.match.names)}"},
        "help": {
            "text": text,
            "markdown": f"**{rule.title}**\n\n{rule.message + chr(10) * 2 if rule.message else ''}"
            f"| DeepSeek hosted | self-hosted |\n|---|---|\n"
            f"| {rule.deepseek.hosted} | {rule.deepseek.self_hosted} |\n\n"
            f"{rule.deepseek.reason.rstrip('.')}.\n\n"
            f"Lock-in {level}. `migrate rewrite` strategy: `{rule.rewrite}`.",
        },
        "defaultConfiguration": {"level": sarif_level(rule.level)},
        "properties": {
            "category": rule.category,
            "level": rule.level,
            "rewrite": rule.rewrite,
            "deepseek": {"hosted": rule.deepseek.hosted, "self_hosted": rule.deepseek.self_hosted},
            "tags": ["offramp", "openai-lock-in", rule.category],
        },
    }


def _descriptor_from_finding(f: Finding, names: dict[int, str]) -> dict:
    """A rule the ruleset does not know (a report rendered without its rules): described from its finding."""
    level = f"L{f.level} {names[f.level]}" if f.level in names else f"L{f.level}"
    offer = _offer_text(f.deepseek.hosted, f.deepseek.self_hosted, f.deepseek.reason)
    return {
        "id": f.rule,
        "name": "".join(p.capitalize() for p in f.rule.replace("-", ".").split(".")),
        "shortDescription": {"text": f"{f.api} ({f.category})"},
        "help": {"text": f"{offer} Lock-in {level}."},
        "defaultConfiguration": {"level": sarif_level(f.level)},
        "properties": {
            "category": f.category,
            "level": f.level,
            "tags": ["offramp", "openai-lock-in", f.category],
        },
    }


def _result(f: Finding, index: int, prefix: str, names: dict[int, str]) -> dict:
    level = f"L{f.level} {names[f.level]}" if f.level in names else f"L{f.level}"
    where = f" (notebook cell {f.cell}, line {f.line} of the cell)" if f.cell is not None else ""
    feats = f" Features: {', '.join(f.features)}." if f.features else ""
    due = "".join(f" {deadline_headline(d)}." for d in f.deadlines)
    how = reached(f)
    how = f" Reached via {how}." if how else ""
    text = (
        f"{f.message or f.api} — lock-in {level}.{feats}{due}{how} "
        f"{_offer_text(f.deepseek.hosted, f.deepseek.self_hosted, f.deepseek.reason)}{where}"
    )
    region: dict = {"startLine": f.line, "startColumn": f.column + 1}
    if f.code:
        region["snippet"] = {"text": f.code}
    props: dict = {"api": f.api, "category": f.category, "level": f.level, "features": list(f.features)}
    if f.cell is not None:
        props["cell"] = f.cell
    if f.deadlines:
        props["deadlines"] = [d.model_dump() for d in f.deadlines]
    if f.via or f.origin != "openai" or f.confidence < 1:
        props.update(via=list(f.via), origin=f.origin, confidence=f.confidence)
        if f.backend:
            props["backend"] = f.backend
    fingerprint = hashlib.sha256(
        "\0".join((f.path, str(f.cell), f.rule, f.api, f.code)).encode("utf-8")
    ).hexdigest()[:32]
    out: dict = {
        "ruleId": f.rule,
        "ruleIndex": index,
        "level": sarif_level(f.level),
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(f.path, prefix), "uriBaseId": "%SRCROOT%"},
                    "region": region,
                }
            }
        ],
        "partialFingerprints": {"offrampFinding/v1": fingerprint},
        "properties": props,
    }
    related = [
        {"id": i, "message": {"text": step},
         "physicalLocation": {"artifactLocation": {"uri": _uri(path, prefix), "uriBaseId": "%SRCROOT%"},
                              "region": {"startLine": line}}}
        for i, (step, path, line) in enumerate(via_locations(f), 1)
    ]
    if related:  # the places the finding was reached through (factory, call site, attribute assignment)
        out["relatedLocations"] = related
    return out


def render(report: ScanReport, ruleset: RuleSet | None = None, *, uri_prefix: str = "") -> str:
    """`uri_prefix` is the scanned root's path inside the repository (GitHub resolves URIs from the repo
    root); the CLI computes it from the enclosing git work tree."""
    names = level_names(report, ruleset)
    descriptors: list[dict] = [_rule_descriptor(r, names) for r in (ruleset.rules if ruleset else ())]
    index = {d["id"]: i for i, d in enumerate(descriptors)}
    findings = sorted_findings(report.findings)
    for f in findings:
        if f.rule not in index:
            index[f.rule] = len(descriptors)
            descriptors.append(_descriptor_from_finding(f, names))
    notifications = [
        {
            "level": "warning",
            "message": {"text": f"skipped: {sk.reason}"},
            "descriptor": {"id": "offramp.skipped-file"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {
                            "uri": _uri(sk.path, prefix=uri_prefix),
                            "uriBaseId": "%SRCROOT%",
                        }
                    }
                }
            ],
        }
        for sk in report.skipped
    ] + [
        {
            "level": "warning",
            "message": {"text": deadline_headline(d)},
            "descriptor": {"id": "offramp.forced-migration"},
        }
        for d in report.deadlines
    ]
    base = PurePosixPath(report.root)
    prefix_parts = PurePosixPath(uri_prefix.strip("/")).parts if uri_prefix.strip("/") else ()
    if prefix_parts and base.parts[-len(prefix_parts) :] == prefix_parts:
        base = PurePosixPath(*base.parts[: -len(prefix_parts)])
    root_uri = "file://" + quote(str(base).rstrip("/") + "/", safe="/:")
    run = {
        "tool": {
            "driver": {
                "name": report.tool.name,
                "version": report.tool.version,
                "semanticVersion": report.tool.version,
                "rules": descriptors,
                "notifications": [
                    {
                        "id": "offramp.skipped-file",
                        "name": "SkippedFile",
                        "shortDescription": {"text": "A file the scan could not read or parse"},
                    },
                    {
                        "id": "offramp.forced-migration",
                        "name": "ForcedMigration",
                        "shortDescription": {"text": "A model or API the project uses has an announced shutdown"},
                    },
                ],
            }
        },
        "originalUriBaseIds": {"%SRCROOT%": {"uri": root_uri}},
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
        "results": [_result(f, index[f.rule], uri_prefix, names) for f in findings],
        "columnKind": "unicodeCodePoints",
        "properties": {
            "lockInLevel": report.summary.level,
            "lockInLevelName": report.summary.level_name,
            "effort": report.summary.effort,
            "reportSchemaVersion": report.schema_version,
            "rulesDigest": report.rules_digest,
            "deadlines": [d.model_dump() for d in report.deadlines],
        },
    }
    return (
        json.dumps(
            {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}, indent=2, ensure_ascii=False
        )
        + "\n"
    )
