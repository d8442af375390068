"""What the scan finds, through aliases and indirection, and what it must not report."""

from __future__ import annotations

import pytest

from offramp.migrate.ruleset import load_ruleset
from offramp.migrate.scan import analyze_source

RS = load_ruleset()


def find(code: str) -> list[tuple[int, str, str, list[str]]]:
    res = analyze_source(code, "m.py", RS)
    assert res.skipped_reason is None, res.skipped_reason
    return [(f.line, f.api, f.rule, f.features) for f in res.findings]


def test_v0_module_api_every_form():
    code = (
        "import openai\n"
        "openai.api_key = 'k'\n"
        "openai.api_base = 'https://x.openai.azure.com'\n"
        "r = openai.ChatCompletion.create(\n"
        "    engine='prod-gpt4',\n"
        "    messages=[])\n"
        "e = openai.Embedding.create(deployment_id='emb', input=['a'])\n"
        "img = openai.Image.create_variation(image=f)\n"
        "openai.FineTune.create(training_file='f')\n"
        "openai.Moderation.create(input='x')\n"
        "openai.File.create(file=f, purpose='fine-tune')\n"
    )
    assert [(line, rule) for line, _, rule, _ in find(code)] == [
        (2, "v0-config"), (3, "v0-config"), (4, "v0-chat-completion"), (7, "v0-embedding"), (8, "v0-image"),
        (9, "v0-fine-tune"), (10, "v0-moderation"), (11, "v0-file"),
    ]


def test_module_level_v1_client_and_beta_paths():
    code = (
        "import openai\n"
        "openai.chat.completions.create(model='m', messages=[])\n"
        "openai.beta.chat.completions.parse(model='m', messages=[], response_format=Out)\n"
        "openai.beta.assistants.create(model='m')\n"
    )
    got = find(code)
    assert [(api, rule) for _, api, rule, _ in got] == [
        ("chat.completions.create", "chat-completions-create"),
        ("chat.completions.parse", "chat-completions-parse"),
        ("assistants.create", "assistants"),
    ]
    assert all("module_client" in feats for *_, feats in got)


@pytest.mark.parametrize("ctor", ["OpenAI", "AsyncOpenAI", "AzureOpenAI", "AsyncAzureOpenAI", "Client", "AsyncClient"])
def test_every_client_class_tracks_its_resources(ctor):
    code = f"import openai\nc = openai.{ctor}()\nc.embeddings.create(model='text-embedding-3-small', input='x')\n"
    got = find(code)
    assert [(line, rule) for line, _, rule, _ in got][1:] == [(3, "embeddings-create")]
    assert ("async" in got[1][3]) == ctor.startswith("Async")


def test_resources_on_a_client():
    code = (
        "from openai import OpenAI\n"
        "client = OpenAI()\n"
        "client.images.generate(prompt='p')\n"
        "client.audio.transcriptions.create(model='whisper-1', file=f)\n"
        "client.audio.speech.create(model='tts-1', voice='alloy', input='t')\n"
        "client.fine_tuning.jobs.create(training_file='f', model='m')\n"
        "client.files.create(file=f, purpose='batch')\n"
        "client.batches.create(input_file_id='f', endpoint='/v1/chat/completions', completion_window='24h')\n"
        "client.beta.threads.runs.create_and_poll(thread_id='t', assistant_id='a')\n"
        "client.vector_stores.files.upload_and_poll(vector_store_id='v', file=f)\n"
        "client.moderations.create(input='x')\n"
        "client.models.list()\n"
        "client.responses.create(model='m', input='x')\n"
        "client.completions.create(model='m', prompt='p')\n"
        "client.chat.completions.with_streaming_response.create(model='m', messages=[])\n"
    )
    assert [rule for _, _, rule, _ in find(code)] == [
        "openai-client", "images", "audio-transcriptions", "audio-speech", "fine-tuning-jobs", "files-batch", "batches",
        "assistants", "vector-stores", "moderations", "models", "responses-create", "completions-create",
        "chat-completions-create",
    ]


