"""Each strategy's before/after examples (kept beside the strategy), run in libcst's CodemodTest style, and the
renames that earlier tools got wrong, checked against the installed openai SDK."""

from __future__ import annotations

import openai
import pytest
from libcst.codemod import CodemodContext, CodemodTest

from offramp.migrate.rewrite import renames
from offramp.migrate.rewrite.strategies import ALL, STRATEGY_IDS
from offramp.migrate.rewrite.strategies import client_construction as cc
from offramp.migrate.rewrite.strategies import dict_response_access as dra
from offramp.migrate.rewrite.strategies import error_classes as ec
from offramp.migrate.rewrite.strategies import module_api_to_client as mac
from offramp.migrate.rewrite.strategies import module_client_calls as mcc
from offramp.migrate.rewrite.strategies import module_config_to_configure as mcf
from offramp.migrate.rewrite.strategies import offramp_imports as oi
from offramp.migrate.rewrite.strategies import wrapper_clients as wc
from offramp.migrate.rewrite.strategies.base import LEFT

MODULES = [(mac, mac.ModuleApiToClient), (ec, ec.ErrorClasses), (cc, cc.ClientConstruction),
           (mcc, mcc.ModuleClientCalls), (mcf, mcf.ModuleConfigToConfigure), (dra, dra.DictResponseAccess),
           (wc, wc.WrapperClients), (oi, oi.OfframpImports)]


class _Examples(CodemodTest):
    MODULE = None

    def test_examples(self) -> None:
        if self.MODULE is None:
            return
        for before, after in self.MODULE.EXAMPLES:
            with self.subTest(before=before):
                self.assertCodemod(before, after)


class TestModuleApiToClient(_Examples):
    TRANSFORM = mac.ModuleApiToClient
    MODULE = mac


class TestErrorClasses(_Examples):
    TRANSFORM = ec.ErrorClasses
    MODULE = ec


class TestClientConstruction(_Examples):
    TRANSFORM = cc.ClientConstruction
    MODULE = cc


class TestModuleClientCalls(_Examples):
    TRANSFORM = mcc.ModuleClientCalls
    MODULE = mcc


class TestModuleConfig(_Examples):
    TRANSFORM = mcf.ModuleConfigToConfigure
    MODULE = mcf

    def test_keep_mode_configures_from_the_kept_setting(self) -> None:
        ctx = CodemodContext()
        ctx.scratch[mcf.KEEP] = True
        self.assertCodemod("import openai\nopenai.api_key = key()\n",
                           "import openai\nfrom offramp import adapters\n\nopenai.api_key = key()\n"
                           "adapters.configure(api_key=openai.api_key)\n", context_override=ctx)


    def test_keep_mode_configures_a_run_once_after_its_last_setting(self) -> None:
        ctx = CodemodContext()
        ctx.scratch[mcf.KEEP] = True
        self.assertCodemod(
            "import openai\ndef f(s):\n    openai.api_type = 'azure'\n    openai.api_base = s.url\n    go()\n",
            "import openai\nfrom offramp import adapters\n\ndef f(s):\n    openai.api_type = 'azure'\n    openai.api_base = s.url\n"
            "    adapters.configure(api_type=openai.api_type, base_url=openai.api_base)\n    go()\n",
            context_override=ctx)
        assert ctx.scratch[mcf.INSERTED] == [4]  # one line inserted, after the run's last line

    def test_trailing_comment_or_multiline_setting_is_never_merged(self) -> None:
        self.assertCodemod(
            "import openai\nopenai.api_type = 'azure'\nopenai.api_base = B  # gateway\nopenai.api_version = V\n"
            "openai.organization = (\n    ORG\n)\n",
            "from offramp import adapters\n\nadapters.configure(api_type='azure')\nadapters.configure(base_url=B)  # gateway\n"
            "adapters.configure(api_version=V)\nadapters.configure(organization=(\n    ORG\n))\n")

    def test_merged_lines_are_recorded_and_retries_stay_with_the_key(self) -> None:
        ctx = CodemodContext()
        ctx.scratch[mcf.V0_RETRIES] = True
        self.assertCodemod("import openai\nopenai.api_key = k\nopenai.api_base = b\nopenai.api_version = v\n",
                           "from offramp import adapters\n\nadapters.configure(api_key=k, max_retries=0, base_url=b, api_version=v)\n",
                           context_override=ctx)
        assert ctx.scratch[mcf.MERGED] == [3, 4]


