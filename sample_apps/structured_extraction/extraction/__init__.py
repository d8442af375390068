"""Invoice extraction service: strict JSON schema, pydantic parse, and a JSON-mode triage."""
