"""The live rollout dashboard served by the proxy at `/dashboard` (admin token required)."""

from offramp.shadow.dashboard.routes import add_routes, setup_proxy

__all__ = ["add_routes", "setup_proxy"]
