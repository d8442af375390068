"""The API graph (issue 9): every way real code reaches the SDK that the one-module resolver missed.

Each case is Fixit-style: INVALID code must give the finding (with how it was reached), VALID code of the
same shape must not."""

from __future__ import annotations

import pytest

from offramp.migrate.ruleset import load_ruleset
from offramp.migrate.scan import analyze_source

RS = load_ruleset()


def one(code: str):
    res = analyze_source(code, "m.py", RS)
    assert res.skipped_reason is None, res.skipped_reason
    return res.findings


def apis(findings) -> list[tuple[int, str]]:
    return [(f.line, f.api) for f in findings]


def by_api(report, api: str):
    return [f for f in report.findings if f.api == api]


# ------------------------------------------------------------------ factories, lazy globals, lru_cache
def test_factory_in_another_module_through_return_value_lazy_global_and_lru_cache(scan):
    report = scan({
        "app/__init__.py": "",
        "app/clients.py": (
            "import functools\nfrom openai import OpenAI\n_client = None\n\n"
            "def get_client():\n    return OpenAI()\n\n"
            "def lazy():\n    global _client\n    if _client is None:\n        _client = OpenAI()\n    return _client\n\n"
            "@functools.lru_cache\ndef cached():\n    return OpenAI()\n"),
        "app/use.py": (
            "from app.clients import get_client, lazy, cached\n"
            "get_client().chat.completions.create(model='m', messages=[])\n"
            "c = lazy()\nc.embeddings.create(model='e', input='x')\n"
            "cached().images.generate(prompt='p')\n"),
    })
    got = {(f.path, f.line, f.api): f for f in report.findings if f.path == "app/use.py"}
    assert set(got) == {("app/use.py", 2, "chat.completions.create"), ("app/use.py", 4, "embeddings.create"),
                        ("app/use.py", 5, "images.generate")}
    assert got[("app/use.py", 2, "chat.completions.create")].via[0] == "factory get_client() in app/clients.py:5"
    assert all(f.confidence < 1 and f.origin == "openai" for f in got.values())


def test_factory_of_another_sdk_is_not_usage(scan):
    report = scan({
        "app/__init__.py": "",
        "app/clients.py": "import anthropic\nimport openai\n\ndef get_client():\n    return anthropic.Anthropic()\n",
        "app/use.py": "from app.clients import get_client\nget_client().chat.completions.create(model='m', messages=[])\n",
    })
    assert report.findings == []


# ------------------------------------------------------------------ parameters, self.*, framework objects
def test_parameter_bound_from_every_call_site_in_the_module():
    code = ("from openai import OpenAI\nclient = OpenAI()\n"
            "def ask(c, q):\n    return c.chat.completions.create(model='m', messages=q)\n"
            "ask(client, [])\n")
    f = one(code)[1]
    assert (f.line, f.api, f.origin) == (4, "chat.completions.create", "openai")
    assert f.via == ["parameter c of ask() from the call at m.py:5"]


def test_parameter_passed_from_another_module_and_to_a_class_constructor(scan):
    report = scan({
        "app/__init__.py": "",
        "app/main.py": ("from openai import OpenAI\nfrom app.agent import ask, Agent\n"
                        "client = OpenAI()\nask(client, 'q')\nAgent(client).run()\n"),
        "app/agent.py": ("import openai\n\ndef ask(c, q):\n    return c.embeddings.create(model='e', input=q)\n\n"
                         "class Agent:\n    def __init__(self, client):\n        self.client = client\n"
                         "    def run(self):\n        return self.client.images.generate(prompt='p')\n"),
    })
    got = {(f.line, f.api): f for f in report.findings if f.path == "app/agent.py"}
    assert set(got) == {(4, "embeddings.create"), (10, "images.generate")}
    assert got[(4, "embeddings.create")].origin == "openai"
    assert any("parameter c of ask()" in s for s in got[(4, "embeddings.create")].via)
    assert any("self.client" in s for s in got[(10, "images.generate")].via)


def test_self_attribute_and_attribute_of_a_framework_object():
    code = ("import streamlit as st\nfrom openai import OpenAI\n"
            "class Bot:\n    def __init__(self):\n        self.client = OpenAI()\n"
            "    def ask(self):\n        return self.client.moderations.create(input='x')\n"
            "def setup():\n    st.session_state.client = OpenAI()\n"
            "def later():\n    return st.session_state.client.files.list()\n")
    got = {f.api: f for f in one(code)}
    assert got["moderations.create"].via == ["attribute self.client of Bot set at m.py:5"]
    assert got["files.list"].via == ["attribute st.session_state.client set at m.py:9"]


def test_dict_cache_of_clients_on_self():
    code = ("from openai import AsyncOpenAI\nclass T:\n    def __init__(self):\n        self._clients = {}\n"
            "    def _get(self, key):\n        if key not in self._clients:\n"
            "            self._clients[key] = AsyncOpenAI(api_key=key)\n        return self._clients[key]\n"
            "    async def go(self, k):\n        c = self._get(k)\n"
            "        return await c.chat.completions.create(model='m', messages=[])\n")
    f = [f for f in one(code) if f.api == "chat.completions.create"]
    assert [(x.line, "async" in x.features) for x in f] == [(11, True)]