class TestWrapperClients(_Examples):
    TRANSFORM = wc.WrapperClients
    MODULE = wc


class TestOfframpImports(_Examples):
    TRANSFORM = oi.OfframpImports
    MODULE = oi

    def test_a_project_with_its_own_adapters_package_keeps_its_imports(self) -> None:
        code = "import adapters\n\nc = adapters.client()\n"
        ctx = CodemodContext(scratch={oi.OWN_ADAPTERS: True})
        self.assertCodemod(code, code, context_override=ctx)
        assert "its own `adapters` package" in ctx.scratch[LEFT][0]["reason"]


class TestDictResponseAccess(_Examples):
    TRANSFORM = dra.DictResponseAccess
    MODULE = dra

    def test_unproven_value_is_left_and_reported(self) -> None:
        ctx = CodemodContext()
        code = "def f(resp):\n    return resp['choices'][0]['text']\n"
        self.assertCodemod(code, code, context_override=ctx)
        assert [x["line"] for x in ctx.scratch[LEFT]] == [2]

    def test_two_branches_both_proven(self) -> None:
        before = ("from offramp import adapters\ndef f(a):\n    if a:\n        r = adapters.client().completions.create(prompt='x')\n"
                  "    else:\n        r = adapters.client().completions.create(prompt='y')\n"
                  "    return r['choices'][0]['text']\n")
        self.assertCodemod(before, before.replace("r['choices'][0]['text']", "r.choices[0].text"))

    def test_rebound_name_is_not_proven(self) -> None:
        code = ("from offramp import adapters\ndef f(x):\n    r = adapters.client().completions.create(prompt='x')\n"
                "    r = x\n    return r['choices']\n")
        self.assertCodemod(code, code)


@pytest.mark.parametrize(("module", "cls"), MODULES, ids=[c.__name__ for _, c in MODULES])
def test_left_examples_are_reported(module, cls) -> None:
    """An example whose code does not change must have been reported with a reason, never silently kept."""
    from libcst.codemod import transform_module

    for before, after in module.EXAMPLES:
        if before != after:
            continue
        ctx = CodemodContext()
        transform_module(cls(ctx), before)
        assert ctx.scratch[LEFT], before
        assert all(x["reason"] for x in ctx.scratch[LEFT])


def test_every_strategy_has_examples_and_an_id() -> None:
    for cls in ALL:
        assert cls.STRATEGY
    assert set(STRATEGY_IDS) >= {"client-constructor", "keep-call", "v0-resource-call", "v0-config", "v0-exception"}


def test_exception_targets_exist_and_are_exceptions() -> None:
    """A wrong exception name passes import and tests and fails at the first real error: check them all."""
    for old, new in renames.EXCEPTIONS.items():
        if new is None:
            continue
        cls = getattr(openai, new)
        assert isinstance(cls, type) and issubclass(cls, BaseException), (old, new)
    assert renames.EXCEPTIONS["Timeout"] == "APITimeoutError"  # openai.Timeout is httpx's config class


def test_resource_targets_exist_on_the_installed_client() -> None:
    client = openai.OpenAI(api_key="unused", base_url="http://127.0.0.1:9/v1")
    for resource, path in renames.RESOURCES.items():
        for method in renames.ALLOWED[resource]:
            target = f"{path}.{renames.METHODS.get((resource, method), method)}"
            obj = client
            for part in target.split("."):
                obj = getattr(obj, part)
            assert callable(obj), f"openai.{resource}.{method} -> {target}"
