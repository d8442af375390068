"""The agent loop: ask the model, run every tool call it makes (possibly several at once), repeat."""

import json
from dataclasses import dataclass, field
from typing import Any

from openai import OpenAI

from tool_agent.shop import Shop
from tool_agent.tools import TOOLS, run_tool

AGENT_MODEL = "gpt-4o"
SYSTEM = "You are the order desk of an online shop. Use the tools; never invent order data."


@dataclass
class AgentResult:
    answer: str
    tool_calls: list[str] = field(default_factory=list)
    turns: int = 0


def run_agent(client: OpenAI, question: str, shop: Shop, *, max_turns: int = 6) -> AgentResult:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": question},
    ]
    result = AgentResult(answer="")
    for _ in range(max_turns):
        result.turns += 1
        response = client.chat.completions.create(
            model=AGENT_MODEL,
            messages=messages,
            tools=TOOLS,
            tool_choice="auto",
            parallel_tool_calls=True,
        )
        message = response.choices[0].message
        if not message.tool_calls:
            result.answer = message.content or ""
            return result
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            result.tool_calls.append(call.function.name)
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": call.id,
                    "content": run_tool(shop, call.function.name, call.function.arguments),
                }
            )
    result.answer = "Sorry, I could not finish that request. A human will follow up."
    return result


def lookup_first(client: OpenAI, order_id: str, shop: Shop) -> dict:
    """Force the order lookup (the desk always shows the order card before chatting)."""
    response = client.chat.completions.create(
        model=AGENT_MODEL,
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Show me order {order_id}."},
        ],
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "lookup_order"}},
    )
    calls = response.choices[0].message.tool_calls or []
    if not calls:
        raise RuntimeError("the model did not call lookup_order")
    return json.loads(run_tool(shop, calls[0].function.name, calls[0].function.arguments))
