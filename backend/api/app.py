"""The FastAPI application: `create_app(settings)`.

The lifespan opens the store (migrating it first unless COPYVAULT_AUTO_MIGRATE=false), reads the
deployment file, and runs the indexer in a background thread of the same process (unless
COPYVAULT_INDEXER_ENABLED=false, e.g. when the indexer runs as `copyvault index` elsewhere). The
indexer is stopped and joined on shutdown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from backend.api.deps import AppState
from backend.api.routes import health
from backend.api.setup import install_api
from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment
from backend.config import Settings
from backend.db.engine import create_store_engine, session_factory
from backend.db.migrate import check_current, upgrade
from backend.indexer.indexer import Indexer, IndexerConfig, run_in_thread

log = logging.getLogger(__name__)

API_PREFIX = "/v1"
INDEXER_JOIN_SECONDS = 30.0
HEALTH_RPC_TIMEOUT = 3.0


def build_state(settings: Settings) -> AppState:
    """Open the store and the node clients for `settings` (no threads started)."""
    url = settings.sqlalchemy_url
    if settings.auto_migrate:
        upgrade(url)
    engine = create_store_engine(url)
    check_current(engine)
    deployment = Deployment.load(settings.deployment_file)
    client = ChainClient.from_settings(settings)
    quick = ChainClient(settings.rpc_url, timeout=HEALTH_RPC_TIMEOUT, retries=0)
    indexer = None
    if settings.indexer_enabled:
        artifacts = None
        if settings.artifacts_file is not None:
            from backend.chain.artifacts import load

            artifacts = load(settings.artifacts_file)
        indexer = Indexer(
            engine,
            ChainClient.from_settings(settings),
            deployment,
            config=IndexerConfig.from_settings(settings),
            artifacts=artifacts,
        )
    return AppState(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        deployment=deployment,
        client=client,
        quick_client=quick,
        indexer=indexer,
    )


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = build_state(settings)
        app.state.copyvault = state
        stop = None
        thread = None
        if state.indexer is not None:
            thread, stop = run_in_thread(state.indexer)
            log.info("indexer started for chain %d", state.deployment.chain_id)
        try:
            yield
        finally:
            if stop is not None and thread is not None:
                stop.set()
                thread.join(INDEXER_JOIN_SECONDS)
                if thread.is_alive():
                    log.warning("the indexer did not stop within %.0fs", INDEXER_JOIN_SECONDS)
            state.engine.dispose()

    app = FastAPI(
        title="copyvault",
        version="0.1.0",
        summary="Security-first on-chain copy trading: indexer, relayer and read API.",
        lifespan=lifespan,
    )
    app.include_router(health.router, prefix=API_PREFIX)
    install_api(app, settings, prefix=API_PREFIX)
    return app
