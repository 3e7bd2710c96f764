"""API processes claim CPUs of their own (backend/api/affinity.py): two processes never share one,
every thread of a pinned process runs on its CPU, a process that finds every CPU taken is left
alone, and a CPU comes free when its process ends."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from backend.config import Settings
from tests.utils.server_process import REPO_ROOT

CPUS = sorted(os.sched_getaffinity(0))
pytestmark = pytest.mark.skipif(len(CPUS) < 2, reason="pinning needs at least two CPUs")

# A process that starts a thread, claims a CPU, prints what it got and what each thread may run
# on, then holds its claim until its stdin closes.
CLAIMANT = textwrap.dedent(
    """
    import os, sys, threading
    from pathlib import Path
    from backend.api.affinity import claim_cpu

    started = threading.Event()
    done = threading.Event()
    early = threading.Thread(target=lambda: (started.set(), done.wait()))
    early.start()
    started.wait()
    cpu = claim_cpu(Path(sys.argv[1]))
    threads = {sorted(os.sched_getaffinity(int(t)))[0] if len(os.sched_getaffinity(int(t))) == 1
               else "any" for t in os.listdir("/proc/self/task")}
    print(cpu, sorted(map(str, threads)), flush=True)
    sys.stdin.read()
    done.set()
    """
)


class Claimant:
    def __init__(self, lock_dir):
        self.process = subprocess.Popen(
            [sys.executable, "-c", CLAIMANT, str(lock_dir)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        cpu, _, threads = self.process.stdout.readline().partition(" ")
        self.cpu = None if cpu == "None" else int(cpu)
        self.threads = threads.strip()

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(30)


def test_claim_cpu__each_process_its_own_cpu_all_threads_pinned_the_rest_unpinned(tmp_path):
    claimants = [Claimant(tmp_path) for _ in CPUS]
    try:
        assert sorted(c.cpu for c in claimants) == CPUS  # one each, none shared
        for claimant in claimants:  # the thread started before the claim is pinned too
            assert claimant.threads == f"['{claimant.cpu}']"
        late = Claimant(tmp_path)
        try:
            assert late.cpu is None and late.threads == "['any']"  # every CPU taken: left alone
        finally:
            late.stop()
    finally:
        for claimant in claimants:
            claimant.stop()


def test_claim_cpu__a_cpu_comes_free_when_its_process_ends(tmp_path):
    first = Claimant(tmp_path)
    second = Claimant(tmp_path)
    try:
        freed = first.cpu
        first.stop()
        successor = Claimant(tmp_path)  # what uvicorn does when a worker dies: start another
        try:
            assert successor.cpu == freed and successor.cpu != second.cpu
        finally:
            successor.stop()
    finally:
        second.stop()


def test_pin_workers_setting__auto_pins_on_sqlite_only():
    postgres = "postgresql+psycopg://copyvault@db/copyvault"
    assert Settings(database_url="sqlite:///store.db").pins_api_workers is True
    assert Settings(database_url=postgres).pins_api_workers is False
    assert Settings(database_url=postgres, api_pin_workers="on").pins_api_workers is True
    assert Settings(api_pin_workers="off").pins_api_workers is False
