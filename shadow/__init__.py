"""Shadow mode: a proxy that answers from the primary, mirrors a sample to the candidate, compares and records.

Seams for the rollout work (`shadow/ramp`, `shadow/report`, `shadow/dashboard`):
- `shadow.routing.Router.decide` is the single per-request routing decision (today: always the primary);
- `shadow.store.schema` has `served_by`/`ramp_share` on every pair and a per-component migration runner;
- `shadow.store.queries.agreement_by` aggregates pair results by comparator and request family;
- `shadow.proxy.register_extension` lets other modules add routes / a router when the proxy is built.
"""