# ------------------------------------------------------------------ duck typing
def test_duck_typed_client_received_in_a_module_that_never_imports_openai():
    code = ("def ask(client, q):\n    return client.chat.completions.create(model='m', messages=[q])\n"
            "class Runner:\n    def __init__(self, client):\n        self.client = client\n"
            "    def poll(self, t, r):\n        return self.client.beta.threads.runs.retrieve(thread_id=t, run_id=r)\n")
    got = one(code)
    assert apis(got) == [(2, "chat.completions.create"), (7, "threads.runs.retrieve")]
    assert {f.origin for f in got} == {"openai-compatible"}
    assert all(f.confidence < 0.9 for f in got)
    assert got[0].via == ["duck-typed: parameter client of ask()"]


@pytest.mark.parametrize("code", [
    # a client of another SDK with the same shape, built here
    "from together import Together\nc = Together()\nc.chat.completions.create(model='m', messages=[])\n",
    "from groq import Groq\nclass B:\n    def __init__(self):\n        self.client = Groq()\n"
    "    def ask(self):\n        return self.client.chat.completions.create(model='m', messages=[])\n",
    # the result of an unknown call, not something received
    "client = make()\nclient.chat.completions.create(model='m', messages=[])\n",
    # a one-segment method is no shape at all
    "def f(x):\n    return x.create(model='m')\n",
    # an imported object of another library
    "from mylib import llm\nllm.chat.completions.create(model='m', messages=[])\n",
])
def test_duck_typing_valid(code):
    assert one(code) == []


# ------------------------------------------------------------------ star imports, bound methods, own openai.py
def test_star_import_carries_openai_in():
    code = "from openai import *\nclient = OpenAI()\nclient.chat.completions.create(model='m', messages=[])\n"
    got = one(code)
    assert apis(got) == [(2, "OpenAI"), (3, "chat.completions.create")]
    assert got[0].via == ["star import from openai"]


def test_star_import_of_a_project_module_exporting_a_client(scan):
    report = scan({
        "app/__init__.py": "",
        "app/clients.py": "from openai import OpenAI\nclient = OpenAI()\n",
        "app/use.py": "from app.clients import *\nclient.embeddings.create(model='e', input='x')\n",
    })
    assert [(f.path, f.api) for f in report.findings] == [("app/clients.py", "OpenAI"),
                                                          ("app/use.py", "embeddings.create")]


def test_bound_method_kept_in_a_variable_and_wrapped():
    code = ("import functools\nfrom openai import OpenAI\nclient = OpenAI()\n"
            "create = client.chat.completions.create\ncreate(model='m', messages=[])\n"
            "emb = functools.partial(client.embeddings.create, model='e')\nemb(input='x')\n")
    assert apis(one(code))[1:] == [(5, "chat.completions.create"), (7, "embeddings.create")]


def test_own_openai_module_that_imports_the_sdk(scan):
    report = scan({
        "myapp/__init__.py": "",
        "myapp/llm/openai.py": ("import openai\n\ndef embed(t):\n    return openai.Embedding.create(input=[t], "
                                "engine='e')\n"),
        "myapp/llm/__init__.py": "",
        "myapp/llm/use.py": "from myapp.llm.openai import embed\nembed('x')\n",
        # a script folder (no package) with a module named openai.py that does not import the SDK: it shadows
        "scripts/openai.py": "def ChatCompletion():\n    pass\n",
        "scripts/run.py": "import openai\nopenai.ChatCompletion.create(model='m', messages=[])\n",
    })
    assert [(f.path, f.api) for f in report.findings] == [("myapp/llm/openai.py", "openai.Embedding.create")]


# ------------------------------------------------------------------ features decided outside the call
def test_features_from_a_kwargs_dict_built_in_the_function():
    code = ("from openai import OpenAI\nclient = OpenAI()\n"
            "def ask(q, tools=None):\n    params = {'model': 'm', 'messages': q}\n"
            "    if tools:\n        params['tools'] = tools\n    params.update(stream=True)\n"
            "    return client.chat.completions.create(**params)\n"
            "ask([], tools=[{'type': 'function'}])\n")
    f = one(code)[1]
    assert (f.line, sorted(f.features)) == (8, ["stream", "tools"])
    assert f.level == 2


def test_features_from_a_module_constant_dict_and_module_level_tools():
    code = ("from openai import OpenAI\nTOOLS = [{'type': 'function', 'function': {'name': 'f'}}]\n"
            "BASE = {'model': 'm', 'response_format': {'type': 'json_object'}}\nclient = OpenAI()\n"
            "client.chat.completions.create(messages=[], tools=TOOLS, **BASE)\n")
    assert sorted(one(code)[1].features) == ["json_object", "tools"]


