"""`wrapper-base-url`: LangChain's `ChatOpenAI` / `OpenAIEmbeddings` are pointed at the adapter by handing them
the adapter's clients (langchain-openai builds its own openai client only when none is given). Sound only when
the wrapper is not also given settings that it would have used to build that client (api_key, base_url, proxy,
http_client, headers, ...): those sites are left and reported. `max_retries` / `timeout` move onto the clients
with `with_options(...)`, so they keep their meaning.
"""

from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext

from offramp.migrate.rewrite.strategies.base import Strategy, adapter_client_call, build_chain

EXAMPLES: list[tuple[str, str]] = [
    (
        "from langchain_openai import ChatOpenAI\nllm = ChatOpenAI(model='gpt-4o-mini', temperature=0)\n",
        "from langchain_openai import ChatOpenAI\nfrom offramp import adapters\n\n"
        "llm = ChatOpenAI(model='gpt-4o-mini', temperature=0, root_client=adapters.client(), "
        "root_async_client=adapters.async_client(), client=adapters.client().chat.completions, "
        "async_client=adapters.async_client().chat.completions)\n",
    ),
    (
        "from langchain_openai import OpenAIEmbeddings\ne = OpenAIEmbeddings(model='m', max_retries=5)\n",
        "from langchain_openai import OpenAIEmbeddings\nfrom offramp import adapters\n\n"
        "e = OpenAIEmbeddings(model='m', max_retries=5, client=adapters.client().with_options(max_retries=5)."
        "embeddings, async_client=adapters.async_client().with_options(max_retries=5).embeddings)\n",
    ),
    (  # its own endpoint and key: pointing it at the adapter would drop them, so it is reported
        "from langchain_openai import ChatOpenAI\nllm = ChatOpenAI(base_url=u, api_key=k)\n",
        "from langchain_openai import ChatOpenAI\nllm = ChatOpenAI(base_url=u, api_key=k)\n",
    ),
]

# wrapper class -> (resource path on the client, whether it also takes root clients)
WRAPPERS: dict[str, tuple[str, bool]] = {
    "langchain_openai.ChatOpenAI": ("chat.completions", True),
    "langchain_openai.chat_models.ChatOpenAI": ("chat.completions", True),
    "langchain_openai.chat_models.base.ChatOpenAI": ("chat.completions", True),
    "langchain_openai.OpenAIEmbeddings": ("embeddings", False),
    "langchain_openai.embeddings.OpenAIEmbeddings": ("embeddings", False),
}
# Settings the wrapper feeds into the client it builds: with one of these, the adapter's client cannot stand in.
CLIENT_SETTINGS = frozenset({
    "api_key", "openai_api_key", "base_url", "openai_api_base", "organization", "openai_organization",
    "openai_proxy", "http_client", "http_async_client", "default_headers", "default_query",
    "http_socket_options", "azure_endpoint", "azure_deployment", "api_version", "openai_api_version",
})
FORWARDED = ("max_retries", "timeout", "request_timeout")
GIVEN = frozenset({"client", "async_client", "root_client", "root_async_client"})


class WrapperClients(Strategy):
    STRATEGY = "wrapper-base-url"
    CATEGORY = "wrapper"
    DESCRIPTION = "LangChain OpenAI wrappers -> built on the adapter's clients"

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        q = next((n for n in sorted(self.qnames(original_node.func)) if n in WRAPPERS), None)
        if q is None:
            return updated_node
        kwargs = {a.keyword.value: a for a in updated_node.args if a.keyword}
        if GIVEN & set(kwargs):
            return updated_node  # already built on a given client (a second run, or the user's own)
        strategy, _ = self.scan_strategy(original_node, q.rsplit(".", 1)[1])
        if strategy is None:
            return updated_node
        bad = sorted(CLIENT_SETTINGS & set(kwargs))
        if bad or any(a.star for a in updated_node.args):
            why = f"{bad[0]}=" if bad else "**kwargs"
            self.left(original_node, q, f"{q.rsplit('.', 1)[1]} gets {why}, which the adapter's shared client would "
                      "ignore; route it through offramp.toml or pass client= by hand")
            return updated_node
        options = [cst.Arg(keyword=cst.Name("timeout" if k == "request_timeout" else k), value=kwargs[k].value,
                           equal=_eq())
                   for k in FORWARDED if k in kwargs]
        resource, roots = WRAPPERS[q]

        def root(is_async: bool) -> cst.BaseExpression:
            base: cst.BaseExpression = adapter_client_call(is_async)
            if options:
                opts = [o.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                        for o in options[:-1]] + [options[-1]]
                base = cst.Call(func=cst.Attribute(value=base, attr=cst.Name("with_options")), args=opts)
            return base

        new = []
        if roots:
            new += [("root_client", root(False)), ("root_async_client", root(True))]
        new += [("client", build_chain(resource, root(False))), ("async_client", build_chain(resource, root(True)))]
        args = list(updated_node.args)
        if args:
            args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        for i, (k, v) in enumerate(new):
            comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")) if i < len(new) - 1 else \
                cst.MaybeSentinel.DEFAULT
            args.append(cst.Arg(keyword=cst.Name(k), value=v, equal=_eq(), comma=comma))
        self.need_adapters()
        self.moved(original_node, q)
        return updated_node.with_changes(args=args)


def _eq() -> cst.AssignEqual:
    return cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))
