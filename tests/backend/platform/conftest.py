"""Fixtures of the platform-limits tests: one deployed chain per module, and real `copyvault serve`
processes (each its own OS process, as in production) over a store the test chooses."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.chain.node import free_port, start_anvil
from tests.backend.api.helpers import open_env
from tests.backend.conftest import Chain, StoreFactory, deploy_chain


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
    """`copyvault serve --no-indexer` in a process of its own over the (migrated) store at `url`;
    yields its base URL and stops it (SIGINT, as an operator would) afterwards."""
    port = free_port()
    deployment_file = folder / f"deployment-{secrets.token_hex(3)}.json"
    chain.deployment.save(deployment_file)
    environment = os.environ | {
        "COPYVAULT_DATABASE_URL": url,
        "COPYVAULT_DEPLOYMENT_FILE": str(deployment_file),
        "COPYVAULT_RPC_URL": chain.node.url,
        "COPYVAULT_AUTO_MIGRATE": "false",
        "COPYVAULT_DATA_DIR": str(folder / "data"),
        "COPYVAULT_CONFIRMATIONS": "0",
    }
    environment |= env or {}
    log = folder / f"serve-{port}.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--port", str(port), "--no-indexer"]
            + list(args),
            cwd=folder,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"{scheme}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/v1/health", timeout=2, verify=verify).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start:\n" + log.read_text()
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
