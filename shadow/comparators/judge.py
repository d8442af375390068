"""Opt-in pairwise LLM judge on a configured backend (never one of the contestants), asked twice with the two
answers swapped to cancel position bias. Labels follow OpenAI Evals `fact`: A/B/C/E consistent, D contradiction."""

from __future__ import annotations

import asyncio
import os
import re

from offramp.shadow.comparators.base import Comparator, CompareContext, Verdict, content_text

PROMPT = """You compare two answers to the same request. Reply with one letter:
A: the first answer is a subset of the second and consistent with it
B: the first answer is a superset of the second and consistent with it
C: both contain the same details
D: they disagree
E: they differ, but the differences do not matter
Request:
{request}

First answer:
{first}

Second answer:
{second}

Letter:"""

_LABEL = re.compile(r"\b([ABCDE])\b")


class LLMJudge(Comparator):
    name = "llm_judge"
    is_async = True

    def __init__(self, base_url: str, model: str, api_key_env: str = "", timeout_s: float = 60.0) -> None:
        if not base_url or not model:
            raise ValueError("comparators.judge: base_url and model are required to enable llm_judge")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s

    async def _ask(self, session, request_text: str, first: str, second: str) -> str | None:
        import aiohttp

        headers = {"content-type": "application/json"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["authorization"] = f"Bearer {key}"
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": [{"role": "user", "content": PROMPT.format(request=request_text, first=first, second=second)}],
        }
        async with session.post(
            self.url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout_s)
        ) as resp:
            if resp.status >= 400:
                return None
            data = await resp.json(content_type=None)
        text = content_text(data) or ""
        m = _LABEL.search(text.upper())
        return m.group(1) if m else None

    async def acompare(self, a: dict, b: dict, ctx: CompareContext) -> Verdict:
        ta, tb = content_text(a), content_text(b)
        if ta is None or tb is None or ctx.session is None:
            return Verdict(None)
        msgs = ctx.request.get("messages") or []
        last_user = next((m.get("content") for m in reversed(msgs) if m.get("role") == "user"), "")
        req = last_user if isinstance(last_user, str) else str(last_user)
        try:
            ab, ba = await asyncio.gather(self._ask(ctx.session, req, ta, tb), self._ask(ctx.session, req, tb, ta))
        except Exception as exc:  # noqa: BLE001 - a judge failure is "no verdict", never a pair failure
            return Verdict(None, None, {"error": type(exc).__name__})
        if ab is None or ba is None:
            return Verdict(None, None, {"labels": [ab, ba]})
        agree = ab != "D" and ba != "D"
        return Verdict(agree, (int(ab != "D") + int(ba != "D")) / 2, {"labels": [ab, ba]})
