"""A local anvil node as a subprocess: for `copyvault node`, `copyvault serve --local`, tests and
benchmarks. anvil comes from the project's npm packages (node_modules/.bin/anvil), else from PATH.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import requests

from backend.exceptions import ChainUnavailableError

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
ANVIL_CHAIN_ID: Final = 31_337


def find_anvil() -> str:
    local = REPO_ROOT / "node_modules" / ".bin" / "anvil"
    if local.exists():
        return str(local)
    found = shutil.which("anvil")
    if found is None:
        raise ChainUnavailableError(
            "anvil not found: run the set-up (make setup) to install the npm packages"
        )
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def anvil_command(
    port: int,
    host: str = "127.0.0.1",
    *,
    block_time: float | None = None,
    accounts: int = 10,
    extra: Sequence[str] = (),
) -> list[str]:
    cmd = [find_anvil(), "--host", host, "--port", str(port), "--accounts", str(accounts)]
    if block_time:
        cmd += ["--block-time", str(block_time)]
    return cmd + list(extra)


def wait_for_rpc(url: str, proc: subprocess.Popen | None = None, timeout: float = 30.0) -> bool:
    """Whether `url` answers eth_chainId within `timeout` (False early if `proc` exits)."""
    end = time.monotonic() + timeout
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            if requests.post(url, json=body, timeout=2).json().get("result"):
                return True
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.05)
    return False


@dataclass
class AnvilNode:
    url: str
    port: int
    process: subprocess.Popen

    def stop(self) -> None:
        """Stop this node (only this process)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_anvil(
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    block_time: float | None = None,
    accounts: int = 10,
    extra: Sequence[str] = (),
    attempts: int = 3,
) -> AnvilNode:
    """Start anvil (on a free port unless `port` is given) and wait until it answers."""
    last = ""
    for _ in range(attempts):
        chosen = port or free_port(host)
        cmd = anvil_command(
            chosen, host, block_time=block_time, accounts=accounts, extra=[*extra, "--silent"]
        )
        with tempfile.TemporaryFile() as errors:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errors)
            url = f"http://{host}:{chosen}"
            if wait_for_rpc(url, proc):
                return AnvilNode(url, chosen, proc)
            node = AnvilNode(url, chosen, proc)
            node.stop()
            errors.seek(0)
            last = errors.read()[-500:].decode(errors="replace")
        if port is not None:
            break
    raise ChainUnavailableError(f"anvil did not start: {last or 'no output'}")


@contextmanager
def anvil(**kwargs) -> Iterator[AnvilNode]:
    """A running anvil for the duration of the block; stopped (this process only) afterwards."""
    node = start_anvil(**kwargs)
    try:
        yield node
    finally:
        node.stop()
