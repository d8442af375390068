"""The import pre-filter: sharp enough to skip files that only mention openai, loose enough for every import form."""

from __future__ import annotations

import pytest

from offramp.migrate.ruleset import load_ruleset
from offramp.migrate.scan.prefilter import import_regex, import_text, imported_modules

RX = import_regex(load_ruleset().import_roots)


@pytest.mark.parametrize("text", [
    "import openai\n", "import os, openai\n", "import openai as oa\n", "from openai import OpenAI\n",
    "from openai.types.chat import X\n", "    import openai  # lazy\n", "import openai.error\n",
    "from langchain_openai import ChatOpenAI\n", "from llama_index.llms.openai import OpenAI\n",
    "import instructor\n", "from agents import Agent\n", "from langchain.chat_models import ChatOpenAI\n",
])
def test_admits(text):
    assert RX.search("x = 1\n" + text)


@pytest.mark.parametrize("text", [
    "import openai_helpers\n", "from openaiwrapper import x\n", "print('import openai')\n",
    "# import openai\n", "x = 'from openai import OpenAI'\n", "import anthropic\n", "from my_agents import a\n",
])
def test_rejects(text):
    assert not RX.search(text)


def test_imported_modules_resolves_relative_and_from_names():
    text = "from . import clients\nfrom ..core.config import (\n    MODEL,\n    KEY as K,\n)\nimport app.x as y, z\n"
    got = imported_modules(text, "pkg.app")
    assert {"pkg.app", "pkg.app.clients", "pkg.core.config", "pkg.core.config.MODEL", "pkg.core.config.KEY",
            "app.x", "z"} <= got


@pytest.mark.parametrize("src", [
    "import os\nx = 1\nfrom app.clients import (\n    get_client,\n    other,\n)\ny = 2\n",
    "from app \\\n    import clients\nz = (1,\n 2)\n",
    "from app.clients import a, \\\r\n    b\r\nq = 1\r\n",
    "if TYPE_CHECKING: import app.clients\nx = 1; from . import views\n",
    '"""Docs: from here import (nothing\n"""\nimport app.x\n)\n',
    "def f():\n    from .sub import (g as h,\n        k)  # (x\n    return h\n",
])
def test_import_text_keeps_every_import_statement(src):
    """The project index reads imports from these lines only: the same modules as from the whole file."""
    got = import_text(src)
    assert len(got) < len(src)
    assert imported_modules(got, "app") == imported_modules(src, "app")
    assert imported_modules(src, "app")