def test_tools_passed_by_the_caller_through_a_parameter_default_none():
    code = ("from openai import OpenAI\nclient = OpenAI()\nTOOLS = [{'type': 'function'}]\n"
            "def req(messages, tools=None):\n    return client.chat.completions.create(model='m', messages=messages, "
            "tools=tools)\nreq([], tools=TOOLS)\n")
    assert one(code)[1].features == ["tools"]


def test_image_parts_from_a_helper_and_response_format_from_a_variable():
    code = ("from openai import OpenAI\nclient = OpenAI()\n"
            "def image_part(b64):\n    return {'type': 'image_url', 'image_url': {'url': f'data:image/png;base64,{b64}'}}\n"
            "def ask(b64):\n    fmt = {'type': 'json_schema', 'json_schema': {}}\n"
            "    content = [{'type': 'text', 'text': 'hi'}, image_part(b64)]\n"
            "    return client.chat.completions.create(model='m', messages=[{'role': 'user', 'content': content}],"
            " response_format=fmt)\n")
    f = one(code)[1]
    assert {"vision", "image_data_url", "json_schema"} <= set(f.features)
    assert f.level == 5


def test_plain_chat_stays_plain():
    code = ("from openai import OpenAI\nclient = OpenAI()\n"
            "def ask(q, tools=None):\n    return client.chat.completions.create(model='m', messages=q, tools=tools)\n"
            "ask([])\n")
    assert one(code)[1].features == []


# ------------------------------------------------------------------ traps the graph must keep out
@pytest.mark.parametrize("code", [
    "import openai\nclass C:\n    def __init__(self):\n        self.api_base = openai.api_base\n",
    "import openai\nbase = openai.api_key\n",
    "import openai\nx = 'openai.RateLimitError'\n",
])
def test_reads_of_module_settings_are_not_settings(code):
    assert one(code) == []


def test_exception_classes_referenced_anywhere():
    code = ("import openai\nfrom openai import RateLimitError\nimport openai._exceptions as ex\n"
            "ERRORS = (openai.APITimeoutError, RateLimitError)\n"
            "HANDLERS = {openai.APIConnectionError: 'retry'}\n"
            "def f(err: RateLimitError):\n    pass\nm.side_effect = openai.APIError('x', None, body=None)\n"
            "retry(retry_if_exception_type(ex.InternalServerError))\n")
    assert apis(one(code)) == [(4, "openai.APITimeoutError"), (4, "openai.RateLimitError"),
                               (5, "openai.APIConnectionError"), (6, "openai.RateLimitError"),
                               (8, "openai.APIError"), (9, "openai.InternalServerError")]


CLIENT_SETTING_RULE = '''
[[rule]]
id = "client-setting-test"
title = "A setting changed on a client object"
match = { kind = "assign", receiver = "openai.client", names = ["api_key", "base_url"] }
category = "configuration"
level = 1
deepseek = { hosted = "supported", self_hosted = "supported", reason = "the adapter takes the key per backend" }
rewrite = "report-only"
'''


def test_a_setting_assigned_on_a_tracked_client_matches_an_assign_rule_with_a_receiver(scan, tmp_path):
    rules = tmp_path / "r"
    rules.mkdir()
    (rules / "client.toml").write_text(CLIENT_SETTING_RULE)
    report = scan({"t.py": ("from openai import OpenAI\nclass T:\n    def __init__(self, keys):\n"
                            "        self.client = OpenAI()\n        self.keys = keys\n"
                            "    def rotate(self):\n        self.client.api_key = next(self.keys)\n"
                            "        self.other.api_key = 'x'\n")}, rules_dirs=[rules])
    assert [(f.line, f.api, f.rule) for f in report.findings if f.rule == "client-setting-test"] == [
        (7, "api_key", "client-setting-test")]


def test_a_project_subclass_of_a_wrapper_class_held_in_a_variable():
    code = ("from langchain.chat_models import ChatOpenAI\nclass Wrapped(ChatOpenAI):\n    pass\n"
            "def create_model():\n    model = Wrapped\n    return model(temperature=0)\n"
            "create_model().bind_tools([])\nclass Plain:\n    pass\nPlain()\n")
    got = one(code)
    assert apis(got) == [(6, "langchain.chat_models.ChatOpenAI"), (7, "bind_tools")]
    assert got[0].via == ["subclass Wrapped of langchain.chat_models.ChatOpenAI at m.py:2"]


def test_a_bound_method_handed_to_something_that_calls_it():
    code = ("import asyncio\nfrom openai import OpenAI\nc = OpenAI()\n"
            "asyncio.get_event_loop().run_in_executor(None, c.embeddings.create)\n"
            "handler(func=c.chat.completions.create, messages=[], tools=T)\n"
            "chat = c.chat.completions\nprint(c.models)\n")
    got = one(code)
    assert [(f.line, f.api, f.features) for f in got][1:] == [(4, "embeddings.create", []),
                                                            (5, "chat.completions.create", ["tools"])]
    assert got[2].via == ["bound method c.chat.completions.create passed to handler() at m.py:5"]