def test_realtime_async_context():
    code = (
        "from openai import AsyncOpenAI\n"
        "async def main():\n"
        "    client = AsyncOpenAI()\n"
        "    async with client.realtime.connect(model='gpt-realtime') as conn:\n"
        "        await conn.send(x)\n"
    )
    assert [(line, rule) for line, _, rule, _ in find(code)] == [(3, "openai-async-client"), (4, "realtime")]


def test_aliases():
    assert [r for _, _, r, _ in find("import openai as oa\noa.ChatCompletion.create(model='m', messages=[])\n")] == [
        "v0-chat-completion"]
    got = find("from openai import AsyncOpenAI as C\nc = C()\nasync def f():\n"
               "    await c.chat.completions.create(model='m', messages=[])\n")
    assert [(line, r, "async" in fe) for line, _, r, fe in got] == [
        (2, "openai-async-client", True), (4, "chat-completions-create", True)]


def test_indirection_self_param_factory_bound_method():
    code = (
        "from typing import Optional\n"
        "import openai\n"
        "\n"
        "def make_client():\n"
        "    return openai.OpenAI(base_url=URL)\n"
        "\n"
        "class Service:\n"
        "    def __init__(self, client: Optional[openai.OpenAI] = None):\n"
        "        self.client = client or make_client()\n"
        "        self._embed = self.client.embeddings.create\n"
        "\n"
        "    def ask(self, q):\n"
        "        return self.client.chat.completions.create(model='m', messages=[{'role': 'user', 'content': q}])\n"
        "\n"
        "    def vec(self, t):\n"
        "        return self._embed(model='text-embedding-3-small', input=t)\n"
        "\n"
        "def run(c: 'openai.OpenAI'):\n"
        "    c.moderations.create(input='x')\n"
        "\n"
        "def later():\n"
        "    return get().files.list()\n"
        "\n"
        "def get() -> openai.OpenAI:\n"
        "    ...\n"
    )
    assert [(line, rule) for line, _, rule, _ in find(code)] == [
        (5, "openai-client"), (13, "chat-completions-create"), (16, "embeddings-create"), (19, "moderations"),
        (22, "files"),
    ]


def test_features_follow_constants_and_local_messages():
    code = (
        "from openai import OpenAI\n"
        "MODEL = 'ft:gpt-4o-mini-2024-07-18:acme:x:AbC'\n"
        "FMT = {'type': 'json_object'}\n"
        "client = OpenAI()\n"
        "def go(img_b64, audio_b64):\n"
        "    parts = [{'type': 'text', 'text': 'describe'}]\n"
        "    parts.append({'type': 'image_url', 'image_url': {'url': 'data:image/jpeg;base64,' + img_b64}})\n"
        "    messages = [{'role': 'user', 'content': parts}]\n"
        "    return client.chat.completions.create(model=MODEL, messages=messages, response_format=FMT,\n"
        "                                          tool_choice={'type': 'function', 'function': {'name': 'f'}},\n"
        "                                          tools=T, n=2)\n"
    )
    (_, _, _, feats), = find(code)[1:]
    assert set(feats) == {"fine_tuned_model", "json_object", "vision", "image_data_url", "tools",
                          "tool_choice_forced", "n_gt_1"}


def test_finding_level_and_category_come_from_highest_contributor():
    res = analyze_source("from openai import OpenAI\nOpenAI().chat.completions.create(model='m', messages=["
                         "{'role': 'user', 'content': [{'type': 'input_audio', 'input_audio': a}]}], tools=t)\n",
                         "m.py", RS)
    chat = [f for f in res.findings if f.rule == "chat-completions-create"][0]
    assert (chat.level, chat.category) == (5, "audio")
    assert chat.code.startswith("OpenAI().chat.completions.create(")


