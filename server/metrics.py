"""Prometheus metrics for one server (`vitrine serve --metrics-address HOST:PORT`).

Each server has its own `CollectorRegistry` (not prometheus_client's global one), so several
servers in one process (the tests) keep separate counts. Counters the cache and the scheduler
already keep (hits, misses, evictions, queue depth) are read at scrape time by a collector
instead of being counted twice.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from server.cache import AssetCache
    from server.scheduler import Scheduler

log = logging.getLogger(__name__)

# Latency of whole calls (a stream ends after its last chunk): cache hits take milliseconds,
# heavy generations tens of seconds.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_REFUSAL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)
_BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 32)
_GENERATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """The server's metrics; `registry` is what the HTTP endpoint serves."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "vitrine_requests", "Calls finished, by rpc, model and gRPC status code "
            "(model is 'unknown' for a name not loaded, '' where the call names none)",
            ["rpc", "model", "code"], registry=r)
        self.latency = Histogram(
            "vitrine_request_seconds", "Call duration, first byte in to last byte out, by rpc",
            ["rpc"], buckets=_LATENCY_BUCKETS, registry=r)
        self.generations = Counter(
            "vitrine_generations", "Assets generated (not served from the cache), by model",
            ["model"], registry=r)
        self.generation_seconds = Histogram(
            "vitrine_generation_seconds", "Time the model took to generate one asset, by model",
            ["model"], buckets=_GENERATION_BUCKETS, registry=r)
        self.batch_size = Histogram(
            "vitrine_batch_size", "Assets generated per model call, by model (GenerateBatch "
            "windows, and the dynamic batches of concurrent calls)", ["model"],
            buckets=_BATCH_BUCKETS, registry=r)
        self.coalesced = Counter(
            "vitrine_coalesced", "Cache misses that joined a generation of the same asset "
            "already in flight instead of running their own, by model", ["model"], registry=r)
        self.bytes_streamed = Counter(
            "vitrine_streamed_bytes", "Asset file bytes sent in chunks", registry=r)
        self.refusals = Counter(
            "vitrine_refusals", "Calls refused before any work, by client (the token's client "
            "name, 'peer:HOST' without tokens, 'unauthenticated') and reason (unauthenticated, "
            "concurrency, rate: the client's limits; queue, share, deadline: the scheduler's)",
            ["client", "reason"], registry=r)
        self.refusal_seconds = Histogram(
            "vitrine_refusal_seconds", "Time from a call's arrival in the server to its refusal "
            "by the scheduler (queue, share, deadline), as the server sees it",
            buckets=_REFUSAL_BUCKETS, registry=r)

    def watch(self, cache: AssetCache, scheduler: Scheduler) -> None:
        """Report the cache's and the scheduler's own counts at each scrape."""
        self.registry.register(_StateCollector(cache, scheduler))


class _StateCollector(Collector):
    def __init__(self, cache: AssetCache, scheduler: Scheduler):
        self.cache, self.scheduler = cache, scheduler

    def collect(self):
        stats = self.cache.stats
        for name, value, doc in (
                ("vitrine_cache_hits", stats.hits, "Cache lookups that found an intact asset"),
                ("vitrine_cache_misses", stats.misses,
                 "Cache lookups that found nothing (or damage, which is dropped)"),
                ("vitrine_cache_evictions", stats.evictions,
                 "Assets evicted to stay under the cache size cap"),
                ("vitrine_cache_corrupt", stats.corrupt,
                 "Damaged index rows, headers or blobs found and dropped")):
            yield CounterMetricFamily(name, doc, value=value)
        running, queued = self.scheduler.depth()
        yield GaugeMetricFamily("vitrine_queue_depth",
                                "Generation jobs waiting for a worker", value=queued)
        yield GaugeMetricFamily("vitrine_generation_jobs_running",
                                "Generation jobs running on a worker", value=running)
        yield GaugeMetricFamily("vitrine_cache_bytes", "Bytes of assets in the cache",
                                value=self.cache.total_bytes())
        yield GaugeMetricFamily("vitrine_cache_memory_bytes",
                                "Bytes of the assets the cache also keeps in memory (part of "
                                "the RSS, capped by --cache-memory-mib)",
                                value=getattr(self.cache, "_hot_bytes", 0))


class MetricsEndpoint:
    """The HTTP endpoint (prometheus_client's own server, on a daemon thread)."""

    def __init__(self, httpd: WSGIServer, thread: threading.Thread):
        self._httpd, self._thread = httpd, thread
        self.port: int = httpd.server_port

    async def stop(self) -> None:
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def split_address(address: str) -> tuple[str, int]:
    """'HOST:PORT' (or '[v6]:PORT') -> (host, port); ValueError when it is not one."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"metrics address must be HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port)


def serve_metrics(metrics: Metrics, address: str) -> MetricsEndpoint:
    """Serve `metrics` over HTTP on address (port 0 picks a free one); OSError if it cannot
    bind."""
    host, port = split_address(address)
    httpd, thread = start_http_server(port, host, registry=metrics.registry)
    endpoint = MetricsEndpoint(httpd, thread)
    log.info("metrics on http://%s:%d/metrics", host, endpoint.port)
    return endpoint

