"""Prometheus metrics of the engine (one registry per server instance)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENESS_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)


class EngineMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.lateness = Histogram(
            "tidings_lateness_seconds",
            "Handed to connector minus due time (time_to_send, or acceptance for immediate sends)",
            buckets=_LATENESS_BUCKETS,
            registry=r,
        )
        self.claimed = Counter("tidings_claimed", "Timers claimed", registry=r)
        self.sent = Counter(
            "tidings_sent", "Channel messages handed to a connector", ["channel"], registry=r
        )
        self.accepted = Counter("tidings_accepted", "Omnimessages accepted", registry=r)
        self.cancelled = Counter("tidings_cancelled", "Omnimessages cancelled", registry=r)
        self.recovered = Counter("tidings_recovered", "Expired leases taken back", registry=r)
        self.unknown = Counter(
            "tidings_unknown", "Channel messages caught mid-send (state unknown)", registry=r
        )
        self.lost_lease = Counter(
            "tidings_lost_lease", "Completions refused: lease lost", registry=r
        )
        self.reports = Counter(
            "tidings_reports", "Delivery reports recorded", ["status"], registry=r
        )
        self.pending = Gauge(
            "tidings_pending",
            "Timers waiting: scheduled sends and attempts' validity deadlines (counted every 30 s)",
            registry=r,
        )
        self.claim_batch = Histogram(
            "tidings_claim_batch_size",
            "Rows per claim",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
            registry=r,
        )
        self.fire_batch = Histogram(
            "tidings_fire_batch_size",
            "Timers per fire batch",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
            registry=r,
        )