def test_wrappers():
    code = (
        "import instructor\n"
        "from openai import OpenAI\n"
        "from langchain_openai import ChatOpenAI, OpenAIEmbeddings\n"
        "from llama_index.llms.openai import OpenAI as LIOpenAI\n"
        "from llama_index.embeddings.openai import OpenAIEmbedding\n"
        "from agents import Agent, Runner\n"
        "llm = ChatOpenAI(model='gpt-4o')\n"
        "tools_llm = llm.bind_tools([f])\n"
        "emb = OpenAIEmbeddings()\n"
        "li = LIOpenAI(model='gpt-4o')\n"
        "le = OpenAIEmbedding()\n"
        "ic = instructor.from_openai(OpenAI())\n"
        "u = ic.chat.completions.create(model='m', response_model=User, messages=[])\n"
        "a = Agent(name='a', instructions='x')\n"
        "Runner.run_sync(a, 'q')\n"
    )
    assert [(line, rule) for line, _, rule, _ in find(code)] == [
        (7, "langchain-chat-openai"), (8, "langchain-bind-tools"), (9, "langchain-openai-embeddings"),
        (10, "llamaindex-openai-llm"), (11, "llamaindex-openai-embedding"), (12, "instructor-client"),
        (12, "openai-client"), (13, "instructor-create"), (14, "agents-agent"), (15, "agents-runner"),
    ]


@pytest.mark.parametrize("code", [
    "'''Call openai.ChatCompletion.create(model=...) here.'''\nimport openai\nx = 'client.chat.completions.create'\n",
    "import openai  # openai.OpenAI().chat.completions.create(...)\n# openai.api_key = 'x'\n",
    "import anthropic\nclient = anthropic.Anthropic()\nclient.messages.create(model='c', messages=[])\n"
    "client.chat.completions.create(model='c', messages=[])\n",
    "import ollama\nollama.chat(model='llama3', messages=[])\nc = ollama.Client()\nc.chat.completions.create()\n",
    "from together import Together\nc = Together()\nc.chat.completions.create(model='m', messages=[])\n"
    "c.embeddings.create(model='m', input='x')\n",
    "import litellm\nlitellm.completion(model='gpt-4o', messages=[])\nlitellm.embedding(model='x', input=['a'])\n",
    "from openai.types.chat import ChatCompletionMessageParam\nm: ChatCompletionMessageParam = {'role': 'user'}\n",
    "import openai\nclient = make()\nclient.chat.completions.create(model='m', messages=[])\n",
])
def test_not_usage(code):
    assert find(code) == []


def test_local_openai_module_shadows_the_sdk(scan, rows):
    report = scan({
        "openai.py": "def chat(x):\n    return x\nclass ChatCompletion:\n    @staticmethod\n    def create(**k): ...\n",
        "app.py": "import openai\nopenai.ChatCompletion.create(model='m')\nopenai.api_key = 'x'\n",
        "pkg/__init__.py": "",
        "pkg/agents/__init__.py": "class Agent: ...\n",
        "pkg/run.py": "from agents import Agent\nAgent(name='x')\n",
        "tools/agents.py": "class Agent: ...\n",
        "tools/run.py": "from agents import Agent\nAgent(name='x')\n",
    })
    assert rows(report) == [("pkg/run.py", 2, "agents.Agent", "agents-agent")]


def test_file_without_openai_import_is_not_parsed(scan, rows):
    report = scan({
        "notes.py": "TEXT = 'import openai; openai.ChatCompletion.create()'\nprint(TEXT)\n",
        "strings.py": "s = '''\nimport openai\nopenai.ChatCompletion.create()\n'''\n",
        "real.py": "import os, openai\nopenai.Completion.create(prompt='x')\n",
    })
    assert rows(report) == [("real.py", 2, "openai.Completion.create", "v0-completion")]
    # a multi-line string that looks like an import passes the cheap pre-filter but gives no finding
    assert report.summary.files_parsed == 2
    assert report.summary.files_scanned == 3


