"""Fixtures of the platform-limits tests: one deployed chain per module, and real `copyvault serve`
processes (each its own OS process, as in production) over a store the test chooses."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.chain.node import start_anvil
from tests.backend.api.helpers import open_env
from tests.backend.conftest import Chain, StoreFactory, deploy_chain
from tests.utils.server_process import REPO_ROOT, _stop, _wait_healthy, server_env


@pytest.fixture(scope="module")
def platform_chain() -> Iterator[Chain]:
    node = start_anvil()
    try:
        yield deploy_chain(node)
    finally:
        node.stop()


@contextmanager
def platform_app(chain: Chain, stores: StoreFactory, folder: Path, **overrides: Any):
    """The app in-process (TestClient) with these settings."""
    with open_env(chain, stores, folder, **overrides) as env:
        yield env


@contextmanager
def serve_process(
    chain: Chain,
    url: str,
    folder: Path,
    *,
    env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    scheme: str = "http",
    verify: Any = True,
) -> Iterator[str]:
    """`copyvault serve --no-indexer` in a process of its own (tests/utils/server_process.py) over
    the migrated store at `url`; yields its base URL, stops it with SIGINT afterwards."""
    folder = folder / f"server-{secrets.token_hex(3)}"
    folder.mkdir()
    settings = {"COPYVAULT_AUTO_MIGRATE": "false"} | (env or {})
    environment = server_env(chain.node.url, chain.deployment, folder, url, None, settings)
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--no-indexer", *args],
            cwd=REPO_ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"{scheme}://127.0.0.1:{environment['COPYVAULT_API_PORT']}"
    try:
        with httpx.Client(base_url=base, timeout=5, verify=verify) as probe:
            _wait_healthy(probe, process, log)
        yield base
    finally:
        _stop(process)
