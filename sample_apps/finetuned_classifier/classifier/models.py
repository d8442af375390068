"""Model ids in one place: bump TICKET_MODEL after each training run (see scripts/train.py)."""

BASE_MODEL = "gpt-4o-mini-2024-07-18"
TICKET_MODEL = "ft:gpt-4o-mini-2024-07-18:acme:tickets:9abcXYZ1"

LABELS = ("billing", "shipping", "technical", "account", "other")
FALLBACK_LABEL = "other"
