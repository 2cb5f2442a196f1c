"""Prometheus metrics for one app: deliveries, queue, jobs, GitHub calls, rate limits, retries, dead letters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    """Every metric lives in this object's own registry, so tests can build several apps in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.deliveries = Counter(
            "release_train_deliveries_total",
            "Webhook deliveries received, by event and outcome",
            ["event", "outcome"],
            registry=r,
        )
        self.ack_seconds = Histogram(
            "release_train_ack_seconds",
            "Time from request to acknowledgement",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.job_seconds = Histogram(
            "release_train_job_seconds",
            "Time spent processing one job attempt",
            ["event"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=r,
        )
        self.jobs = Counter("release_train_jobs_total", "Job attempts, by outcome", ["outcome"], registry=r)
        self.job_crashes = Counter(
            "release_train_job_crashes_total",
            "Job attempts that raised neither GitHub's answer nor a transient failure (a bug), by event and exception",
            ["event", "exception"],
            registry=r,
        )
        self.queue_depth = Gauge("release_train_queue_depth", "Jobs stored and not finished", registry=r)
        self.github_calls = Counter(
            "release_train_github_calls_total",
            "GitHub API calls, by method and status (0: no answer)",
            ["method", "status"],
            registry=r,
        )
        self.rate_limit_remaining = Gauge(
            "release_train_rate_limit_remaining",
            "x-ratelimit-remaining last seen, per installation",
            ["installation"],
            registry=r,
        )
        self.retries = Counter(
            "release_train_retries_total", "Retries, by kind (http, network, job)", ["kind"], registry=r
        )
        self.dead_letters = Counter(
            "release_train_dead_letters_total", "Jobs dead-lettered, by event", ["event"], registry=r
        )
        self.redeliveries = Counter(
            "release_train_redeliveries_requested_total",
            "Failed deliveries the catch-up asked GitHub to redeliver",
            registry=r,
        )

    # observers handed to the GitHub client -------------------------------------------------
    def github_call(self, method: str, url: str, status: int) -> None:
        self.github_calls.labels(method, str(status)).inc()

    def rate_limit(self, installation_id: int | None, remaining: int) -> None:
        self.rate_limit_remaining.labels(str(installation_id) if installation_id is not None else "app").set(remaining)

    def retry(self, kind: str) -> None:
        self.retries.labels(kind).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        """One sample's current value (0 when absent); for tests and the health answer."""
        found = self.registry.get_sample_value(name, labels or {})
        return float(found or 0.0)
