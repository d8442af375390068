from __future__ import annotations

import json

from offramp.migrate.report import sarif
from offramp.migrate.report_model import ScanReport


def run_of(text: str) -> dict:
    doc = json.loads(text)
    assert doc["version"] == "2.1.0"
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert len(doc["runs"]) == 1
    return doc["runs"][0]


def test_structure_rules_cover_results(report: ScanReport, ruleset) -> None:
    run = run_of(sarif.render(report, ruleset))
    driver = run["tool"]["driver"]
    assert driver["name"] == "offramp-migrate" and driver["version"] == report.tool.version
    ids = [r["id"] for r in driver["rules"]]
    assert len(ids) == len(set(ids))
    assert {r["ruleId"] for r in run["results"]} <= set(ids)
    assert "v1.moderations.create" in ids  # every rule in force, not only those that fired
    for res in run["results"]:
        assert ids[res["ruleIndex"]] == res["ruleId"]
    assert len(run["results"]) == len(report.findings)


def test_rule_descriptors_carry_the_deepseek_offer(report: ScanReport, ruleset) -> None:
    rules = {r["id"]: r for r in run_of(sarif.render(report, ruleset))["tool"]["driver"]["rules"]}
    emb = rules["v1.embeddings.create"]
    assert emb["shortDescription"]["text"] == "embeddings.create call"
    assert "DeepSeek hosted: unsupported; self-hosted: translated." in emb["help"]["text"]
    assert "L4 embeddings and vector stores" in emb["help"]["text"]
    assert emb["properties"]["category"] == "embeddings" and emb["properties"]["level"] == 4
    assert emb["defaultConfiguration"]["level"] == "error"


def test_results_locations_are_relative_and_columns_one_based(report: ScanReport, ruleset) -> None:
    run = run_of(sarif.render(report, ruleset))
    by_uri = {
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        ): r
        for r in run["results"]
    }
    for f in report.findings:
        res = by_uri[(f.path, f.line)]
        loc = res["locations"][0]["physicalLocation"]
        assert not loc["artifactLocation"]["uri"].startswith(("/", "file:"))
        assert loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert loc["region"]["startColumn"] == f.column + 1 >= 1
        assert res["ruleId"] == f.rule
        assert res["partialFingerprints"]["offrampFinding/v1"]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == "file:///home/dev/support-bot/"


def test_level_mapping(report: ScanReport, ruleset) -> None:
    run = run_of(sarif.render(report, ruleset))
    got = {r["properties"]["level"]: r["level"] for r in run["results"]}
    assert got == {0: "note", 1: "note", 2: "warning", 3: "warning", 4: "error", 5: "error"}


def test_notebook_cell_is_noted(report: ScanReport, ruleset) -> None:
    run = run_of(sarif.render(report, ruleset))
    nb = next(
        r
        for r in run["results"]
        if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "notebooks/explore.ipynb"
    )
    assert nb["properties"]["cell"] == 2
    assert "notebook cell 2, line 4 of the cell" in nb["message"]["text"]


def test_skipped_files_are_tool_execution_notifications(report: ScanReport, ruleset) -> None:
    inv = run_of(sarif.render(report, ruleset))["invocations"][0]
    notes = inv["toolExecutionNotifications"]
    assert [n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notes] == [
        sk.path for sk in report.skipped
    ]
    assert notes[1]["message"]["text"] == "skipped: not UTF-8: invalid start byte 0xff at offset 10"
    assert inv["executionSuccessful"] is True


def test_uri_prefix_places_results_in_the_repository(report: ScanReport, ruleset) -> None:
    report = report.model_copy(update={"root": "/work/repo/services/bot"})
    run = run_of(sarif.render(report, ruleset, uri_prefix="services/bot"))
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert "services/bot/app/agent.py" in uris
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == "file:///work/repo/"


def test_without_a_ruleset_rules_are_described_from_findings(report: ScanReport) -> None:
    run = run_of(sarif.render(report))
    ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert ids == {f.rule for f in report.findings}
    rule = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "v1.images.generate")
    assert "DeepSeek hosted: unsupported; self-hosted: emulated." in rule["help"]["text"]


def test_empty_report_is_valid_sarif(empty_report: ScanReport) -> None:
    run = run_of(sarif.render(empty_report))
    assert run["results"] == [] and run["tool"]["driver"]["rules"] == []
