"""The FastAPI application: `create_app(settings)`.

The lifespan opens the store (migrating it first unless COPYVAULT_AUTO_MIGRATE=false), reads the
deployment file, and runs the indexer in a background thread of the same process (unless
COPYVAULT_INDEXER_ENABLED=false, e.g. when the indexer runs as `copyvault index` elsewhere), and a
relayer worker when COPYVAULT_RELAYER_ENABLED=true (woken at once by each accepted intent; more
workers run with `copyvault relay`). Both are stopped and joined on shutdown.

Pools: requests use the API's engine (bounded: a request waits at most COPYVAULT_API_POOL_TIMEOUT
for a connection, PostgreSQL statements and locks are time-limited); health, readiness and /metrics
use a small probe engine of their own, and the indexer and each relayer worker have their own
engines, so no burst of requests can delay indexing, relaying or the probes.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from backend.api.deps import AppState
from backend.api.readiness import Readiness
from backend.api.routes import health
from backend.api.setup import install_api
from backend.api.webapp import install_docs, install_webapp
from backend.audit.anchorer import run_in_thread as run_anchorer_in_thread
from backend.chain.client import ChainClient
from backend.chain.clock import ChainClock
from backend.chain.code_cache import CodePresence
from backend.chain.deploy import Deployment
from backend.chain.tx import SignerSender
from backend.config import Settings
from backend.db.engine import StoreLimits, create_store_engine, reading_engine, session_factory
from backend.db.migrate import check_current, upgrade
from backend.indexer.indexer import Indexer, IndexerConfig, run_in_thread
from backend.relayer.worker import run_in_thread as run_relayer_in_thread

log = logging.getLogger(__name__)

API_PREFIX = "/v1"
INDEXER_JOIN_SECONDS = 30.0
HEALTH_RPC_TIMEOUT = 3.0
# The probes (health, readiness, /metrics) hold at most this many connections, and give up fast.
PROBE_LIMITS = StoreLimits(
    pool_size=2,
    max_overflow=2,
    pool_timeout=2.0,
    statement_timeout_ms=2_000,
    lock_timeout_ms=1_000,
    busy_timeout_ms=2_000,
)


def api_store_limits(settings: Settings) -> StoreLimits:
    return StoreLimits(
        pool_size=settings.api_pool_size,
        max_overflow=settings.api_pool_overflow,
        pool_timeout=settings.api_pool_timeout,
        statement_timeout_ms=settings.api_statement_timeout_ms,
        lock_timeout_ms=settings.api_lock_timeout_ms,
        busy_timeout_ms=settings.api_busy_timeout_ms,
    )


def build_state(settings: Settings) -> AppState:
    """Open the store and the node clients for `settings` (no threads started)."""
    url = settings.sqlalchemy_url
    if settings.auto_migrate:
        upgrade(url)
    engine = create_store_engine(url, api_store_limits(settings))
    check_current(engine)
    probe_engine = create_store_engine(url, PROBE_LIMITS)
    deployment = Deployment.load(settings.deployment_file)
    client = ChainClient.from_settings(settings)
    quick = ChainClient(settings.rpc_url, timeout=HEALTH_RPC_TIMEOUT, retries=0)
    indexer = None
    worker_engines = []
    if settings.indexer_enabled:
        artifacts = _artifacts(settings) if settings.artifacts_file is not None else None
        indexer_engine = create_store_engine(url)  # its own pool: never waits on requests
        worker_engines.append(indexer_engine)
        indexer = Indexer(
            indexer_engine,
            ChainClient.from_settings(settings),
            deployment,
            config=IndexerConfig.from_settings(settings),
            artifacts=artifacts,
        )
    return AppState(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        read_sessions=session_factory(reading_engine(engine)),
        deployment=deployment,
        client=client,
        quick_client=quick,
        clock=ChainClock(quick),
        codes=CodePresence(quick),
        indexer=indexer,
        probe_engine=probe_engine,
        readiness=Readiness.from_settings(settings, probe_engine, quick, deployment),
        worker_engines=worker_engines,
    )


def build_relayer(settings: Settings, state: AppState, *, worker_id: str | None = None):
    """A relayer worker for the app's store and deployment, signing with the encrypted key. It
    gets an engine of its own (disposed with the state): it never waits on the API's pool."""
    from backend.relayer.worker import RelayerConfig, RelayerWorker
    from backend.security.relayer_key import load_relayer_signer

    client = ChainClient.from_settings(settings)
    engine = create_store_engine(settings.sqlalchemy_url)
    state.worker_engines.append(engine)
    return RelayerWorker(
        engine,
        client,
        state.deployment,
        load_relayer_signer(settings),
        config=RelayerConfig.from_settings(settings),
        artifacts=_artifacts(settings),
        clock=ChainClock(client),
        worker_id=worker_id,
    )


