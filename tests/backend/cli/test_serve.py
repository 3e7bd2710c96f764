"""`copyvault serve`: the API with the indexer in-process. `serve --local` needs nothing else:
it starts anvil, deploys, and serves on a fresh SQLite store (the issue's acceptance test)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.chain.actions import Key
from backend.chain.demo_world import LEADER, account_roles
from backend.chain.node import free_port
from backend.config import load_settings
from tests.backend.helpers import run_scenario

REPO_ROOT = Path(__file__).resolve().parents[3]


def _wait_for(predicate, timeout: float = 60.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out; last answer: {last!r}")


def test_app__health_reports_store_chain_and_indexer_lag(anvil_chain, tmp_path):
    run_scenario(anvil_chain)
    deployment_file = tmp_path / "deployment.json"
    anvil_chain.deployment.save(deployment_file)
    settings = load_settings(
        rpc_url=anvil_chain.node.url,
        deployment_file=deployment_file,
        data_dir=tmp_path / "data",
        confirmations=1,
        poll_interval=0.05,
    )
    with TestClient(create_app(settings)) as client:

        def caught_up():
            body = client.get("/v1/health").json()
            return body if body["indexer"]["lag"] == 1 else None

        body = _wait_for(caught_up)
        assert body["status"] == "alive" and body["ready"] is True
        assert body["store"] == {"ok": True, "backend": "sqlite", "error": None}
        assert body["chain"]["head"] == anvil_chain.head()
        assert body["indexer"]["cursor"] == anvil_chain.head() - 1
        assert body["indexer"]["running"] is True
        assert body["indexer"]["events_indexed"] > 0

        anvil_chain.node.stop()
        response = client.get("/v1/health")
        assert response.status_code == 200  # alive: liveness does not depend on the node
        assert response.json()["ready"] is False
        assert response.json()["chain"]["ok"] is False
    assert (tmp_path / "data" / "copyvault.db").is_file()


def test_serve_local__starts_anvil_deploys_and_serves_on_sqlite(tmp_path):
    port = free_port()
    env = os.environ | {"COPYVAULT_DATA_DIR": str(tmp_path / "data")}
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve", "--local", "--port", str(port)],
        cwd=tmp_path,  # nothing but the command: no deployment file, no database
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def healthy():
            assert process.poll() is None, process.stdout.read().decode()
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).json()
            except httpx.HTTPError:
                return None
            ok = body["ready"] and body["indexer"]["lag"] == 0
            return body if ok and body["indexer"]["events_indexed"] > 0 else None

        body = _wait_for(healthy, timeout=120, every=0.25)
        assert body["store"]["backend"] == "sqlite"
        assert (tmp_path / "data" / "local" / "copyvault.db").is_file()
        assert (tmp_path / "data" / "local" / "deployment.json").is_file()
        # The demo's world is seeded and indexed: its seven vaults, the leader registered.
        base = f"http://127.0.0.1:{port}"
        vaults = httpx.get(f"{base}/v1/vaults", timeout=5).json()["items"]
        assert len(vaults) == 7
        leader = Key.anvil(LEADER).address
        assert httpx.get(f"{base}/v1/leaders/{leader}", timeout=5).json()["registered"]
        assert httpx.get(f"{base}/docs", timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    said = process.stdout.read().decode()
    assert f"the web app: http://127.0.0.1:{port}/" in said
    assert "relayer running" in said
    for address, role in account_roles():
        assert f"{address}  {role}" in said
    # anvil went with it: nothing is left in the command's process group.
    time.sleep(0.5)
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        pass
    else:
        os.killpg(process.pid, signal.SIGKILL)
        raise AssertionError("serve --local left processes behind")
