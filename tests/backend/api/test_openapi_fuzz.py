"""Schemathesis over the app's own OpenAPI schema: every operation gets generated requests, valid
and invalid (positive and negative modes), and none may answer a 5xx. Responses must also match the
documented schemas and status codes.

Operations with path parameters are fuzzed twice: with generated values (mostly unknown vaults,
leaders and digests: 404s and 422s) and with real ones from the indexed scenario, so the query
strings and bodies reach the services (proposal checks, cursors, valuations) too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.api.app import create_app
from backend.chain.actions import HOUR
from backend.indexer.indexer import Indexer, IndexerConfig
from tests.backend.api.helpers import api_settings, withdrawal_body
from tests.backend.conftest import StoreFactory

EXAMPLES = 20
# The stream never ends by itself: each valid request is cut after this many seconds.
STREAM_TIMEOUT = 0.5
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzz_target(read_chain, request, tmp_path_factory) -> Iterator[tuple[Any, dict[str, str]]]:
    """The app on an indexed SQLite store (its lifespan run by Schemathesis' ASGI client), and
    real values for the path parameters."""
    chain, scenario = read_chain
    stores = StoreFactory("sqlite", request, tmp_path_factory.mktemp("fuzz"), [])
    url = stores.url()
    engine = stores.engine(url)
    Indexer(
        engine, chain.client, chain.deployment, config=IndexerConfig(confirmations=0)
    ).sync_once()
    app = create_app(api_settings(chain, tmp_path_factory.mktemp("api"), url))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    vault = scenario["vaults"][2]  # 1-of-2, owners[1] and owners[2]; next nonce 1
    body = withdrawal_body(
        chain,
        vault,
        chain.owners[1],
        token=chain.actions.token("USDC"),
        amount=1,
        to=chain.depositor.address,
        nonce=1,
        deadline=int(time.time()) + HOUR,
    )
    with asgi.get_client(app) as client:
        created = client.post(f"/v1/vaults/{vault}/proposals/withdrawals", json=body)
        assert created.status_code == 201, created.text
    real = {"vault": vault, "leader": chain.leader.address, "digest": created.json()["digest"]}
    try:
        yield schema, real
    finally:
        asgi.shutdown_lifespans()
        for cleanup in reversed(stores._cleanups):
            cleanup()


def _fuzz(operation, mode, path_parameters: dict[str, str] | None, failures: list[str]) -> None:
    streaming = operation.path.endswith("/stream")
    kwargs = {"timeout": STREAM_TIMEOUT} if streaming else {}

    @settings(
        max_examples=5 if streaming else EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case) -> None:
        try:
            case.call_and_validate(checks=CHECKS, **kwargs)
        except Exception as exc:  # collected: one report for every operation
            failures.append(f"{operation.method.upper()} {operation.path} ({mode}): {exc}")
            if len(failures) > 50:
                raise

    try:
        run()
    except Unsatisfiable:
        # Nothing to generate in this mode (no parameters to break): nothing to test.
        assert mode == schemathesis.GenerationMode.NEGATIVE, operation.path


def test_openapi__generated_requests__never_a_server_error(fuzz_target):
    schema, real = fuzz_target
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        fixed = {k: v for k, v in real.items() if "{" + k + "}" in operation.path}
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            _fuzz(operation, mode, None, failures)
            if fixed:
                _fuzz(operation, mode, fixed, failures)
    assert operations >= 14
    assert not failures, "\n\n".join(dict.fromkeys(failures))
