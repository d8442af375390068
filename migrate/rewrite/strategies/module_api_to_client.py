"""`v0-resource-call`: the 0.x module API (`openai.ChatCompletion.create`, `openai.Embedding.create`,
`openai.Image.create_edit`, `openai.Audio.transcribe`, ...) becomes the 1.x-shaped call on the adapter's
process-wide client: `adapters.client().chat.completions.create(...)`; `acreate` goes to
`adapters.async_client()`. Renames follow openai-api-patterns.md §7.1/§7.3 (see `migrate.rewrite.renames`).

Examples (before → after) — the tests run every one:
"""

from __future__ import annotations

import libcst as cst
from libcst.codemod.visitors import AddImportsVisitor

from offramp.migrate.rewrite import renames
from offramp.migrate.rewrite.sdk_signatures import accepted_keywords
from offramp.migrate.rewrite.strategies.base import Strategy, adapter_client_call, build_chain, dotted
from offramp.migrate.rewrite.strategies.imports import drop_unused

EXAMPLES: list[tuple[str, str]] = [
    (
        "import openai\nr = openai.ChatCompletion.create(model='gpt-4o', messages=m)\n",
        "from offramp import adapters\n\nr = adapters.client().chat.completions.create(model='gpt-4o', messages=m)\n",
    ),
    (
        "import openai\nv = openai.Embedding.create(engine='ada', input=t, request_timeout=5)\n",
        "from offramp import adapters\n\nv = adapters.client().embeddings.create(model='ada', input=t, timeout=5)\n",
    ),
    (
        "import openai as oa\nasync def f():\n    return await oa.ChatCompletion.acreate(deployment_id='d', messages=m)\n",
        "from offramp import adapters\n\nasync def f():\n"
        "    return await adapters.async_client().chat.completions.create(model='d', messages=m)\n",
    ),
    (
        "from openai import Image\nImage.create_edit(image=i, prompt=p)\nImage.create(prompt=p)\n",
        "from offramp import adapters\n\nadapters.client().images.edit(image=i, prompt=p)\nadapters.client().images.generate(prompt=p)\n",
    ),
    (
        "import openai\nopenai.Audio.transcribe('whisper-1', f)\nopenai.FineTuningJob.retrieve(id='j')\n",
        "from offramp import adapters\n\nadapters.client().audio.transcriptions.create(model='whisper-1', file=f)\n"
        "adapters.client().fine_tuning.jobs.retrieve('j')\n",
    ),
    (
        "import openai\ndata = openai.File.download('file-1')\nopenai.Moderation.create(input=x)\n",
        "from offramp import adapters\n\ndata = adapters.client().files.content('file-1').content\n"
        "adapters.client().moderations.create(input=x)\n",
    ),
    (  # left and reported: removed API, and a per-call key that selects another client
        "import openai\nopenai.FineTune.create(training_file=f)\nopenai.Completion.create(prompt=p, api_key=k)\n",
        "import openai\nopenai.FineTune.create(training_file=f)\nopenai.Completion.create(prompt=p, api_key=k)\n",
    ),
]

def _why(finding: dict | None) -> str:
    if not finding:
        return "the scan's rule keeps this call on OpenAI"
    return finding.get("reason") or finding.get("message") or f"rule {finding.get('rule')}"


_ID_METHODS = frozenset({"retrieve", "delete", "download", "cancel", "list_events"})


