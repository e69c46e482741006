"""Prometheus metrics for the service, in one registry the pipeline and the API share.

The pipeline reports through an observer (`observe_processed`, passed to
`run_worker(observers=...)`) or the narrower `observe_fetch(result)`; the store-derived gauges
(queue size by state, per-host queue depth, hits by priority) are refreshed when `/metrics` is
scraped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)

from crawler.models import FetchResult

if TYPE_CHECKING:
    from crawler.pipeline import Processed

REGISTRY = CollectorRegistry(auto_describe=True)

FETCHES = Counter(
    "triage_fetches_total",
    "URLs fetched or refused, by outcome and reason.",
    ["outcome", "reason"],
    registry=REGISTRY,
)
FETCH_SECONDS = Histogram(
    "triage_fetch_seconds",
    "Fetch latency (request to body read), seconds.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
    registry=REGISTRY,
)
HITS_RECORDED = Counter(
    "triage_hits_recorded_total",
    "New hits recorded by this process, by priority.",
    ["priority"],
    registry=REGISTRY,
)
HITS = Gauge("triage_hits", "Hits in the store, by priority and review status.",
             ["priority", "status"], registry=REGISTRY)
QUEUE = Gauge("triage_urls", "URLs in the store, by state.", ["state"], registry=REGISTRY)
HOST_QUEUE = Gauge(
    "triage_host_queue_depth", "Queued URLs per host (top hosts only).", ["host"],
    registry=REGISTRY,
)
RULESET = Info("triage_ruleset", "The rule-set version in force.", registry=REGISTRY)
RULE_RELOADS = Counter(
    "triage_rule_reloads_total", "Rule reloads by result.", ["result"], registry=REGISTRY
)
BATCHES = Counter(
    "triage_batches_total", "Seed batches taken in, by channel.", ["channel"], registry=REGISTRY
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def observe_fetch(result: FetchResult) -> None:
    """Count one fetch outcome and its latency."""
    FETCHES.labels(result.outcome.value, result.reason.value).inc()
    if result.elapsed_ms:
        FETCH_SECONDS.observe(result.elapsed_ms / 1000.0)


def observe_hit(priority: str) -> None:
    HITS_RECORDED.labels(priority).inc()


def observe_processed(processed: Processed) -> None:
    """A `crawler.pipeline.Observer`: pass it in `run_worker(observers=[observe_processed])`."""
    observe_fetch(processed.result)
    if processed.new_hit and processed.evaluation is not None:
        observe_hit(processed.evaluation.priority)


def set_ruleset(version: str) -> None:
    RULESET.info({"version": version})


def set_queue(counts: Mapping[str, int]) -> None:
    """URL counts by state as returned by `Store.counts()` (extra keys are ignored)."""
    for state in ("queued", "fetching", "done", "refused", "failed"):
        QUEUE.labels(state).set(counts.get(state, 0))


def set_host_depths(depths: Mapping[str, int]) -> None:
    HOST_QUEUE.clear()
    for host, n in depths.items():
        HOST_QUEUE.labels(host).set(n)


def set_hits(by_priority_status: Mapping[tuple[str, str], int]) -> None:
    HITS.clear()
    for (priority, status), n in by_priority_status.items():
        HITS.labels(priority, status).set(n)


def render() -> bytes:
    return generate_latest(REGISTRY)


def sample(name: str, labels: Mapping[str, str] | None = None) -> Any:
    """Read one sample's value (tests and diagnostics)."""
    return REGISTRY.get_sample_value(name, dict(labels or {}))
