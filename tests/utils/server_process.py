"""The real server for the demo and the benchmarks: `python -m backend.cli serve` as its own
process, as an operator runs it, on a given node, deployment and store; optionally with the
in-process relayer signing with an AES-256-GCM key file written for the run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

from backend.chain.actions import Key
from backend.chain.deploy import Deployment
from backend.chain.node import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 120
UNREFUSING_RATE = "1000000/second"


def server_env(
    rpc_url: str,
    deployment: Deployment,
    folder: Path,
    database_url: str,
    relayer: Key | None,
    settings: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a server on this node and store; none of the caller's COPYVAULT_*, but
    `settings` (COPYVAULT_* names) on top of the defaults here."""
    from backend.security.encryption import generate_secrets_key
    from backend.security.relayer_key import write_encrypted_key

    deployment_file = folder / "deployment.json"
    deployment.save(deployment_file)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COPYVAULT_")} | {
        "COPYVAULT_RPC_URL": rpc_url,
        "COPYVAULT_DEPLOYMENT_FILE": str(deployment_file),
        "COPYVAULT_DATABASE_URL": database_url,
        "COPYVAULT_DATA_DIR": str(folder / "data"),
        "COPYVAULT_CONFIRMATIONS": "0",
        "COPYVAULT_RELAYER_CONFIRMATIONS": "0",
        "COPYVAULT_POLL_INTERVAL": "0.2",
        "COPYVAULT_API_PORT": str(free_port()),
        # The benchmarks' load comes from one address: the rate limits stay on the path (their
        # cost is measured) but never refuse; a run about refusals passes its own `settings`.
        "COPYVAULT_RATE_LIMIT_PER_ADDRESS": UNREFUSING_RATE,
        "COPYVAULT_RATE_LIMIT_PER_CREDENTIAL": UNREFUSING_RATE,
        "COPYVAULT_RATE_LIMIT_PER_LEADER": UNREFUSING_RATE,
        "COPYVAULT_API_MAX_CONNECTIONS_PER_CLIENT": "1024",
    }
    if relayer is not None:
        secrets_key = generate_secrets_key()
        key_file = folder / "relayer-key.json"
        write_encrypted_key(key_file, relayer.private_key, bytes.fromhex(secrets_key))
        env |= {
            "COPYVAULT_RELAYER_ENABLED": "true",
            "COPYVAULT_RELAYER_KEY_FILE": str(key_file),
            "COPYVAULT_SECRETS_KEY": secrets_key,
        }
    return env | dict(settings or {})


def tail(path: Path, chars: int = 3_000) -> str:
    return path.read_text(errors="replace")[-chars:]


@contextmanager
def running_server(
    rpc_url: str,
    deployment: Deployment,
    folder: Path,
    database_url: str,
    *,
    relayer: Key | None = None,
    serve_args: tuple[str, ...] = (),
    timeout: float = 30,
    settings: Mapping[str, str] | None = None,
) -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    """(a client on the healthy server, facts about it); stopped with SIGINT at the end."""
    env = server_env(rpc_url, deployment, folder, database_url, relayer, settings)
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", *serve_args],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{env['COPYVAULT_API_PORT']}"
    api = httpx.Client(base_url=url, timeout=timeout)
    try:
        _wait_healthy(api, process, log)
        yield api, {"url": url, "pid": process.pid, "log": log}
    finally:
        api.close()
        _stop(process)


T = TypeVar("T")


def poll_until(check: Callable[[], T], seconds: float, every: float = 0.2) -> T | None:
    """The first truthy answer of `check`, asked every `every` seconds for up to `seconds`; None
    when the time runs out (the caller says what did not happen)."""
    end = time.monotonic() + seconds
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() >= end:
            return None
        time.sleep(every)


def _wait_healthy(api: httpx.Client, process: subprocess.Popen, log: Path) -> None:
    end = time.monotonic() + START_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{tail(log)}")
        try:
            if api.get("/v1/health").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > end:
            raise RuntimeError(f"the server did not become healthy:\n{tail(log)}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def indexed_through(api: httpx.Client, block: int) -> bool:
    cursor = api.get("/v1/health").json()["indexer"]["cursor"]
    return (cursor or 0) >= block
