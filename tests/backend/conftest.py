"""Fixtures of the backend tests: stores on both backends (`stores`, `sqlite_stores`), and
`anvil_chain`, a private anvil with copyvault deployed by backend/chain/deploy.py (independent of
Ape, as the backend is at runtime; named so as not to shadow Ape's own `chain` fixture).

PostgreSQL: a fresh database `copyvault_test_<random>` per test session on the server at
COPYVAULT_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test), dropped at
the end; each test gets its own schema in it. If the server is unreachable, every PostgreSQL
variant FAILS (it is never skipped silently).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL, make_url

from backend.chain.actions import Actions, Key
from backend.chain.client import ChainClient
from backend.chain.deploy import Deployment, deploy_system
from backend.chain.node import AnvilNode, start_anvil
from backend.chain.tx import UnlockedSender
from backend.db.engine import create_store_engine
from backend.db.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "COPYVAULT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")


# ----------------------------------------------------------------------------- stores


def _psycopg_conninfo(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_database() -> Iterator[URL]:
    """A PostgreSQL database for this session, dropped at the end."""
    import psycopg

    admin = make_url(PG_ADMIN_URL)
    try:
        conn = psycopg.connect(_psycopg_conninfo(admin), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {admin.render_as_string(hide_password=True)} "
            f"({exc}): start it (.ci/run shows how) or point COPYVAULT_TEST_POSTGRES_URL at one. "
            "The PostgreSQL tests are never skipped."
        )
    name = f"copyvault_test_{secrets.token_hex(6)}"
    conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(drivername="postgresql+psycopg", database=name)
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@dataclass
class StoreFactory:
    """Fresh, empty stores (URLs) of one backend; everything is removed after the test."""

    backend: str
    _request: pytest.FixtureRequest
    _tmp: Path
    _cleanups: list

    def url(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self._tmp / f'store-{secrets.token_hex(4)}.db'}"
        import psycopg

        database: URL = self._request.getfixturevalue("pg_database")
        schema = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(_psycopg_conninfo(database), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')

        def drop() -> None:
            with psycopg.connect(_psycopg_conninfo(database), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

        self._cleanups.append(drop)
        url = database.update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    def engine(self, url: str | None = None, *, migrate: bool = True) -> Engine:
        url = url or self.url()
        if migrate:
            upgrade(url)
        engine = create_store_engine(url)
        self._cleanups.append(engine.dispose)
        return engine


@pytest.fixture
def stores(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Make fresh stores of the parametrised backend (sqlite and postgresql)."""
    factory = StoreFactory(backend, request, tmp_path, [])
    yield factory
    for cleanup in reversed(factory._cleanups):
        cleanup()


@contextmanager
def module_stores(
    request: pytest.FixtureRequest, tmp_path_factory, backend: str | None = None
) -> Iterator[StoreFactory]:
    """Stores of `backend` (default: the fixture's `request.param`) for a fixture wider than one
    test, removed at its end."""
    factory = StoreFactory(backend or request.param, request, tmp_path_factory.mktemp("store"), [])
    try:
        yield factory
    finally:
        for cleanup in reversed(factory._cleanups):
            cleanup()


@pytest.fixture
def sqlite_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    factory = StoreFactory("sqlite", request, tmp_path, [])
    yield factory
    for cleanup in reversed(factory._cleanups):
        cleanup()


# ----------------------------------------------------------------------------- chain


@dataclass
class Chain:
    """A private anvil with copyvault deployed; actors named by role (anvil dev accounts)."""

    node: AnvilNode
    client: ChainClient
    deployment: Deployment
    actions: Actions
    keys: list[Key]

    @property
    def deployer(self) -> Key:  # also the platform admin here
        return self.keys[0]

    @property
    def leader(self) -> Key:
        return self.keys[2]

    @property
    def relayer(self) -> Key:
        return self.keys[3]

    @property
    def guardian(self) -> Key:
        return self.keys[4]

    @property
    def depositor(self) -> Key:
        return self.keys[5]

    @property
    def owners(self) -> list[Key]:
        return self.keys[6:9]

    @property
    def delegate(self) -> Key:
        return self.keys[9]

    def rpc(self, method: str, *params: object) -> object:
        return self.client.request(method, list(params))

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", hex(blocks))

    def head(self) -> int:
        return self.client.block_number()


def deploy_chain(node: AnvilNode) -> Chain:
    client = ChainClient(node.url, retries=2, backoff_initial=0.05)
    keys = [Key.anvil(i) for i in range(10)]
    deployment = deploy_system(client, UnlockedSender(client, keys[0].address))
    return Chain(node, client, deployment, Actions(client, deployment), keys)


@pytest.fixture(scope="module")
def admitted_chain() -> Iterator[Chain]:
    """A fresh chain for the module whose leader is admitted (registered, followed by a vault
    holding WETH): what intake's admission asks of a leader."""
    from tests.backend.helpers import admit_leader

    node = start_anvil()
    try:
        chain = deploy_chain(node)
        admit_leader(chain)
        yield chain
    finally:
        node.stop()


@pytest.fixture
def anvil_chain() -> Iterator[Chain]:
    """A fresh anvil (its own port) with the system deployed; stopped after the test."""
    node = start_anvil()
    try:
        yield deploy_chain(node)
    finally:
        node.stop()
