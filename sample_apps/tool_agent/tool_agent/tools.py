"""Tool specs sent to the model and the dispatcher that runs the model's tool calls."""

import json
from typing import Any

from tool_agent.shop import Shop

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Get the status, items and total of an order.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string", "description": "e.g. A-1001"}},
                "required": ["order_id"],
                "additionalProperties": False,
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "shipping_quote",
            "description": "Quote shipping to a country for a parcel weight.",
            "parameters": {
                "type": "object",
                "properties": {
                    "country": {"type": "string", "description": "ISO country code"},
                    "weight_kg": {"type": "number"},
                },
                "required": ["country"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "request_refund",
            "description": "Queue a refund for an order.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}, "reason": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    },
]


def run_tool(shop: Shop, name: str, arguments: str) -> str:
    """Run one tool call; errors go back to the model as data so it can recover."""
    handlers = {
        "lookup_order": shop.lookup_order,
        "shipping_quote": shop.shipping_quote,
        "request_refund": shop.request_refund,
    }
    handler = handlers.get(name)
    if handler is None:
        return json.dumps({"error": f"unknown tool {name}"})
    try:
        kwargs = json.loads(arguments or "{}")
        return json.dumps(handler(**kwargs))
    except (TypeError, ValueError) as exc:
        return json.dumps({"error": f"bad arguments for {name}: {exc}"})
