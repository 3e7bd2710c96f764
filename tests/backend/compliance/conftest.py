"""Fixtures of the compliance tests: the operators' API (both stores) over a chain shared by a
module, with a compliance operator signed in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.backend.conftest import BACKENDS, Chain, StoreFactory
from tests.backend.intents.conftest import IntakeEnv
from tests.backend.operators.helpers import Op, OpsEnv, open_ops

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class ComplianceEnv:
    ops: OpsEnv
    officer: Op  # a signed-in compliance operator

    @property
    def chain(self) -> Chain:
        return self.ops.chain

    @property
    def intake(self) -> IntakeEnv:
        return IntakeEnv(self.ops.api)

    def call(self, method: str, path: str, op: Op | None = None, **kwargs: Any) -> Any:
        return self.ops.call(method, "/v1/operator/compliance" + path, op or self.officer, **kwargs)


@contextmanager
def compliance_env(
    request, chain: Chain, tmp_path_factory, backend: str, **settings: Any
) -> Iterator[ComplianceEnv]:
    stores = StoreFactory(backend, request, tmp_path_factory.mktemp("store"), [])
    try:
        with open_ops(chain, stores, tmp_path_factory.mktemp("ops"), **settings) as ops:
            yield ComplianceEnv(ops, ops.signed_in("compliance"))
    finally:
        for cleanup in reversed(stores._cleanups):
            cleanup()


@pytest.fixture(scope="module", params=BACKENDS)
def module_backend(request) -> str:
    return request.param