def build_anchorer(settings: Settings, state: AppState):
    """The audit anchorer for the app's deployment, with an engine of its own (disposed with the
    state), signing with its encrypted key (COPYVAULT_ANCHORER_KEY_FILE)."""
    from backend.audit.anchorer import Anchorer, AnchorPolicy
    from backend.audit.anchors import AnchorContract
    from backend.security.anchorer_key import load_anchorer_signer

    client = ChainClient.from_settings(settings)
    engine = create_store_engine(settings.sqlalchemy_url)
    state.worker_engines.append(engine)
    return Anchorer(
        engine,
        client,
        AnchorContract(client, state.deployment.audit_anchor, _artifacts(settings)),
        SignerSender(client, load_anchorer_signer(settings)),
        chain_id=state.deployment.chain_id,
        policy=AnchorPolicy.from_settings(settings),
    )


def _artifacts(settings: Settings):
    from backend.chain.artifacts import load

    return load(settings.artifacts_file)


def create_app_from_environment() -> FastAPI:
    """The app for COPYVAULT_* settings: what each process of `copyvault serve --workers N` runs."""
    from backend.api.affinity import pin_api_process
    from backend.config import load_settings

    settings = load_settings()
    if settings.pins_api_workers:
        pin_api_process(settings.data_dir / "run")
    return create_app(settings, server_process=True)


def create_app(settings: Settings, *, server_process: bool = False) -> FastAPI:
    """The app for `settings`. `server_process`: this process serves only this app (`copyvault
    serve`), so what start-up built may be frozen out of the garbage collector's reach; not for
    tests and embedders that create many apps in one process (frozen cycles are never freed)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = build_state(settings)
        app.state.copyvault = state
        # What start-up built (modules, ABIs, the app, pools) lives as long as the process: move it
        # out of the collector's reach, or every full collection walks all of it again while
        # requests wait (a pause in the latency tail; bench/intake.py).
        if server_process:
            gc.collect()
            gc.freeze()
        limiter = getattr(app.state, "rate_limiter", None)
        if limiter is not None:
            limiter.start(settings.sqlalchemy_url)  # shares its counts with the other processes
        threads: list[tuple[str, threading.Thread, threading.Event]] = []
        if state.indexer is not None:
            thread, stop = run_in_thread(state.indexer)
            threads.append(("indexer", thread, stop))
            log.info("indexer started for chain %d", state.deployment.chain_id)
        if settings.risk_enabled:
            from backend.risk.service import build_risk

            state.risk = build_risk(settings, state)
            state.risk.start()
        if settings.relayer_enabled:
            worker = build_relayer(settings, state)
            thread, stop = run_relayer_in_thread(worker, state.relay_wakeup)
            threads.append(("relayer", thread, stop))
            log.info("relayer started: %r", worker)
        if settings.anchorer_enabled:
            anchorer = build_anchorer(settings, state)
            thread, stop = run_anchorer_in_thread(anchorer)
            threads.append(("anchorer", thread, stop))
            log.info("audit anchorer started: %r", anchorer)
        try:
            yield
        finally:
            for _, _, stop in threads:
                stop.set()
            for name, thread, _ in threads:
                thread.join(INDEXER_JOIN_SECONDS)
                if thread.is_alive():
                    log.warning("the %s did not stop within %.0fs", name, INDEXER_JOIN_SECONDS)
            if limiter is not None:
                limiter.stop()
            if state.risk is not None:
                state.risk.stop()
            state.dispose()

    app = FastAPI(
        title="copyvault",
        version="0.1.0",
        summary="Security-first on-chain copy trading: indexer, relayer and read API.",
        lifespan=lifespan,
        # Swagger UI from local files instead (install_docs); ReDoc has no offline copy here.
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(health.router, prefix=API_PREFIX)
    install_api(app, settings, prefix=API_PREFIX)
    install_docs(app, settings)
    install_webapp(app, settings)  # last: its route matches every other path
    return app