class ModuleApiToClient(Strategy):
    STRATEGY = "v0-resource-call"
    CATEGORY = "module-api"
    DESCRIPTION = "openai.<Resource>.<method>(...) (0.x) -> adapters.client().<resource>.<method>(...)"

    def __init__(self, context: cst.codemod.CodemodContext) -> None:
        super().__init__(context)
        self.touched: set[str] = set()

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        q = self.qname(original_node.func)
        if not q:
            return updated_node
        parts = q.split(".")
        if len(parts) != 3:
            return updated_node
        _, resource, method = parts
        if resource not in renames.RESOURCES and resource not in renames.REMOVED:
            return updated_node
        strategy, finding = self.scan_strategy(original_node, q)
        if strategy is None:
            return updated_node
        if strategy not in ("", self.STRATEGY, "keep-on-openai"):
            self.left(original_node, q, _why(finding), strategy=strategy)
            return updated_node
        if resource in renames.REMOVED:
            self.left(original_node, q, renames.REMOVED[resource])
            return updated_node
        if resource not in renames.RESOURCES:
            return updated_node
        allowed = renames.ALLOWED[resource]
        is_async = method not in allowed and method.startswith(renames.ASYNC_PREFIX) and method[1:] in allowed
        base = method[1:] if is_async else method
        if base not in allowed:
            self.left(original_node, q, f"{q} has no 1.x equivalent on the client; port it by hand")
            return updated_node
        on_openai = strategy == "keep-on-openai"
        if on_openai and is_async:
            self.left(original_node, q, f"{_why(finding)}; the openai module client has no async form: "
                      "construct an AsyncOpenAI for it", strategy=strategy)
            return updated_node
        new_args = self._arguments(original_node, updated_node, resource, base, q)
        if new_args is None:
            return updated_node
        target = f"{renames.RESOURCES[resource]}.{renames.METHODS.get((resource, base), base)}"
        receiver = cst.Name("openai") if on_openai else adapter_client_call(is_async)
        call: cst.BaseExpression = cst.Call(
            func=build_chain(target, receiver), args=new_args, lpar=updated_node.lpar, rpar=updated_node.rpar,
            whitespace_after_func=updated_node.whitespace_after_func,
            whitespace_before_args=updated_node.whitespace_before_args,
        )
        if (resource, base) == ("File", "download"):
            call = cst.Attribute(value=call, attr=cst.Name("content"))  # 0.x returned the bytes
        root = dotted(original_node.func)
        if root:
            self.touched.add(root.split(".")[0])
        if on_openai:  # 1.x shape on the openai module client, which keeps its module configuration
            AddImportsVisitor.add_needed_import(self.context, "openai")
            self.touched.discard("openai")
            self.left(original_node, q, f"{_why(finding)}; moved to the 1.x openai module client",
                      strategy=strategy)
            return call
        self.need_adapters()
        self.moved(original_node, q)
        return call

    def _arguments(
        self, original: cst.Call, updated: cst.Call, resource: str, method: str, q: str
    ) -> list[cst.Arg] | None:
        args = list(updated.args)
        names = [a.keyword.value for a in args if a.keyword]
        bad = sorted(set(names) & renames.CLIENT_KWARGS)
        if bad:
            self.left(original, q, f"per-call {bad[0]}= selects another client; give it its own adapter client")
            return None
        renamed = [renames.KWARGS.get(n, n) for n in names]
        if len(renamed) != len(set(renamed)):
            self.left(original, q, "both model and engine/deployment_id are given; pick one by hand")
            return None
        target = f"{renames.RESOURCES[resource]}.{renames.METHODS.get((resource, method), method)}"
        accepted = accepted_keywords(target)
        unknown = [n for n in renamed if accepted is not None and n not in accepted
                   and not (n == "id" and method in _ID_METHODS)]  # `id=` becomes the positional id below
        if unknown:  # 0.x sent it in the request body; the 1.x method raises TypeError on it
            self.left(original, q, renames.V0_BODY_KWARGS.get(unknown[0], (
                f"{unknown[0]}= is not a parameter of 1.x {target} (0.x sent unknown keywords in the request body, "
                "1.x raises TypeError): pass it in extra_body={...} by hand")))
            return None
        positional = [a for a in args if not a.keyword and not a.star]
        out: list[cst.Arg] = []
        if positional:
            spec = renames.POSITIONAL.get((resource, method))
            if spec and len(positional) <= len(spec):
                kw = iter(spec)
                for a in args:
                    if not a.keyword and not a.star:
                        out.append(a.with_changes(keyword=cst.Name(next(kw)), equal=cst.AssignEqual(
                            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))))
                    else:
                        out.append(a)
                args = out
                out = []
            elif not (method in _ID_METHODS and len(positional) == 1):
                self.left(original, q, "positional arguments of a 0.x call cannot be mapped safely")
                return None
        first: list[cst.Arg] = []
        for a in args:
            if a.keyword and a.keyword.value in renames.KWARGS:
                a = a.with_changes(keyword=cst.Name(renames.KWARGS[a.keyword.value]))
            if a.keyword and a.keyword.value == "id" and method in _ID_METHODS:
                first.append(a.with_changes(keyword=None, equal=cst.MaybeSentinel.DEFAULT))
                continue
            out.append(a)
        result = first + out
        if result:  # the last argument carries no trailing comma from a moved one
            result[-1] = result[-1].with_changes(comma=args[-1].comma if args else cst.MaybeSentinel.DEFAULT)
            for i in range(len(result) - 1):
                if result[i].comma == cst.MaybeSentinel.DEFAULT:
                    result[i] = result[i].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        return result

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        drop_unused(self.context, original_node, self.touched)
        return updated_node
