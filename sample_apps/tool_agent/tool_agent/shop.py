"""The shop backend the agent's tools call (an in-memory stand-in for the orders service)."""

from dataclasses import dataclass, field


@dataclass
class Order:
    order_id: str
    status: str
    items: list[str]
    total_eur: float


@dataclass
class Shop:
    orders: dict[str, Order] = field(
        default_factory=lambda: {
            "A-1001": Order("A-1001", "shipped", ["kettle"], 39.90),
            "A-1002": Order("A-1002", "processing", ["toaster", "mug"], 54.50),
        }
    )
    refunds: list[str] = field(default_factory=list)
    audit: list[tuple[str, str]] = field(default_factory=list)  # (tool, order id): support reviews these

    def lookup_order(self, order_id: str) -> dict:
        self.audit.append(("lookup_order", order_id))
        order = self.orders.get(order_id)
        if order is None:
            return {"order_id": order_id, "error": "no such order"}
        return {"order_id": order.order_id, "status": order.status, "items": order.items, "total_eur": order.total_eur}

    def shipping_quote(self, country: str, weight_kg: float = 1.0) -> dict:
        base = 4.90 if country.upper() in {"DE", "FR", "NL"} else 14.90
        return {"country": country.upper(), "price_eur": round(base + 1.5 * max(weight_kg - 1.0, 0.0), 2)}

    def request_refund(self, order_id: str, reason: str = "") -> dict:
        self.audit.append(("request_refund", order_id))
        if order_id not in self.orders:
            return {"order_id": order_id, "error": "no such order"}
        self.refunds.append(order_id)
        return {"order_id": order_id, "refund": "queued", "reason": reason}
