"""Order-desk agent: chat plus shop tools (order lookup, shipping quotes, refunds)."""
