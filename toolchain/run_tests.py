"""Run the test suite with Ape on an anvil this script owns (`make test`).

    python toolchain/run_tests.py [--anvil-timeout SECONDS] [--lane NAME] [-- ape-test-arguments...]

Two faults of letting `ape test` start anvil itself, which this fixes:

- Ape gives anvil 20 seconds to answer (`SubprocessProvider.start(timeout=20)`, not configurable
  in ape-foundry 0.8.12, whose `process_attempts` retries do not apply to `host: auto`); on a busy
  machine a run failed before its first test (RPCTimeoutError, as in ApeWorX/ape issue 2567).
  Here anvil gets --anvil-timeout (default 180 s) and the run fails early, naming the cause, only
  if anvil exits or stays silent that long.
- Ctrl-C reaches every process of the terminal's foreground group: anvil died at once while the
  tests went on failing against it. Here anvil runs in a session of its own, the terminal's
  Ctrl-C reaches only this script and `ape test`; Ape stops the run, and this script makes sure
  it does (terminate after a grace period, kill on a second Ctrl-C), stops anvil and exits 130.

anvil is started with the very command ape-foundry would use (its `build_command()`: the test
mnemonic, account count and balance of ape-config.yaml), and `ape test` connects to it through
ape-foundry's APE_FOUNDRY_HOST. tests/conftest.py removes that variable once connected, so
processes the tests start (ape run, copyvault) start chains of their own.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `backend` when run as a script

from backend.chain.node import free_port, wait_for_rpc  # noqa: E402
from toolchain.lanes import LANES, lane_arguments  # noqa: E402

NETWORK = "ethereum:local:foundry"
DEFAULT_ANVIL_TIMEOUT = 180.0
# After Ctrl-C: how long `ape test` may take to stop (it prints its summary) before SIGTERM, and
# then before SIGKILL.
GRACE_SECONDS = 30.0
TERMINATE_SECONDS = 10.0
# A signal this soon after the first is the same Ctrl-C relayed by a parent (make, timeout), not
# the user pressing again to force the stop.
SAME_INTERRUPT_SECONDS = 1.0
PORT_ATTEMPTS = 3


class ChainStartError(RuntimeError):
    """anvil exited or did not answer in time."""


def ape_anvil_command(port: int) -> list[str]:
    """The anvil command line ape-foundry builds for the test network, on `port`."""
    from ape import networks  # deferred: importing Ape takes seconds

    provider = networks.get_provider_from_choice(NETWORK)
    provider._host = f"http://127.0.0.1:{port}"  # build_command() reads the port from it
    return provider.build_command()


def stop_process(process: subprocess.Popen, timeout: float = TERMINATE_SECONDS) -> None:
    """SIGTERM, then SIGKILL after `timeout`; returns once the process is gone."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Chain:
    url: str
    process: subprocess.Popen

    def stop(self) -> None:
        stop_process(self.process)


def answers_within(
    url: str, process: subprocess.Popen, timeout: float, stop: Callable[[], bool]
) -> bool:
    """Whether anvil answers at `url` within `timeout` s; False early if it exits or on `stop()`."""
    deadline = time.monotonic() + timeout
    while not stop() and process.poll() is None:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        # In slices of a second, so that a Ctrl-C during a slow start is not left waiting.
        if wait_for_rpc(url, process, timeout=min(1.0, left)):
            return True
    return False


