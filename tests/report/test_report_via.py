"""Every format shows how a finding was reached (`via`), its origin and confidence (issue 9)."""

from __future__ import annotations

import json

from offramp.migrate.report import render
from offramp.migrate.scan import ScanOptions, scan_path

APP = {
    "app/__init__.py": "",
    "app/clients.py": "from openai import OpenAI\n\n\ndef get_client():\n    return OpenAI()\n",
    "app/views.py": ("from app.clients import get_client\n\n\ndef v(q):\n"
                     "    return get_client().images.generate(prompt=q)\n"),
    "app/duck.py": "def ask(client, q):\n    return client.chat.completions.create(model='m', messages=q)\n",
}
STEP = "factory get_client() in app/clients.py:4"


def _report(tmp_path):
    for rel, text in APP.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return scan_path(tmp_path, ScanOptions(use_cache=False, jobs=1))


def test_json_has_via_origin_and_confidence(tmp_path):
    data = json.loads(render("json", _report(tmp_path)))
    got = {f["path"]: f for f in data["findings"]}
    assert got["app/views.py"]["via"] == [STEP] and got["app/views.py"]["confidence"] == 0.9
    assert got["app/duck.py"]["origin"] == "openai-compatible" and got["app/duck.py"]["confidence"] == 0.6
    assert got["app/clients.py"]["via"] == [] and got["app/clients.py"]["confidence"] == 1.0


def test_terminal_markdown_and_html_show_the_path(tmp_path):
    report = _report(tmp_path)
    term = render("terminal", report, width=200)
    assert f"via {STEP}" in term and "openai-compatible" in term
    md = render("markdown", report)
    assert f"via {STEP}" in md and "duck-typed: parameter client of ask()" in md
    html = render("html", report)
    assert f'<div class="via">via {STEP}' in html


def test_sarif_message_properties_and_related_locations(tmp_path):
    run = json.loads(render("sarif", _report(tmp_path)))["runs"][0]
    res = next(r for r in run["results"] if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
               == "app/views.py")
    assert f"Reached via {STEP}" in res["message"]["text"]
    assert res["properties"]["via"] == [STEP]
    rel = res["relatedLocations"]
    assert [(r["physicalLocation"]["artifactLocation"]["uri"], r["physicalLocation"]["region"]["startLine"],
             r["message"]["text"]) for r in rel] == [("app/clients.py", 4, STEP)]
    direct = next(r for r in run["results"] if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                  == "app/clients.py")
    assert "relatedLocations" not in direct and "via" not in direct["properties"]