def test_cross_module_factory_and_client(scan, rows):
    report = scan({
        "app/__init__.py": "",
        "app/clients.py": "from openai import OpenAI, AsyncOpenAI\n\n\ndef get_client() -> OpenAI:\n"
                          "    return OpenAI()\n\n\nshared = AsyncOpenAI()\n\n\nclass Holder:\n"
                          "    def __init__(self):\n        self.llm = OpenAI()\n",
        "app/config.py": "CHAT_MODEL = 'ft:gpt-4o-mini:acme:support:Xy12'\n",
        "app/views.py": "from .clients import get_client, shared\nfrom app.config import CHAT_MODEL\n\n\n"
                        "def view(q):\n    return get_client().chat.completions.create(model=CHAT_MODEL, messages=q)\n\n\n"
                        "async def aview(q):\n    return await shared.embeddings.create(model='e', input=q)\n",
        "app/more.py": "from app import clients\nfrom app.clients import Holder\n\n\ndef go():\n"
                       "    clients.get_client().images.generate(prompt='p')\n    Holder().llm.moderations.create(input='x')\n",
        "app/unrelated.py": "from app.config import CHAT_MODEL\nprint(CHAT_MODEL)\n",
    })
    assert rows(report) == [
        ("app/clients.py", 5, "OpenAI", "openai-client"),
        ("app/clients.py", 8, "AsyncOpenAI", "openai-async-client"),
        ("app/clients.py", 13, "OpenAI", "openai-client"),
        ("app/more.py", 6, "images.generate", "images"),
        ("app/more.py", 7, "moderations.create", "moderations"),
        ("app/views.py", 6, "chat.completions.create", "chat-completions-create"),
        ("app/views.py", 10, "embeddings.create", "embeddings-create"),
    ]
    view = [f for f in report.findings if f.path == "app/views.py"]
    assert view[0].features == ["fine_tuned_model"] and view[0].level == 3
    assert "async" in view[1].features
    assert report.summary.files_parsed == 3  # unrelated.py imports only constants: never parsed


def test_same_module_name_in_two_apps_resolves_to_the_nearest(scan, rows):
    report = scan({
        "a/app/__init__.py": "", "a/app/clients.py": "from openai import OpenAI\nclient = OpenAI()\n",
        "a/app/use.py": "from app.clients import client\nclient.images.generate(prompt='x')\n",
        "b/app/__init__.py": "", "b/app/clients.py": "import anthropic\nclient = anthropic.Anthropic()\n",
        "b/app/use.py": "from app.clients import client\nclient.images.generate(prompt='x')\n",
    })
    assert [(p, r) for p, _, _, r in rows(report)] == [("a/app/clients.py", "openai-client"),
                                                       ("a/app/use.py", "images")]


def test_names_rebound_many_times_stay_cheap():
    # each name refers to itself through the others: memoised evaluation keeps this linear, not exponential
    chain = "\n".join(f"x = x.a{i}" if i % 2 else f"x = y.b{i}\ny = x.c{i}" for i in range(300))
    opts = "\n".join(f"c = c.with_options(timeout={i}) if flag else OpenAI()" for i in range(300))
    code = f"from openai import OpenAI\n{chain}\n{opts}\nc.chat.completions.create(model=x, messages=x)\n"
    assert [r for _, _, r, _ in find(code)][-1] == "chat-completions-create"


def test_unannotated_parameter_hides_module_client():
    """The parameter hides the module's client: with no call site, the call is only of the OpenAI shape
    (duck-typed, lower confidence), not a call on the module's client."""
    code = ("from openai import OpenAI\nclient = OpenAI()\n"
            "def f(client):\n    return client.chat.completions.create(model='m', messages=[])\n")
    res = analyze_source(code, "m.py", RS)
    assert [(f.rule, f.origin, f.confidence < 1) for f in res.findings] == [
        ("openai-client", "openai", False), ("chat-completions-create", "openai-compatible", True)]


def test_rule_narrowed_by_argument_wins_over_the_generic_rule():
    code = ("from openai import OpenAI\nc = OpenAI()\nc.files.create(file=f, purpose='fine-tune')\n"
            "c.files.create(file=f, purpose='batch')\nc.files.create(file=f, purpose='assistants')\n")
    res = analyze_source(code, "m.py", RS)
    assert [(f.rule, f.category, f.level) for f in res.findings][1:] == [
        ("files-fine-tune", "fine_tuning", 3), ("files-batch", "batches", 5), ("files", "files", 5)]


def test_shadowing_is_per_sys_path_entry(scan, rows):
    # a vendored copy of the SDK under vendor/ is not on the path of the app next to it
    report = scan({
        "vendor/openai/__init__.py": "class OpenAI: ...\n",
        "vendor/use.py": "import openai\nopenai.OpenAI()\n",
        "app/main.py": "import openai\nopenai.OpenAI()\n",
    })
    assert rows(report) == [("app/main.py", 2, "OpenAI", "openai-client")]


