"""Fixtures of the API tests: the app over a real anvil chain with real indexed events, on SQLite
and on PostgreSQL.

The app runs without its in-process indexer (COPYVAULT_INDEXER_ENABLED=false): tests index with
their own `Indexer` on the same store (`api.index()`), so what the API sees is exactly what was
indexed when it is asked, with no polling.

- `read_api` (module scope, one per backend): one chain where `run_scenario` emitted every kind of
  event, indexed; for tests that only read.
- `api` (per test, one per backend): a fresh chain and store; for tests that write (proposals)
  or change the chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from backend.chain.node import start_anvil
from tests.backend.api.helpers import ApiEnv, open_env
from tests.backend.conftest import BACKENDS, Chain, deploy_chain, module_stores
from tests.backend.helpers import run_scenario

# ----------------------------------------------------------------------------- read-only world


@pytest.fixture(scope="module")
def read_chain() -> Iterator[tuple[Chain, dict[str, Any]]]:
    """One chain per test module with every kind of event (see tests/backend/helpers.py)."""
    node = start_anvil()
    try:
        chain = deploy_chain(node)
        yield chain, run_scenario(chain)
    finally:
        node.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def read_api(request, read_chain, tmp_path_factory) -> Iterator[ApiEnv]:
    chain, scenario = read_chain
    with (
        module_stores(request, tmp_path_factory) as stores,
        open_env(chain, stores, tmp_path_factory.mktemp("api"), scenario) as env,
    ):
        yield env


# ----------------------------------------------------------------------------- per test


@pytest.fixture
def api(anvil_chain, stores, tmp_path) -> Iterator[ApiEnv]:
    with open_env(anvil_chain, stores, tmp_path) as env:
        yield env