def start_chain(
    command_for_port: Callable[[int], list[str]],
    timeout: float,
    stop: Callable[[], bool] = lambda: False,
) -> Chain:
    """Start anvil in its own session (out of reach of the terminal's Ctrl-C) and wait for it.

    A process that exits early is retried on another port (a free port can be taken between
    choosing it and anvil binding it); one that stays silent for `timeout` seconds is an error,
    and so is `stop()` turning true (Ctrl-C) before it answers.
    """
    last_output = ""
    for _ in range(PORT_ATTEMPTS):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with tempfile.TemporaryFile() as output:
            process = subprocess.Popen(
                command_for_port(port),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            if answers_within(url, process, timeout, stop):
                return Chain(url, process)
            exited = process.poll() is not None and not stop()
            stop_process(process)
            output.seek(0)
            last_output = output.read()[-2_000:].decode(errors="replace").strip()
        if stop():
            raise ChainStartError("interrupted while anvil was starting")
        if not exited:
            raise ChainStartError(
                f"anvil did not answer at {url} within {timeout:g} s "
                "(raise it with --anvil-timeout, or ANVIL_START_TIMEOUT=... for make)"
                + (f"; its output:\n{last_output}" if last_output else "")
            )
    raise ChainStartError(
        f"anvil exited at start {PORT_ATTEMPTS} times; last output:\n{last_output}"
    )


@dataclass
class Interruptions:
    """Ctrl-C (SIGINT) and SIGTERM received while the tests run."""

    first_at: float | None = None
    forced: bool = False
    signals: list[int] = field(default_factory=list)

    def __call__(self, signum: int, _frame) -> None:
        self.signals.append(signum)
        now = time.monotonic()
        if self.first_at is None:
            self.first_at = now
        elif now - self.first_at > SAME_INTERRUPT_SECONDS:
            self.forced = True


def supervise(tests: subprocess.Popen, interruptions: Interruptions) -> int:
    """Wait for `ape test`; once interrupted, make sure it stops. Its exit status."""
    terminated = False
    while True:
        try:
            return tests.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
        if interruptions.first_at is None:
            continue
        waited = time.monotonic() - interruptions.first_at
        if interruptions.forced or waited > GRACE_SECONDS + TERMINATE_SECONDS:
            tests.kill()
        elif waited > GRACE_SECONDS and not terminated:
            tests.terminate()
            terminated = True


def ape_executable() -> str:
    """The venv's `ape` beside this Python, so a run without the venv on PATH works too."""
    beside = Path(sys.executable).with_name("ape")
    return str(beside) if beside.exists() else "ape"


def run(ape_args: Sequence[str], anvil_timeout: float) -> int:
    # Importing Ape installs its own SIGINT handler (sys.exit(130)): import it first, then ours.
    import ape  # noqa: F401

    interruptions = Interruptions()
    previous = {s: signal.signal(s, interruptions) for s in (signal.SIGINT, signal.SIGTERM)}
    chain = None
    try:
        print(f"run_tests: starting anvil (waiting up to {anvil_timeout:g} s)", flush=True)
        chain = start_chain(ape_anvil_command, anvil_timeout, lambda: bool(interruptions.signals))
        print(f"run_tests: anvil at {chain.url}; ape test {' '.join(ape_args)}", flush=True)
        if interruptions.signals:  # Ctrl-C just as anvil came up: run nothing
            raise ChainStartError("interrupted")
        env = {**os.environ, "APE_FOUNDRY_HOST": chain.url}
        command = [ape_executable(), "test", "--network", NETWORK, *ape_args]
        tests = subprocess.Popen(command, env=env)
        status = supervise(tests, interruptions)
    except ChainStartError as error:
        if not interruptions.signals:
            print(f"run_tests: error: {error}", file=sys.stderr)
            return 1
    finally:
        if chain is not None:
            chain.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if interruptions.signals:
        print("run_tests: interrupted; tests stopped, anvil stopped", file=sys.stderr)
        return 128 + interruptions.signals[0]
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run `ape test` on an anvil started here.",
        epilog="Arguments after -- go to `ape test` (paths, -k, -x, --gas, ...).",
    )
    parser.add_argument(
        "--anvil-timeout",
        type=float,
        default=DEFAULT_ANVIL_TIMEOUT,
        help="seconds anvil may take to answer at start (default: %(default)g)",
    )
    parser.add_argument(
        "--lane",
        choices=sorted(LANES),
        help="run one lane of the suite (toolchain/lanes.py); arguments after -- are added",
    )
    args, ape_args = parser.parse_known_args(argv)
    if ape_args[:1] == ["--"]:
        ape_args = ape_args[1:]
    if args.lane:
        ape_args = [*ape_args, *lane_arguments(args.lane)]
    return run(ape_args, args.anvil_timeout)


if __name__ == "__main__":
    sys.exit(main())
