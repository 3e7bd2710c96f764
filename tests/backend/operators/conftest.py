"""Fixtures of the operator tests: the API over a real chain and store (SQLite and PostgreSQL)
with COPYVAULT_SECRETS_KEY and an encrypted guardian key set, a clock the operator checks read
(tests move it: each TOTP step works once), and operators of every role made on demand.

- `world` (module scope, one per backend): for the role matrix, whose cases each make their own
  callers and targets, so that they share one chain and one store.
- `ops` (per test, one per backend): a fresh chain and store.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backend.api.conftest import read_chain  # noqa: F401  (a module-scoped chain)
from tests.backend.conftest import BACKENDS, StoreFactory
from tests.backend.operators.helpers import OpsEnv, open_ops


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, read_chain, tmp_path_factory) -> Iterator[OpsEnv]:  # noqa: F811
    chain, _scenario = read_chain
    stores = StoreFactory(request.param, request, tmp_path_factory.mktemp("store"), [])
    try:
        with open_ops(chain, stores, tmp_path_factory.mktemp("ops")) as env:
            yield env
    finally:
        for cleanup in reversed(stores._cleanups):
            cleanup()


@pytest.fixture
def ops(anvil_chain, stores, tmp_path) -> Iterator[OpsEnv]:
    with open_ops(anvil_chain, stores, tmp_path) as env:
        yield env
