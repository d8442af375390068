"""Prometheus metrics, on a registry per proxy so tests and several proxies in one process don't collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "offramp_requests", "Requests answered by the proxy", ["endpoint", "status"], registry=r
        )
        self.mirrors = Counter("offramp_mirrors", "Mirror calls by outcome", ["target", "outcome"], registry=r)
        self.skips = Counter("offramp_mirror_skips", "Mirrors not sent, by reason", ["reason"], registry=r)
        self.latency = Histogram(
            "offramp_upstream_latency_seconds",
            "Upstream latency (ttft, total) per side",
            ["side", "kind"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            "offramp_proxy_overhead_seconds", "Time the proxy added", buckets=_BUCKETS, registry=r
        )
        self.agreement = Counter(
            "offramp_agreement", "Comparator verdicts", ["comparator", "side", "result"], registry=r
        )
        self.queue_depth = Gauge("offramp_mirror_queue_depth", "Mirror jobs waiting", registry=r)
        self.sample = Gauge("offramp_mirror_sample_share", "Current mirror sampling share", registry=r)
        self.store_pending = Gauge("offramp_store_pending", "Records waiting to be written", registry=r)
        self.offered = Counter("offramp_mirror_offered", "Requests offered to the mirror", registry=r)
        # Every offered request ends in one result: compared | candidate_error (detail = kind) | skipped (reason).
        self.results = Counter("offramp_mirror_results", "Offered requests by final outcome", ["result", "detail"],
                               registry=r)
        self.in_flight = Gauge("offramp_mirror_in_flight", "Offered requests not settled yet", registry=r)
        self.breaker_state = Gauge("offramp_candidate_breaker_state",
                                   "Candidate circuit breaker: 1 for the current state", ["candidate", "state"],
                                   registry=r)
        self.breaker_opened = Counter("offramp_candidate_breaker_opened", "Times the candidate breaker opened",
                                      ["candidate"], registry=r)
        self.spend = Gauge("offramp_mirror_spend_usd_today", "Mirror spend today (USD)", registry=r)
