"""Prometheus metrics of the API process, served at GET /metrics.

One `CollectorRegistry` per app (never prometheus_client's global one), so several apps in one
process (tests) do not collide. Two sources:

- request metrics, recorded by `RequestMetricsMiddleware`:
  `copyvault_http_requests_total{method,route,status}` and
  `copyvault_http_request_duration_seconds{method,route}` (the route template, never the raw path,
  so label values stay bounded);
- index metrics, read at scrape time (`IndexCollector`): the in-process indexer's counters
  (`copyvault_indexer_events_indexed_total`, `copyvault_indexer_reorgs_handled_total`,
  `copyvault_indexer_errors_total`, `copyvault_indexer_running`), its last seen chain head and
  cursor, the lag between them (`copyvault_indexer_lag_blocks`), and the store's own totals
  (`copyvault_store_events`, `copyvault_store_reorgs`, `copyvault_store_cursor_block`), which hold
  also when the indexer runs in another process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from backend.db.models import Event, IndexerCursor, Reorg

if TYPE_CHECKING:
    from backend.api.deps import AppState

log = logging.getLogger(__name__)

# Methods labelled as themselves; any other method a client invents is counted as "OTHER".
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class IndexCollector(Collector):
    """Index metrics computed when Prometheus scrapes (nothing to keep in step)."""

    def __init__(self, get_state: Callable[[], AppState | None]):
        self._get_state = get_state

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        state = self._get_state()
        if state is None:  # before the app started
            return
        # The store first, the in-process counters after: the counters then include at least what
        # the store showed (the indexer counts a range before committing it).
        chain_id = state.deployment.chain_id
        try:
            with state.engine.connect() as conn:
                stored_events = conn.scalar(
                    select(func.count()).select_from(Event).where(Event.chain_id == chain_id)
                )
                stored_reorgs = conn.scalar(
                    select(func.count()).select_from(Reorg).where(Reorg.chain_id == chain_id)
                )
                cursor = conn.execute(
                    select(IndexerCursor.block_number, IndexerCursor.start_block).where(
                        IndexerCursor.chain_id == chain_id
                    )
                ).first()
            store_up = True
        except Exception as exc:  # a scrape reports what it can; the store may be down
            log.warning("metrics: the store cannot be read: %s", exc)
            store_up, stored_events, stored_reorgs, cursor = False, None, None, None
        yield GaugeMetricFamily(
            "copyvault_store_up", "1 when the store answers.", value=1 if store_up else 0
        )

        stats = state.indexer.stats if state.indexer is not None else None
        events = CounterMetricFamily(
            "copyvault_indexer_events_indexed",
            "Events the in-process indexer wrote since the process started.",
        )
        events.add_metric([], stats.events if stats else 0)
        yield events
        reorgs = CounterMetricFamily(
            "copyvault_indexer_reorgs_handled",
            "Reorganisations the in-process indexer rolled back since the process started.",
        )
        reorgs.add_metric([], stats.reorgs if stats else 0)
        yield reorgs
        errors = CounterMetricFamily(
            "copyvault_indexer_errors", "Failed sync attempts of the in-process indexer."
        )
        errors.add_metric([], stats.errors if stats else 0)
        yield errors
        running = GaugeMetricFamily(
            "copyvault_indexer_running", "1 when the in-process indexer loop is running."
        )
        running.add_metric([], 1 if stats and stats.running else 0)
        yield running
        head = stats.head if stats is not None else None
        if head is not None:
            yield GaugeMetricFamily(
                "copyvault_chain_head_block", "Latest block the indexer saw.", value=head
            )
        if not store_up:
            return
        yield GaugeMetricFamily(
            "copyvault_store_events", "Rows in the events table.", value=stored_events or 0
        )
        yield GaugeMetricFamily(
            "copyvault_store_reorgs",
            "Reorganisations recorded in the store.",
            value=stored_reorgs or 0,
        )
        if cursor is not None and cursor[0] >= cursor[1]:
            yield GaugeMetricFamily(
                "copyvault_store_cursor_block", "Last indexed block.", value=cursor[0]
            )
            if head is not None:
                yield GaugeMetricFamily(
                    "copyvault_indexer_lag_blocks",
                    "Blocks between the chain head and the last indexed block.",
                    value=max(0, head - cursor[0]),
                )


class ApiMetrics:
    """The app's registry and the request metrics the middleware records."""

    def __init__(self, get_state: Callable[[], AppState | None]):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "copyvault_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "copyvault_http_request_duration_seconds",
            "Time to answer HTTP requests (streams: their whole duration).",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(IndexCollector(get_state))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in KNOWN_METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
