"""toolchain/run_tests.py (`make test`): anvil gets time to start on a busy machine, and one Ctrl-C
stops the run, stops anvil and exits non-zero.

The Ctrl-C test runs the script as `make test` does, on tests/toolchain/interrupted_run.py, and
sends SIGINT to the script's whole process group, as a terminal does.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from backend.chain.node import find_anvil

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "toolchain" / "run_tests.py"
_spec = importlib.util.spec_from_file_location("copyvault_run_tests", RUNNER)
run_tests = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = run_tests  # dataclasses look their module up there
_spec.loader.exec_module(run_tests)

# Generous bounds for a loaded machine: they only limit how long a broken script could hang.
START_DEADLINE = 600
STOP_DEADLINE = 120


def answers(url: str) -> bool:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    try:
        return "result" in requests.post(url, json=body, timeout=5).json()
    except (requests.RequestException, ValueError):
        return False


def test_start_chain__anvil_slow_to_start__is_waited_for():
    """A node silent for its first seconds (a busy machine) is waited for, not given up on."""
    anvil = find_anvil()

    def slow_anvil(port: int) -> list[str]:
        return ["sh", "-c", f'sleep 3; exec "{anvil}" --port {port} --silent']

    chain = run_tests.start_chain(slow_anvil, timeout=run_tests.DEFAULT_ANVIL_TIMEOUT)
    try:
        assert answers(chain.url)
    finally:
        chain.stop()
    assert chain.process.poll() is not None


def test_start_chain__never_answers__error_names_the_timeout_and_process_is_stopped():
    started: list[int] = []

    def silent(port: int) -> list[str]:
        started.append(port)
        return ["sleep", "600"]

    with pytest.raises(run_tests.ChainStartError, match=r"did not answer .* within 1 s"):
        run_tests.start_chain(silent, timeout=1)
    assert len(started) == 1  # silence is not retried: only an early exit is


def test_start_chain__exits_at_once__retried_then_error_with_its_output():
    def failing(port: int) -> list[str]:
        return ["sh", "-c", f"echo cannot bind {port} >&2; exit 1"]

    with pytest.raises(run_tests.ChainStartError, match="(?s)exited at start 3 times.*cannot bind"):
        run_tests.start_chain(failing, timeout=60)


def test_start_chain__interrupted_while_starting__stops_waiting_and_the_process(tmp_path):
    pid_file = tmp_path / "pid"

    def silent(port: int) -> list[str]:
        return ["sh", "-c", f'echo $$ > "{pid_file}"; exec sleep 600']

    with pytest.raises(run_tests.ChainStartError, match="interrupted"):
        # Ctrl-C once the silent "anvil" runs.
        run_tests.start_chain(silent, run_tests.DEFAULT_ANVIL_TIMEOUT, stop=pid_file.exists)
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: no such process any more


def test_default_start_timeout__well_above_apes_20_seconds():
    assert run_tests.DEFAULT_ANVIL_TIMEOUT >= 120


def test_ctrl_c__stops_the_run_and_anvil__exit_status_130(tmp_path):
    env = {**os.environ, "RUN_TESTS_MARKERS": str(tmp_path)}
    env.pop("APE_FOUNDRY_HOST", None)
    target = "tests/toolchain/interrupted_run.py"
    with (tmp_path / "output.txt").open("w+") as output:
        run = subprocess.Popen(
            [sys.executable, str(RUNNER), "--", target, "-q", "-p", "no:cacheprovider"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
        try:
            started = tmp_path / "started"
            deadline = time.monotonic() + START_DEADLINE
            while not started.exists() and run.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            assert started.exists(), "the first test never started"
            chain_url = started.read_text()
            assert answers(chain_url)

            os.killpg(run.pid, signal.SIGINT)  # what one Ctrl-C in the terminal does
            status = run.wait(timeout=STOP_DEADLINE)
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait()
        output.seek(0)
        log = output.read()

    assert status == 130, log
    assert not (tmp_path / "second-test-ran").exists(), "the run went on after Ctrl-C"
    assert not answers(chain_url), "anvil still runs after the run stopped"
    assert "interrupted; tests stopped, anvil stopped" in log
