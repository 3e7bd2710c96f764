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
  also when the indexer runs in another process;
- readiness, read at scrape time (`ReadinessCollector`): `copyvault_ready` (0/1),
  `copyvault_not_ready{reason}` and `copyvault_index_lag_blocks` (the node's head minus the
  store's cursor, whichever process indexes);
- relayer metrics, read at scrape time from the store's relay tables (`RelayCollector`), so they
  hold when the relayer runs in another process (`serve --workers`, `copyvault relay`):
  `copyvault_relayer_intents{status}`, `copyvault_relayer_oldest_pending_intent_age_seconds`,
  `copyvault_relayer_inflight_transactions`, `copyvault_relayer_replacements_total`,
  `copyvault_relayer_nonce_gaps_total`, `copyvault_relayer_degraded`,
  `copyvault_relayer_last_mined_batch_timestamp_seconds`, `copyvault_relayer_paused` (an
  operator's pause flag).

Every store read goes through the probe engine (never the request pool), so a scrape answers while
requests hold every API connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection, func, select

from backend.db.models import Event, IndexerCursor, Reorg
from backend.db.relay_models import (
    BATCH_STATUSES,
    INTENT_STATUSES,
    Intent,
    RelayBatch,
    RelaySender,
    RelayTransaction,
)
from backend.relayer.controls import relayer_paused

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
            with state.probes.connect() as conn:
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


class ReadinessCollector(Collector):
    """What /v1/ready would answer, at scrape time."""

    def __init__(self, get_state: Callable[[], AppState | None]):
        self._get_state = get_state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = self._get_state()
        if state is None or state.readiness is None:
            return
        verdict = state.readiness.check()
        yield GaugeMetricFamily(
            "copyvault_ready", "1 when /v1/ready answers 200.", value=1 if verdict.ready else 0
        )
        reasons = GaugeMetricFamily(
            "copyvault_not_ready", "1 for each reason the server is not ready.", labels=["reason"]
        )
        for reason in verdict.reasons:
            reasons.add_metric([reason.code], 1)
        yield reasons
        if verdict.lag is not None:
            yield GaugeMetricFamily(
                "copyvault_index_lag_blocks",
                "Blocks between the node's head and the store's last indexed block.",
                value=verdict.lag,
            )


# Intents the relayer still owes an outcome.
PENDING_INTENT_STATUSES = ("accepted", "planning", "relaying")


@dataclass(frozen=True)
class RelayFigures:
    intents_by_status: dict[str, int]
    batches_by_status: dict[str, int]
    oldest_pending: datetime | None
    inflight: int
    transactions: int
    batches_with_transactions: int
    nonce_gaps: int
    degraded: bool
    last_mined: datetime | None


def read_relay_figures(conn: Connection, chain_id: int) -> RelayFigures:
    """The relayer's state as the store holds it (one short statement per figure)."""
    it, bt, tt, st = (
        Intent.__table__,
        RelayBatch.__table__,
        RelayTransaction.__table__,
        RelaySender.__table__,
    )
    by_status = dict(
        conn.execute(
            select(it.c.status, func.count()).where(it.c.chain_id == chain_id).group_by(it.c.status)
        ).all()
    )
    batches_by_status = dict(
        conn.execute(
            select(bt.c.status, func.count()).where(bt.c.chain_id == chain_id).group_by(bt.c.status)
        ).all()
    )
    oldest = conn.scalar(
        select(func.min(it.c.received_at)).where(
            it.c.chain_id == chain_id, it.c.status.in_(PENDING_INTENT_STATUSES)
        )
    )
    inflight = conn.scalar(
        select(func.count())
        .select_from(bt)
        .where(bt.c.chain_id == chain_id, bt.c.status == "signed")
    )
    transactions, batches = conn.execute(
        select(func.count(), func.count(func.distinct(tt.c.batch_id)))
        .select_from(tt.join(bt, bt.c.id == tt.c.batch_id))
        .where(bt.c.chain_id == chain_id)
    ).one()
    gaps, degraded = conn.execute(
        select(
            func.coalesce(func.sum(st.c.nonce_gaps), 0),
            func.count(st.c.degraded_reason),
        ).where(st.c.chain_id == chain_id)
    ).one()
    last_mined = conn.scalar(
        select(func.max(bt.c.updated_at)).where(bt.c.chain_id == chain_id, bt.c.status == "mined")
    )
    return RelayFigures(
        # Every known status (0 when none), and any status a newer relayer writes.
        intents_by_status={status: 0 for status in INTENT_STATUSES} | by_status,
        batches_by_status={status: 0 for status in BATCH_STATUSES} | batches_by_status,
        oldest_pending=_utc(oldest),
        inflight=inflight or 0,
        transactions=transactions or 0,
        batches_with_transactions=batches or 0,
        nonce_gaps=int(gaps or 0),
        degraded=bool(degraded),
        last_mined=_utc(last_mined),
    )


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class RelayCollector(Collector):
    """Relayer metrics from the store's relay tables, at scrape time."""

    def __init__(self, get_state: Callable[[], AppState | None]):
        self._get_state = get_state

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        state = self._get_state()
        if state is None:
            return
        try:
            with state.probes.connect() as conn:
                figures = read_relay_figures(conn, state.deployment.chain_id)
                paused = relayer_paused(conn, state.deployment.chain_id)
        except Exception as exc:  # a scrape reports what it can; the store may be down
            log.warning("metrics: the relay tables cannot be read: %s", exc)
            return
        yield from _relay_families(figures, datetime.now(UTC))
        yield GaugeMetricFamily(
            "copyvault_relayer_paused",
            "1 while an operator has paused the relayer (no new batches; in-flight ones finish).",
            value=1 if paused else 0,
        )


def _relay_families(
    figures: RelayFigures, now: datetime
) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    intents = GaugeMetricFamily(
        "copyvault_relayer_intents", "Accepted intents by relay status.", labels=["status"]
    )
    for status, count in figures.intents_by_status.items():
        intents.add_metric([status], count)
    yield intents
    batches = GaugeMetricFamily(
        "copyvault_relayer_batches",
        "Relay batches by status: `included` ones wait for their confirmations, `reorged` ones "
        "were undone by a reorg and their vaults planned again.",
        labels=["status"],
    )
    for status, count in figures.batches_by_status.items():
        batches.add_metric([status], count)
    yield batches
    age = (now - figures.oldest_pending).total_seconds() if figures.oldest_pending else 0.0
    yield GaugeMetricFamily(
        "copyvault_relayer_oldest_pending_intent_age_seconds",
        "Age of the oldest intent not yet done or rejected (0 when there is none).",
        value=max(0.0, age),
    )
    yield GaugeMetricFamily(
        "copyvault_relayer_inflight_transactions",
        "Batches with a signed or broadcast transaction not yet mined (replacements of one "
        "batch share its nonce and count once).",
        value=figures.inflight,
    )
    replacements = CounterMetricFamily(
        "copyvault_relayer_replacements",
        "Transactions signed beyond the first of their batch (fee bumps).",
    )
    replacements.add_metric([], figures.transactions - figures.batches_with_transactions)
    yield replacements
    gaps = CounterMetricFamily(
        "copyvault_relayer_nonce_gaps", "Nonce gaps found between the store and the node."
    )
    gaps.add_metric([], figures.nonce_gaps)
    yield gaps
    yield GaugeMetricFamily(
        "copyvault_relayer_degraded",
        "1 while a relayer sender cannot make progress on its own.",
        value=1 if figures.degraded else 0,
    )
    if figures.last_mined is not None:
        yield GaugeMetricFamily(
            "copyvault_relayer_last_mined_batch_timestamp_seconds",
            "When the last batch was recorded as mined (unix seconds).",
            value=figures.last_mined.timestamp(),
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
        self.registry.register(ReadinessCollector(get_state))
        self.registry.register(RelayCollector(get_state))

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in KNOWN_METHODS else "OTHER"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)
