"""What request handlers depend on, as `Annotated` aliases (no global state in handlers).

The app's lifespan builds one `AppState` and stores it on `app.state.copyvault`; dependencies read
it from the request. Handlers declare e.g. `session: SessionDep` or `state: StateDep`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from backend.chain.client import ChainClient
from backend.chain.clock import ChainClock
from backend.chain.code_cache import CodePresence
from backend.chain.deploy import Deployment
from backend.config import Settings
from backend.indexer.indexer import Indexer

if TYPE_CHECKING:
    from backend.api.readiness import Readiness
    from backend.risk.service import RiskSystem


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # Sessions that only read (intake's checks, an intent's status): no transaction round trips
    # on PostgreSQL (backend/db/engine.py `reading_engine`). Never for a session that writes.
    read_sessions: sessionmaker[Session]
    deployment: Deployment
    # Retries with backoff: for work that must get through (the indexer's client is its own).
    client: ChainClient
    # No retries, short timeout: for request paths (health) that must answer quickly.
    quick_client: ChainClient
    # The chain's time for deadlines (from quick_client, refreshed about once a second).
    clock: ChainClock | None = None
    # Which accounts have code (EIP-1271 leaders), remembered for about two seconds.
    codes: CodePresence | None = None
    indexer: Indexer | None = None
    # Set when an intent is accepted, so an in-process relayer worker starts at once.
    relay_wakeup: threading.Event = field(default_factory=threading.Event)
    background: list = field(default_factory=list)
    # Health, readiness and /metrics read the store through this small pool of their own, so they
    # answer while every connection of `engine` is busy with requests.
    probe_engine: Engine | None = None
    readiness: Readiness | None = None
    # The indexer's and relayer workers' own engines (disposed with the state).
    worker_engines: list[Engine] = field(default_factory=list)
    # The risk engine (backend/risk/service.py): None when COPYVAULT_RISK_ENABLED is false.
    risk: RiskSystem | None = None

    @property
    def probes(self) -> Engine:
        return self.probe_engine if self.probe_engine is not None else self.engine

    def dispose(self) -> None:
        for engine in (self.engine, self.probe_engine, *self.worker_engines):
            if engine is not None:
                engine.dispose()


# Dependencies that only read memory are `async def`: FastAPI runs a plain `def` dependency in its
# thread pool, a hop that cost more than the work (six hops per intent before; bench/intake.py).

# Threads for blocking work of `async def` handlers (`run_blocking`); as many as FastAPI's own pool.
BLOCKING_THREADS = 40
_blocking_pool: ThreadPoolExecutor | None = None
_blocking_pool_guard = threading.Lock()
P = ParamSpec("P")
R = TypeVar("R")


async def run_blocking(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """`function(*args, **kwargs)` in a thread of a plain executor, in the caller's context
    variables: what FastAPI does for a plain `def` handler, at a fraction of the CPU (anyio's
    capacity limiter, cancel scopes and task lookups were about 12 % of an intent's CPU). Like
    FastAPI's hop, the function runs to its end even if the client leaves."""
    global _blocking_pool
    if _blocking_pool is None:
        with _blocking_pool_guard:
            if _blocking_pool is None:
                _blocking_pool = ThreadPoolExecutor(BLOCKING_THREADS, "copyvault-api")
    context = contextvars.copy_context()
    call = functools.partial(context.run, function, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_blocking_pool, call)


async def get_state(request: Request) -> AppState:
    return request.app.state.copyvault


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[Session]:
    """A session for the request. Opening one does no I/O (it connects on first use, in the
    handler's thread); closing it returns the connection to the pool, which may talk to the store,
    so that runs in the thread pool."""
    session = state.sessions()
    try:
        yield session
    finally:
        await run_in_threadpool(session.close)


SessionDep = Annotated[Session, Depends(get_session)]


async def get_settings(state: StateDep) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
