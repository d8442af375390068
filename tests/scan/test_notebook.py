"""Notebooks: code cells are scanned as one module (imports carry across cells); findings name the cell."""

from __future__ import annotations

import json


def _nb(*cells):
    return json.dumps({"cells": [
        {"cell_type": t, "source": src, "metadata": {}, "outputs": [], "execution_count": None} if t == "code"
        else {"cell_type": t, "source": src, "metadata": {}} for t, src in cells
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_notebook_cells_and_magics(scan):
    nb = _nb(
        ("markdown", "# Demo\nWe call `openai.ChatCompletion.create` here."),
        ("code", ["%pip install openai\n", "!pip list\n", "from openai import OpenAI\n", "client = OpenAI()"]),
        ("code", "%%bash\necho openai.ChatCompletion.create\n"),
        ("code", ["files = !ls\n", "if True:\n", "    %time x = 1\n",
                  "resp = client.chat.completions.create(\n", "    model='gpt-4o', messages=[], stream=True)\n",
                  "client.embeddings.create?"]),
    )
    report = scan({"analysis.ipynb": nb})
    assert report.skipped == []
    got = [(f.cell, f.line, f.rule, f.features) for f in report.findings]
    assert got == [(1, 4, "openai-client", []), (3, 4, "chat-completions-create", ["stream"])]
    assert report.findings[1].code == "resp = client.chat.completions.create("


def test_notebook_syntax_error_names_the_cell(scan):
    report = scan({"bad.ipynb": _nb(("code", "import openai\n"), ("markdown", "x"), ("code", "y = 2\nx = = 1\n"))})
    assert [s.reason.split(", column")[0] for s in report.skipped] == ["syntax error in cell 2, line 2"]
