"""Tables of the shadow store. Pairs carry `served_by` and `ramp_share` so the rollout controller can record
candidate-served traffic in the same table; ramp tables belong to `shadow/ramp` (its own migrations)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

migrations_table = Table(
    "offramp_migrations",
    metadata,
    Column("component", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("applied_at", Float, nullable=False),
)

pairs = Table(
    "shadow_pairs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", Float, nullable=False),  # epoch seconds, UTC
    Column("replica", String(64)),
    Column("endpoint", String(100), nullable=False),
    Column("family", String(32), nullable=False),
    Column("key_id", String(32)),  # hash of the app's key, never the key
    Column("stream", Boolean, nullable=False, default=False),
    Column("served_by", String(16), nullable=False, default="primary"),  # primary | candidate (ramp)
    Column("ramp_share", Float),
    Column("privacy", String(16), nullable=False),
    Column("primary_model", String(100)),
    Column("candidate_model", String(100)),
    Column("request_body", Text),
    Column("candidate_request", Text),  # the translated request actually sent
    Column("translation_changes", Text),  # JSON list
    Column("primary_status", Integer),
    Column("primary_body", Text),
    Column("primary_ttft_ms", Float),
    Column("primary_total_ms", Float),
    Column("primary_usage", Text),
    Column("primary_cost_usd", Float),
    Column("primary_error", String(200)),
    Column("candidate_status", Integer),
    Column("candidate_body", Text),
    Column("candidate_ttft_ms", Float),
    Column("candidate_total_ms", Float),
    Column("candidate_usage", Text),
    Column("candidate_cost_usd", Float),
    Column("candidate_error", String(200)),  # timeout | http_5xx | malformed_json | stream_cut | ...
    Column("noise_status", Integer),
    Column("noise_body", Text),
    Column("noise_ttft_ms", Float),
    Column("noise_total_ms", Float),
    Column("noise_usage", Text),
    Column("noise_cost_usd", Float),
    Column("noise_error", String(200)),
    # Added by migration shadow v3 (mirrored Responses and embeddings):
    Column("candidate_endpoint", String(100)),  # where the candidate was sent, e.g. /v1/chat/completions
    Column("primary_dims", Integer),  # embeddings: the vectors' dimension on each side
    Column("candidate_dims", Integer),
    Column("noise_dims", Integer),
    Index("ix_shadow_pairs_created", "created_at"),
    Index("ix_shadow_pairs_family", "family"),
)

comparisons = Table(
    "shadow_comparisons",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pair_id", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("family", String(32), nullable=False),
    Column("side", String(16), nullable=False),  # candidate (primary vs candidate) | noise (primary vs primary')
    Column("comparator", String(64), nullable=False),
    Column("agree", Boolean),  # None = not applicable / comparator error
    Column("score", Float),
    Column("detail", Text),  # JSON
    Index("ix_shadow_cmp_pair", "pair_id"),
    Index("ix_shadow_cmp_created", "created_at"),
)

counters = Table(
    "shadow_counters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", Float, nullable=False),
    Column("replica", String(64)),
    Column("name", String(64), nullable=False),  # e.g. mirror_skip, mirror_outcome, spend_usd
    Column("label", String(64), nullable=False),  # e.g. queue_full
    Column("value", Float, nullable=False),  # delta since the previous flush
    Index("ix_shadow_counters_created", "created_at"),
)

# Mirror spend per UTC day, shared by every replica writing to the store: the daily cap survives restarts and
# holds across replicas. Each writer adds its delta with one upsert per flush (never on the request path).
spend = Table(
    "shadow_spend",
    metadata,
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD, UTC
    Column("usd", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

# One row per proxy process, rewritten with each of its batched writes (same transaction as its counters): the
# mirror jobs it has in flight and its candidate breaker's state. `shadow status` adds the in-flight jobs of live
# replicas to the accounting (offered = compared + errors + skipped + in flight); a row not updated for a while is
# a replica that stopped (its in-flight jobs at that moment are the ones a crash lost).
replicas = Table(
    "shadow_replicas",
    metadata,
    Column("replica", String(64), primary_key=True),
    Column("updated_at", Float, nullable=False),
    Column("candidate", String(100)),
    Column("in_flight", Integer, nullable=False, default=0),
    Column("breaker_state", String(16)),  # closed | half_open | open
    Column("breaker_reason", String(300)),
    Column("breaker_since", Float),
    Column("breaker_retry_at", Float),
)

# Every breaker transition, with why.
breaker_events = Table(
    "shadow_breaker_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("replica", String(64)),
    Column("candidate", String(100), nullable=False),
    Column("from_state", String(16), nullable=False),
    Column("to_state", String(16), nullable=False),
    Column("reason", String(300), nullable=False),
    Index("ix_shadow_breaker_events_at", "at"),
)
