"""The records the service returns. The JSON schema sent to the model is derived from them."""

from typing import Literal

from pydantic import BaseModel, ConfigDict


class LineItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str
    quantity: int
    unit_price: float


class Invoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    supplier: str
    invoice_number: str
    currency: str
    total: float
    items: list[LineItem]


class Triage(BaseModel):
    kind: Literal["invoice", "reminder", "other"] = "other"
    urgent: bool = False


def strict_schema(model: type[BaseModel]) -> dict:
    """The model's JSON schema with every property required, as strict structured outputs demand."""
    schema = model.model_json_schema()

    def tighten(node: dict) -> None:
        if node.get("type") == "object" and "properties" in node:
            node["required"] = list(node["properties"])
            node["additionalProperties"] = False
        for child in node.get("properties", {}).values():
            tighten(child)
            if "items" in child:
                tighten(child["items"])
        for sub in node.get("$defs", {}).values():
            tighten(sub)

    tighten(schema)
    return schema
