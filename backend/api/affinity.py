"""Each API process of `copyvault serve --workers N` on a CPU of its own
(COPYVAULT_API_PIN_WORKERS).

An API process runs Python in several threads (the event loop, the blocking pool, the rate
limiter's reconciliation) that take turns holding the GIL. Left to the OS, the turns land on
different cores, and each one starts with the interpreter's hot data in the other core's cache:
on the 2-core machines of bench/intake.py an intent's EIP-712 digest cost 212 µs of CPU against
77 µs pinned, and the whole intent about half as much again (docs/performance.md). Pinned, a
process's threads share one core's caches; the processes of one server claim different CPUs, so
together they still use them all.

A CPU is claimed with an advisory lock on a file named after it (flock: the kernel releases it
when the process ends, however it ends), so a worker that uvicorn restarts takes the CPU its
predecessor left. With more API processes than CPUs, the ones that find every CPU taken are not
pinned.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

# The lock files of claimed CPUs, open for the life of the process (closing one frees its CPU).
_claimed: list[IO[str]] = []


def claim_cpu(lock_dir: Path) -> int | None:
    """Pin every thread of this process to the first CPU (of those it may run on) that no other
    process claimed through `lock_dir`; the CPU, or None when there is none to claim (fewer than
    two CPUs, or all claimed)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    lock_dir.mkdir(parents=True, exist_ok=True)
    for cpu in cpus:
        handle = (lock_dir / f"api-cpu-{cpu}.lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _claimed.append(handle)
        _pin_all_threads(cpu)
        return cpu
    return None


def _pin_all_threads(cpu: int) -> None:
    """sched_setaffinity(0) pins the calling thread only (threads started later inherit it):
    every thread that already exists is pinned too."""
    for task in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(task), {cpu})
        except ProcessLookupError:  # the thread ended meanwhile
            continue


def pin_api_process(lock_dir: Path) -> None:
    cpu = claim_cpu(lock_dir)
    if cpu is None:
        log.info("API process %d: not pinned (no CPU left to claim)", os.getpid())
    else:
        log.info("API process %d pinned to CPU %d", os.getpid(), cpu)