@pytest.mark.parametrize(("body", "features"), [
    ("def f(m):\n    stream = True\n    return c.chat.completions.create(model='x', messages=m, stream=stream)\n",
     ["stream"]),
    ("def f(m, stream=True, n=3):\n    return c.chat.completions.create(model='x', messages=m, stream=stream, n=n)\n",
     ["stream", "n_gt_1"]),
    ("def f(m):\n    fmt = {'type': 'json_schema', 'json_schema': {}}\n"
     "    return c.chat.completions.create(model='x', messages=m, response_format=fmt)\n", ["json_schema"]),
    ("def f(m):\n    model = 'ft:gpt-4o:acme::1'\n    return c.chat.completions.create(model=model, messages=m)\n",
     ["fine_tuned_model"]),
    ("def f(m, stream=False):\n    return c.chat.completions.create(model='x', messages=m, stream=stream)\n", []),
])
def test_keyword_values_follow_local_constants_and_parameter_defaults(body, features):
    (_, api, _, feats), = find("from openai import OpenAI\nc = OpenAI()\n" + body)[1:]
    assert (api, feats) == ("chat.completions.create", features)


def test_importing_only_sdk_types_is_not_parsed(scan, rows):
    report = scan({
        "types_only.py": "from openai.types.chat import ChatCompletion\nfrom openai import NOT_GIVEN\n"
                         "def show(c: ChatCompletion) -> str:\n    return c.choices[0].message.content\n",
        "client.py": "from openai import (\n    OpenAI,\n)\nOpenAI()\n",
        "module.py": "import openai.types\nopenai.api_key = 'k'\n",
    })
    assert rows(report) == [("client.py", 4, "OpenAI", "openai-client"), ("module.py", 2, "openai.api_key", "v0-config")]
    assert report.summary.files_parsed == 2


def test_positions_of_hits_in_nested_and_compound_statements():
    code = (
        "import openai\n"
        "from openai import OpenAI\n"
        "class Bot:\n"
        "    '''doc'''\n"
        "\n"
        "    @staticmethod\n"
        "    def make(  # comment\n"
        "            c=OpenAI()):\n"
        "        x = 1; y = openai.Completion.create(\n"
        "            prompt='p')\n"
        "        try:\n"
        "            pass\n"
        "        except openai.error.RateLimitError:\n"
        "            pass\n"
        "        for chunk in c.chat.completions.create(model='m', messages=[], stream=True):\n"
        "            if x: z = foo(\n"
        "                  c.embeddings.create(input='x', model='e'))\n"
        "        with c.chat.completions.stream(model='m', messages=[]) as s:\n"
        "            pass\n"
        "    '''\n"
        "    openai.Completion.create()\n"
        "    '''\n"
    )
    assert [(line, api) for line, api, _, _ in find(code)] == [
        (8, "OpenAI"), (9, "openai.Completion.create"), (13, "openai.error.RateLimitError"),
        (15, "chat.completions.create"), (17, "embeddings.create"), (18, "chat.completions.stream")]
    cols = {f.api: f.column for f in analyze_source(code, "m.py", RS).findings}
    assert cols == {"OpenAI": 14, "openai.Completion.create": 19, "openai.error.RateLimitError": 15,
                    "chat.completions.create": 21, "embeddings.create": 18, "chat.completions.stream": 13}



@pytest.mark.parametrize("imports", [
    "from app import (\n    config,\n    clients,\n)\n",
    "from app \\\n    import clients\n",
    "if True: from app import clients\n",
])
def test_importers_of_a_client_module_are_found_in_every_import_form(scan, rows, imports):
    report = scan({
        "app/__init__.py": "",
        "app/config.py": "MAIN = 1\n",
        "app/clients.py": "from openai import OpenAI\n\n\ndef get_client():\n    return OpenAI()\n",
        # `clients` also appears outside imports here, and `main` in many places: neither may matter
        "app/use.py": imports + "def main():\n    'clients'\n    return clients.get_client().embeddings.create(input='x', model='e')\n",
    })
    assert [(p, api) for p, _, api, _ in rows(report)] == [("app/clients.py", "OpenAI"), ("app/use.py", "embeddings.create")]
